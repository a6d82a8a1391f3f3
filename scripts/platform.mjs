// Host platform helpers shared by scripts/setup.mjs and scripts/pack-local.mjs. Plain Node, no deps.
import { existsSync } from 'node:fs'

/** True on a musl libc Linux (Alpine); napi-rs' loader makes the same distinction. */
export function isMusl() {
  if (process.platform !== 'linux') return false
  const report = typeof process.report?.getReport === 'function' ? process.report.getReport() : undefined
  if (report?.header) return !report.header.glibcVersionRuntime
  return existsSync('/etc/alpine-release')
}

/**
 * The `platformArchABI` suffix `napi build --platform` gives the addon on this host, e.g.
 * `linux-x64-gnu`, `linux-arm64-musl`, `darwin-arm64`, `win32-x64-msvc`.
 */
export function hostPlatformArchABI() {
  const { platform, arch } = process
  if (platform === 'win32') return `win32-${arch}-msvc`
  if (platform === 'linux') return `linux-${arch}-${isMusl() ? 'musl' : 'gnu'}`
  return `${platform}-${arch}`
}
