#!/usr/bin/env node
// Release gate: run after `napi create-npm-dirs` + `napi artifacts`, before `napi prepublish`.
// For every napi target in package.json, npm/<platform>/ must hold a package.json that napi would
// generate for that target (name, version = root version, main, files, os/cpu/libc) and exactly one
// binary, `<binaryName>.<platform>.node`, which must really be a binary for that platform:
//
//   - object format and machine: ELF x86-64/AArch64, Mach-O x86_64/arm64, PE AMD64/ARM64;
//   - linux-*-gnu:  links glibc, and needs no symbol version newer than --max-glibc (default 2.17,
//                   the `--use-napi-cross` floor; a newer one means "GLIBC_2.xx not found" for users);
//   - linux-*-musl: has no glibc symbol versions and no ld-linux / libc.so.6 reference (a glibc
//                   binary under a musl name fails on Alpine: BoundaryML/baml#4355).
//
// Also: on a tag build (GITHUB_REF_TYPE=tag), the tag must be `v<version>`.
//
// Usage: node scripts/check-release.mjs [--npm-dir npm] [--max-glibc 2.17] [--allow-missing]
//   --allow-missing  only check the targets whose npm/<platform>/ has a binary (local builds)
import { existsSync, readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { readNapiConfig } from '@napi-rs/cli'

const root = fileURLToPath(new URL('..', import.meta.url))
const argv = process.argv.slice(2)
const opt = (name, dflt) => {
  const i = argv.indexOf(name)
  return i >= 0 ? argv[i + 1] : dflt
}
const npmDir = join(root, opt('--npm-dir', 'npm'))
const maxGlibc = opt('--max-glibc', '2.17')
const allowMissing = argv.includes('--allow-missing')

const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
const { packageName, binaryName, targets } = await readNapiConfig(join(root, 'package.json'))

const problems = []
const rows = []

const ver = (s) => s.split('.').map(Number)
const newer = (a, b) => {
  const [x, y] = [ver(a), ver(b)]
  for (let i = 0; i < Math.max(x.length, y.length); i++) if ((x[i] ?? 0) !== (y[i] ?? 0)) return (x[i] ?? 0) > (y[i] ?? 0)
  return false
}

/** Object format and machine of a binary: e.g. { format: 'elf', arch: 'x64' }. */
function identify(buf) {
  if (buf.length >= 20 && buf.readUInt32BE(0) === 0x7f454c46) {
    const little = buf[5] === 1
    const machine = little ? buf.readUInt16LE(18) : buf.readUInt16BE(18)
    return { format: 'elf', arch: { 62: 'x64', 183: 'arm64', 40: 'arm', 3: 'ia32' }[machine] ?? `e_machine ${machine}` }
  }
  if (buf.length >= 8 && buf.readUInt32LE(0) === 0xfeedfacf) {
    const cpu = buf.readUInt32LE(4)
    return { format: 'macho', arch: { 0x01000007: 'x64', 0x0100000c: 'arm64' }[cpu] ?? `cputype 0x${cpu.toString(16)}` }
  }
  if (buf.length >= 8 && buf.readUInt32BE(0) === 0xcafebabe) return { format: 'macho-universal', arch: 'universal' }
  if (buf.length >= 0x40 && buf.toString('latin1', 0, 2) === 'MZ') {
    const pe = buf.readUInt32LE(0x3c)
    if (buf.length >= pe + 6 && buf.toString('latin1', pe, pe + 4) === 'PE\0\0') {
      const machine = buf.readUInt16LE(pe + 4)
      return { format: 'pe', arch: { 0x8664: 'x64', 0xaa64: 'arm64', 0x14c: 'ia32' }[machine] ?? `machine 0x${machine.toString(16)}` }
    }
  }
  return { format: 'unknown', arch: 'unknown' }
}

const expectedFormat = { linux: 'elf', darwin: 'macho', win32: 'pe' }
const expectedLibc = { gnu: 'glibc', musl: 'musl' }

for (const t of targets) {
  const abi = t.platformArchABI
  const dir = join(npmDir, abi)
  const bad = (msg) => problems.push(`${abi}: ${msg}`)
  const binary = `${binaryName}.${abi}.node`
  const nodeFiles = existsSync(dir) ? readdirSync(dir).filter((f) => f.endsWith('.node')) : []
  if (allowMissing && nodeFiles.length === 0) {
    rows.push({ platform: abi, binary: '(skipped: no binary)', format: '', glibc: '' })
    continue
  }
  if (!existsSync(join(dir, 'package.json'))) {
    bad(`npm/${abi}/package.json is missing (run \`napi create-npm-dirs\`)`)
    continue
  }
  const p = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'))
  if (p.name !== `${packageName}-${abi}`) bad(`name is ${p.name}, expected ${packageName}-${abi}`)
  if (p.version !== pkg.version) bad(`version is ${p.version}, root package is ${pkg.version}`)
  if (p.main !== binary) bad(`main is ${p.main}, expected ${binary}`)
  if (!Array.isArray(p.files) || !p.files.includes(binary)) bad(`files does not include ${binary}`)
  if (JSON.stringify(p.os) !== JSON.stringify([t.platform])) bad(`os is ${JSON.stringify(p.os)}, expected ["${t.platform}"]`)
  if (JSON.stringify(p.cpu) !== JSON.stringify([t.arch])) bad(`cpu is ${JSON.stringify(p.cpu)}, expected ["${t.arch}"]`)
  if (t.platform === 'linux' && expectedLibc[t.abi] && JSON.stringify(p.libc) !== JSON.stringify([expectedLibc[t.abi]]))
    bad(`libc is ${JSON.stringify(p.libc)}, expected ["${expectedLibc[t.abi]}"] (npm skips a package whose libc field is wrong)`)

  if (nodeFiles.length !== 1 || nodeFiles[0] !== binary) {
    bad(`expected exactly one binary, ${binary}; found ${nodeFiles.length ? nodeFiles.join(', ') : 'none'}`)
    if (!nodeFiles.includes(binary)) continue
  }
  const buf = readFileSync(join(dir, binary))
  const id = identify(buf)
  if (id.format !== expectedFormat[t.platform]) bad(`${binary} is ${id.format}, expected ${expectedFormat[t.platform]}`)
  if (id.arch !== t.arch && id.arch !== 'universal') bad(`${binary} is built for ${id.arch}, expected ${t.arch}`)

  let glibc = ''
  if (id.format === 'elf') {
    const text = buf.toString('latin1')
    const versions = [...new Set([...text.matchAll(/GLIBC_(\d+\.\d+(?:\.\d+)?)/g)].map((m) => m[1]))]
    const newest = versions.reduce((a, b) => (newer(b, a) ? b : a), '0')
    glibc = versions.length ? `max GLIBC_${newest}` : 'none'
    if (t.abi === 'gnu') {
      if (!versions.length && !/libc\.so\.6/.test(text)) bad(`${binary} does not link glibc`)
      if (newer(newest, maxGlibc)) bad(`${binary} needs GLIBC_${newest}, newer than the ${maxGlibc} floor (build with --use-napi-cross)`)
    } else if (t.abi === 'musl') {
      if (versions.length) bad(`${binary} references glibc symbol versions (GLIBC_${newest}): a glibc build under a musl name`)
      if (/ld-linux[-\w.]*\.so|libc\.so\.6/.test(text)) bad(`${binary} references ld-linux / libc.so.6: a glibc build under a musl name`)
    }
  }
  rows.push({ platform: abi, binary: `${binary} (${(buf.length / 1e6).toFixed(1)} MB)`, format: `${id.format}/${id.arch}`, glibc })
}

const refType = process.env.GITHUB_REF_TYPE
const refName = process.env.GITHUB_REF_NAME
if (refType === 'tag' && refName !== `v${pkg.version}`) problems.push(`tag ${refName} does not match package.json version ${pkg.version} (expected v${pkg.version})`)

console.table(rows)
if (problems.length) {
  console.error(`release gate: ${problems.length} problem(s):\n  - ${problems.join('\n  - ')}`)
  process.exit(1)
}
console.log(`release gate: ${rows.length} platform package(s) OK for ${pkg.name}@${pkg.version}`)
