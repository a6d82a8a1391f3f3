#!/usr/bin/env node
// The one set-up step every command starts with (`npm test`, `npm run demo`, `npm run bench`, CI):
//
//   1. install npm dependencies (`npm ci` when package-lock.json exists, else `npm install`) when
//      node_modules is missing or differs from package-lock.json (compared entry by entry with
//      npm's own record of what it installed, node_modules/.package-lock.json, so editing scripts
//      in package.json does not trigger a reinstall). A lockfile that no longer matches
//      package.json is an error under CI=true and an `npm install` (lockfile update) otherwise.
//      If `npm ci` rejects the lockfile only for missing optional platform entries (npm/cli#4828),
//      `npm install` installs the same locked versions instead;
//   2. check that `cargo` exists (the addon is built from source in this repo);
//   3. build the native addon (`npm run build:native`) when Rust sources or Cargo files are newer
//      than the last build of `lumos.<platform>.node`;
//   4. build the TypeScript facade (`npm run build:ts`) when index.ts / ts/*.ts are newer than
//      index.js.
//
// Idempotent and quick (well under a second) when nothing changed. Plain Node, no dependencies.
//
// Flags:   --dry-run   print what would run, change nothing (exit 0)
//          --force     rebuild the addon and the facade even if they look up to date
//          --no-native skip the addon (CI test jobs that download a prebuilt one; no cargo needed)
//          --deps-only only the npm dependencies
// Env:     LUMOS_NATIVE_PROFILE=debug   build with `build:native:debug` instead of `build:native`
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import { hostPlatformArchABI } from './platform.mjs'

const started = Date.now()
const root = fileURLToPath(new URL('..', import.meta.url))
const args = new Set(process.argv.slice(2))
const dryRun = args.has('--dry-run')
const force = args.has('--force')
const depsOnly = args.has('--deps-only')
const noNative = depsOnly || args.has('--no-native')
const isWindows = process.platform === 'win32'

const log = (msg) => console.log(`[setup] ${msg}`)
const fail = (msg) => {
  console.error(`[setup] error: ${msg}`)
  process.exit(1)
}
for (const a of args) if (!['--dry-run', '--force', '--deps-only', '--no-native'].includes(a)) fail(`unknown flag ${a}`)
const at = (...p) => join(root, ...p)
const mtime = (p) => {
  try {
    return statSync(p).mtimeMs
  } catch {
    return 0
  }
}
const readJson = (p) => {
  try {
    return JSON.parse(readFileSync(p, 'utf8'))
  } catch {
    return undefined
  }
}
const writeJson = (p, value) => {
  mkdirSync(join(p, '..'), { recursive: true })
  writeFileSync(p, JSON.stringify(value, null, 2) + '\n')
}

// Newest mtime of the files under `dir` accepted by `keep`, skipping build output and deps.
const SKIP_DIRS = new Set(['target', 'node_modules', '.git'])
function newest(dir, keep = () => true) {
  let max = 0
  let entries
  try {
    entries = readdirSync(dir, { withFileTypes: true })
  } catch {
    return 0
  }
  for (const e of entries) {
    const p = join(dir, e.name)
    if (e.isDirectory()) {
      if (!SKIP_DIRS.has(e.name)) max = Math.max(max, newest(p, keep))
    } else if (keep(e.name)) {
      max = Math.max(max, mtime(p))
    }
  }
  return max
}

/** Run a command with inherited stdio (stderr is also captured when `captureStderr`); exits on
 *  failure unless `mayFail`, in which case the result is returned. */
function run(cmd, cmdArgs, what, { mayFail = false, captureStderr = false } = {}) {
  const line = [cmd, ...cmdArgs].join(' ')
  if (dryRun) {
    log(`would run: ${line}  (${what})`)
    return { status: 0, stderr: '' }
  }
  log(`${what}: ${line}`)
  const t0 = Date.now()
  // npm is a .cmd shim on Windows and needs a shell there.
  const r = spawnSync(cmd, cmdArgs, {
    cwd: root,
    stdio: ['inherit', 'inherit', captureStderr ? 'pipe' : 'inherit'],
    shell: isWindows,
    encoding: 'utf8',
    maxBuffer: 64 * 1024 * 1024,
  })
  if (captureStderr && r.stderr) process.stderr.write(r.stderr)
  if (r.error) fail(`could not start \`${line}\`: ${r.error.message}`)
  if (r.status !== 0) {
    if (mayFail) return r
    fail(`\`${line}\` failed with ${r.signal ?? `exit code ${r.status}`}`)
  }
  log(`${what}: done in ${((Date.now() - t0) / 1000).toFixed(1)}s`)
  return r
}

const pkg = readJson(at('package.json'))
if (!pkg) fail(`cannot read ${at('package.json')}`)
let did = 0

// 1. npm dependencies ---------------------------------------------------------------------------
const DEP_FIELDS = ['dependencies', 'devDependencies', 'optionalDependencies', 'peerDependencies']
const sortedEntries = (o) => JSON.stringify(Object.entries(o ?? {}).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
const depName = (key) => key.slice(key.lastIndexOf('node_modules/') + 'node_modules/'.length)

/** Why package.json's dependency fields disagree with package-lock.json, or undefined. */
function lockStale(lock) {
  if (!lock?.packages?.['']) return 'package-lock.json has no lockfileVersion 2/3 root entry'
  const rootEntry = lock.packages['']
  for (const f of DEP_FIELDS) if (sortedEntries(pkg[f]) !== sortedEntries(rootEntry[f])) return `package.json ${f} differ from package-lock.json`
  return undefined
}

/** Why node_modules (npm's hidden lockfile) differs from package-lock.json, or undefined. */
function installStale(lock, installed) {
  const want = lock.packages
  const have = installed?.packages ?? {}
  for (const [key, entry] of Object.entries(want)) {
    if (!key.includes('node_modules/')) continue // the root and workspace folders
    const got = have[key]
    if (!got) {
      if (entry.optional || entry.devOptional) continue // e.g. other platforms' binaries
      return `${depName(key)} is not installed`
    }
    const [a, b] = [got.version ?? got.resolved, entry.version ?? entry.resolved]
    if (a !== b) return `${depName(key)} is ${a ?? '?'} in node_modules, ${b ?? '?'} in package-lock.json`
  }
  for (const key of Object.keys(have)) if (!(key in want)) return `${depName(key)} is installed but not in package-lock.json`
  return undefined
}

{
  const lockPath = at('package-lock.json')
  const hidden = at('node_modules', '.package-lock.json') // what npm installed, written by every install
  const lock = existsSync(lockPath) ? readJson(lockPath) : undefined
  let reason
  let cmd = lock ? 'ci' : 'install'
  if (lock && lockStale(lock)) {
    // `npm ci` refuses a lockfile that does not match package.json.
    const why = lockStale(lock)
    if (process.env.CI) fail(`${why}: run \`npm install\` and commit package-lock.json`)
    reason = `${why}; updating package-lock.json (commit it)`
    cmd = 'install'
  } else if (!existsSync(at('node_modules'))) reason = 'node_modules is missing'
  else if (!existsSync(hidden)) reason = 'node_modules was not installed by npm'
  else if (lock) reason = installStale(lock, readJson(hidden))
  else if (mtime(at('package.json')) > mtime(hidden)) reason = 'package.json is newer than node_modules'

  if (reason) {
    const what = `installing npm dependencies (${reason})`
    const r = run('npm', [cmd, '--no-audit', '--no-fund'], what, { mayFail: cmd === 'ci', captureStderr: cmd === 'ci' })
    if (r.status !== 0) {
      // npm ci also rejects a lockfile that lacks entries for optional platform packages npm could
      // not resolve (a native package whose platform builds were not all published; npm/cli#4828,
      // #9083). `npm install` installs the same locked versions and tolerates those.
      if (!/Missing: .+ from lock file/.test(r.stderr ?? '')) fail(`\`npm ci\` failed with exit code ${r.status}`)
      log('`npm ci` rejected package-lock.json for missing optional entries; retrying with `npm install` (same locked versions)')
      run('npm', ['install', '--no-audit', '--no-fund'], what)
    }
    did++
  } else {
    log('npm dependencies up to date')
  }
}

// 2 + 3. native addon ---------------------------------------------------------------------------
if (noNative) {
  log('native addon: skipped (--no-native / --deps-only)')
} else {
  const binaryName = pkg.napi?.binaryName ?? 'index'
  const triple = hostPlatformArchABI()
  const addonName = `${binaryName}.${triple}.node`
  const addon = at(addonName)
  const debug = process.env.LUMOS_NATIVE_PROFILE === 'debug'
  const script = debug ? 'build:native:debug' : 'build:native'
  if (!pkg.scripts?.[script]) fail(`package.json has no "${script}" script`)
  // What else decides the output: the napi config and the build command.
  const configKey = JSON.stringify({ napi: pkg.napi, cmd: pkg.scripts[script] })
  const statePath = at('target', '.lumos-setup.json')
  const state = readJson(statePath)

  const rustSources = Math.max(
    newest(at('crates')),
    mtime(at('Cargo.toml')),
    mtime(at('Cargo.lock')),
    mtime(at('build.rs')),
    mtime(at('.cargo', 'config.toml')),
    mtime(at('rust-toolchain.toml')),
    mtime(at('rust-toolchain')),
  )
  const addonMtime = mtime(addon)
  // A build counts from when it *started* (sources edited during a build make it stale), as long
  // as the addon on disk is the one that build produced; otherwise trust the addon's own mtime.
  const ours = state?.addon === addonName && state.addonMtime === addonMtime
  const builtAt = ours ? Math.min(state.startedAt, addonMtime) : addonMtime

  let reason
  if (!existsSync(addon)) reason = `${addonName} is missing`
  else if (!existsSync(at('binding.js'))) reason = 'binding.js is missing'
  else if (rustSources > builtAt) reason = 'Rust sources or Cargo files changed since the last build'
  else if (ours && state.config !== configKey) reason = `the napi config or the ${script} script changed`
  else if (force) reason = '--force'

  const cargo = spawnSync('cargo', ['--version'], { encoding: 'utf8' })
  const hasCargo = !cargo.error && cargo.status === 0
  if (!hasCargo) {
    const msg =
      '`cargo` was not found on PATH. Lumos builds its native addon from Rust sources: install Rust with rustup ' +
      '(https://rustup.rs: `curl --proto =https --tlsv1.2 -sSf https://sh.rustup.rs | sh`), then open a new shell ' +
      'or run `. "$HOME/.cargo/env"`.'
    if (reason && !dryRun) fail(`${msg}\n        (needed because ${reason})`)
    log(`warning: ${msg}`)
  }

  if (reason) {
    const t0 = Date.now()
    run('npm', ['run', script], `building the native addon (${reason}; first builds take minutes)`)
    did++
    const newMtime = mtime(addon)
    if (!dryRun) {
      if (!newMtime) fail(`\`npm run ${script}\` finished but ${addonName} was not produced`)
      writeJson(statePath, { addon: addonName, addonMtime: newMtime, startedAt: t0, config: configKey })
    }
  } else {
    log(`native addon up to date (${addonName}${hasCargo ? `, ${cargo.stdout.trim()}` : ''})`)
  }
}

// 4. TypeScript facade --------------------------------------------------------------------------
{
  if (depsOnly) {
    log('TypeScript facade: skipped (--deps-only)')
  } else if (!existsSync(at('index.ts'))) {
    log('index.ts not found: skipping the TypeScript build')
  } else {
    const tsSources = Math.max(
      mtime(at('index.ts')),
      newest(at('ts'), (n) => n.endsWith('.ts') && !n.endsWith('.d.ts')),
      mtime(at('tsconfig.json')),
      mtime(at('binding.d.ts')),
    )
    let reason
    if (!existsSync(at('index.js'))) reason = 'index.js is missing'
    else if (tsSources > mtime(at('index.js'))) reason = 'index.ts, ts/*.ts, tsconfig.json or binding.d.ts changed'
    else if (force) reason = '--force'
    if (reason) {
      run('npm', ['run', 'build:ts'], `compiling the TypeScript facade (${reason})`)
      did++
    } else {
      log('TypeScript facade up to date (index.js)')
    }
  }
}

const took = ((Date.now() - started) / 1000).toFixed(1)
log(dryRun ? `dry run: ${did} step(s) would run` : `ready (${did} step(s) in ${took}s) in ${relative(process.cwd(), root) || '.'}`)
