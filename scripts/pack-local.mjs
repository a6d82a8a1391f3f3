#!/usr/bin/env node
// Pack what `npm publish` would publish, locally, for the host platform:
//
//   <out>/lumosai-core-<platform>-<version>.tgz   the platform package (npm/<platform>/ + the .node)
//   <out>/lumosai-core-<version>.tgz              the root package, with the `optionalDependencies`
//                                                 `napi prepublish` would write
//
// Usage:  node scripts/pack-local.mjs [outDir]        (default: .lumos-tmp/pack)
// Needs a built addon (`node scripts/setup.mjs`). Logs go to stderr; stdout gets one JSON line:
//   {"root": "<abs path>.tgz", "platform": "<abs path>.tgz", "platformPackage": "@lumosai/core-linux-x64-gnu", ...}
//
// The repo's package.json is never modified: the root package is staged in a temporary copy (the
// exact file list `npm pack` would take), its package.json gets the optionalDependencies, and it is
// packed from there. This mirrors `napi prepublish -t npm`: one optional dependency per napi target,
// `<packageName>-<platformArchABI>`, pinned to the root version. Platforms not published yet are
// simply skipped by npm (an optional dependency that 404s is not an error).
import { spawnSync } from 'node:child_process'
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { NapiCli, readNapiConfig } from '@napi-rs/cli'
import { hostPlatformArchABI } from './platform.mjs'

const root = fileURLToPath(new URL('..', import.meta.url))
const outDir = resolve(process.argv[2] ?? join(root, '.lumos-tmp', 'pack'))
const log = (msg) => console.error(`[pack-local] ${msg}`)
const fail = (msg) => {
  console.error(`[pack-local] error: ${msg}`)
  process.exit(1)
}
const readJson = (p) => JSON.parse(readFileSync(p, 'utf8'))

function npm(args, cwd) {
  // Under `npm run`, reuse the very npm that runs us; otherwise whatever `npm` is on PATH.
  const npmCli = process.env.npm_execpath
  const [cmd, argv, shell] =
    npmCli && /\.c?js$/.test(npmCli) ? [process.execPath, [npmCli, ...args], false] : ['npm', args, process.platform === 'win32']
  const r = spawnSync(cmd, argv, { cwd, encoding: 'utf8', shell, maxBuffer: 64 * 1024 * 1024 })
  if (r.error || r.status !== 0) fail(`npm ${args.join(' ')} (in ${cwd}) failed:\n${r.stderr || r.error?.message}`)
  return r.stdout
}
// `npm pack --json` prints a JSON array; lifecycle output could precede it, so take from the first '['.
const packJson = (stdout) => JSON.parse(stdout.slice(stdout.indexOf('[')))

const pkgPath = join(root, 'package.json')
const pkg = readJson(pkgPath)
const { packageName, binaryName, targets } = await readNapiConfig(pkgPath)
const abi = hostPlatformArchABI()
if (!targets.some((t) => t.platformArchABI === abi)) fail(`host platform ${abi} is not among the napi targets in package.json`)
const addonName = `${binaryName}.${abi}.node`
const addon = join(root, addonName)
if (!existsSync(addon)) fail(`${addonName} not found: build it first (node scripts/setup.mjs)`)
mkdirSync(outDir, { recursive: true })

// 1. The platform package -----------------------------------------------------------------------
const npmDir = join(root, 'npm')
const platformDir = join(npmDir, abi)
if (!existsSync(join(platformDir, 'package.json'))) {
  // Only linux-x64-gnu is committed; other hosts get theirs from the official generator.
  log(`npm/${abi} is not committed here: generating the platform dirs with napi create-npm-dirs`)
  await new NapiCli().createNpmDirs({ cwd: root, npmDir: 'npm' })
}
const platformPkg = readJson(join(platformDir, 'package.json'))
const platformPackage = `${packageName}-${abi}`
if (platformPkg.name !== platformPackage) fail(`npm/${abi}/package.json is named ${platformPkg.name}, expected ${platformPackage}`)
if (platformPkg.version !== pkg.version)
  fail(`npm/${abi}/package.json has version ${platformPkg.version} but package.json has ${pkg.version} (run \`npx napi version\`)`)
if (platformPkg.main !== addonName) fail(`npm/${abi}/package.json main is ${platformPkg.main}, expected ${addonName}`)
copyFileSync(addon, join(platformDir, addonName))
log(`copied ${addonName} into npm/${abi}/`)
const [platformPack] = packJson(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', outDir], platformDir))
const platformFiles = platformPack.files.map((f) => f.path)
if (platformFiles.filter((f) => f.endsWith('.node')).length !== 1 || !platformFiles.includes(addonName))
  fail(`platform tarball must hold exactly ${addonName}; it holds: ${platformFiles.join(', ')}`)
const platformTgz = join(outDir, platformPack.filename)
log(`packed ${platformPack.id} -> ${platformTgz}`)

// 2. The root package, staged with its optionalDependencies ---------------------------------------
const [dry] = packJson(npm(['pack', '--dry-run', '--json', '--ignore-scripts'], root))
const rootFiles = dry.files.map((f) => f.path)
// `files` globs that match nothing are dropped silently by npm; the entry points must be there.
const entryPoints = new Set([pkg.main, pkg.types])
const collect = (v) => {
  if (typeof v === 'string') entryPoints.add(v)
  else if (v && typeof v === 'object') Object.values(v).forEach(collect)
}
collect(pkg.exports)
for (const e of entryPoints) {
  if (!e) continue
  const p = e.replace(/^\.\//, '')
  if (p !== 'package.json' && !rootFiles.includes(p)) fail(`the root package would not contain ${p} (referenced by main/types/exports): build it first (node scripts/setup.mjs)`)
}
const bundledAddons = rootFiles.filter((f) => f.endsWith('.node'))
if (bundledAddons.length) fail(`the root package must not contain native binaries (it would shadow ${platformPackage}): ${bundledAddons.join(', ')}`)

const stage = mkdtempSync(join(tmpdir(), 'lumos-pack-root-'))
try {
  for (const f of rootFiles) {
    mkdirSync(dirname(join(stage, f)), { recursive: true })
    copyFileSync(join(root, f), join(stage, f))
  }
  // What `napi prepublish -t npm` writes (resolveRootOptionalDependencies in @napi-rs/cli).
  const optionalDependencies = { ...(pkg.optionalDependencies ?? {}) }
  for (const t of targets) {
    const name = `${packageName}-${t.platformArchABI}`
    if (optionalDependencies[name] && optionalDependencies[name] !== pkg.version)
      log(`warning: package.json pins ${name}@${optionalDependencies[name]}, replacing it with ${pkg.version}`)
    optionalDependencies[name] = pkg.version
  }
  const staged = { ...pkg, optionalDependencies }
  writeFileSync(join(stage, 'package.json'), JSON.stringify(staged, null, 2) + '\n')
  const [rootPack] = packJson(npm(['pack', '--json', '--ignore-scripts', '--pack-destination', outDir], stage))
  const rootTgz = join(outDir, rootPack.filename)
  log(`packed ${rootPack.id} (${rootPack.files.length} files, optionalDependencies: ${Object.keys(optionalDependencies).length}) -> ${rootTgz}`)
  console.log(
    JSON.stringify({
      root: rootTgz,
      platform: platformTgz,
      rootPackage: pkg.name,
      platformPackage,
      version: pkg.version,
      rootFiles: rootPack.files.map((f) => f.path),
      optionalDependencies,
    }),
  )
} finally {
  rmSync(stage, { recursive: true, force: true })
}
