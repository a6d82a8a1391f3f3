#!/usr/bin/env node
// Side-by-side benchmark: raw baseline vs Lumos vs Mastra 1.71.0, against a local mock
// OpenAI-compatible server. See README.md.
//
//   node run.mjs [--quick] [--only raw,lumos,mastra] [--scenarios s1,s2,s5] [--runs N]
//                [--seconds S] [--out FILE] [--no-write] [--wait-idle [SECONDS]] [--lumos-release]
//   node run.mjs --scenarios s4 [--s4-1m | --s4-only-1m (→ RESULTS-S4-1M.md)] [--s4-no-int8] [--s4-n N] [--s4-n-mastra N] [--s4-queries Q]
//                                         # vector store (opt-in) → RESULTS-S4.md
//   node run.mjs --scenarios s3 [--s3-n N] [--s3-n-mastra N] [--s3-generates G] [--s3-batch B] [--s3-no-memvec] [--s3-no-probe]
//                                         # agent memory (opt-in) → RESULTS-S3.md
//   node run.mjs --scenarios s6 [--seconds S]  # durable workflows (opt-in) → RESULTS-S6.md
//
// The mock server runs in its own child process; every (scenario, framework) pair runs in a fresh
// child process, one at a time (never in parallel). Results: a table on stdout, RESULTS.md (full
// runs) or .results/RESULTS-quick.md (--quick), and the raw JSON under .results/.
import { execFileSync, spawn } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

const benchDir = dirname(fileURLToPath(import.meta.url))
const repoRoot = join(benchDir, '..')

// ---------------------------------------------------------------- options
const argv = process.argv.slice(2)
const flag = (name) => argv.includes(name)
const value = (name) => {
  const i = argv.indexOf(name)
  if (i < 0) return undefined
  const v = argv[i + 1]
  if (v === undefined || v.startsWith('--')) throw new Error(`${name} needs a value`)
  return v
}
if (flag('--help') || flag('-h')) {
  console.log(readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1, 13).join('\n').replace(/^\/\/ ?/gm, ''))
  process.exit(0)
}
const quick = flag('--quick')
const ALL_FRAMEWORKS = ['raw', 'lumos', 'mastra']
const only = (value('--only') ?? ALL_FRAMEWORKS.join(',')).split(',').map((s) => s.trim()).filter(Boolean)
for (const f of only) if (!ALL_FRAMEWORKS.includes(f)) throw new Error(`--only: unknown framework ${f} (known: ${ALL_FRAMEWORKS.join(', ')})`)
const frameworks = ALL_FRAMEWORKS.filter((f) => only.includes(f))
const scenarios = (value('--scenarios') ?? 's1,s2,s5').split(',').map((s) => s.trim())
for (const s of scenarios) if (!['s1', 's2', 's3', 's4', 's5', 's6'].includes(s)) throw new Error(`--scenarios: unknown scenario ${s} (known: s1, s2, s3, s4, s5, s6)`)
const secondsOverride = value('--seconds') !== undefined ? Number(value('--seconds')) : undefined
const coldRuns = Number(value('--runs') ?? (quick ? 5 : 15))
const noWrite = flag('--no-write')
const outFile = value('--out') ?? (quick ? join(benchDir, '.results', 'RESULTS-quick.md') : join(benchDir, 'RESULTS.md'))

// Iteration budget: an op loop runs until it has done minOps ops AND `seconds` of wall time.
const MODE = quick
  ? {
      c1: { warmup: { minOps: 30, seconds: 0.5 }, minOps: 100, seconds: 2 },
      c64: { warmup: { minOps: 128, seconds: 0.5 }, minOps: 256, seconds: 2 },
      childTimeoutMs: 180_000,
    }
  : {
      c1: { warmup: { minOps: 200, seconds: 2 }, minOps: 300, seconds: 10 },
      c64: { warmup: { minOps: 640, seconds: 2 }, minOps: 640, seconds: 10 },
      childTimeoutMs: 600_000,
    }
if (secondsOverride !== undefined) {
  MODE.c1.seconds = secondsOverride
  MODE.c64.seconds = secondsOverride
}

const VARIANTS = [
  { key: 's1-c1', scenario: 's1', title: 'S1 — generate, 3 tools (model calls 2 tools, then answers), concurrency 1', cfg: { scenario: 's1', concurrency: 1, ...MODE.c1 } },
  { key: 's1-c64', scenario: 's1', title: 'S1 — generate, 3 tools (model calls 2 tools, then answers), concurrency 64', cfg: { scenario: 's1', concurrency: 64, ...MODE.c64 } },
  { key: 's2-text', scenario: 's2', title: 'S2 — stream, text only (no tools), concurrency 1', cfg: { scenario: 's2', withTools: false, concurrency: 1, ...MODE.c1 } },
  { key: 's2-tools', scenario: 's2', title: 'S2 — stream with tools (2 tool calls, then streamed answer), concurrency 1', cfg: { scenario: 's2', withTools: true, concurrency: 1, ...MODE.c1 } },
].filter((v) => scenarios.includes(v.scenario))

// ---------------------------------------------------------------- helpers
const log = (...a) => console.error('[bench]', ...a)
const hr = () => process.hrtime.bigint()
const median = (xs) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b)
  if (!s.length) return NaN
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

function startMock() {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [join(benchDir, 'mock-server.mjs'), '--port', '0'], { cwd: benchDir, stdio: ['ignore', 'pipe', 'inherit'] })
    let buf = ''
    const onData = (d) => {
      buf += d
      const m = buf.match(/LISTENING (\d+)/)
      if (m) {
        child.stdout.off('data', onData)
        resolve({ child, port: Number(m[1]) })
      }
    }
    child.stdout.on('data', onData)
    child.on('exit', (code) => reject(new Error(`mock server exited early (code ${code})`)))
    setTimeout(() => reject(new Error('mock server did not start within 10 s')), 10_000).unref()
  })
}

async function mockStats(port) {
  const r = await fetch(`http://127.0.0.1:${port}/__stats`)
  return r.json()
}
async function mockReset(port) {
  await fetch(`http://127.0.0.1:${port}/__reset`, { method: 'POST' })
}

function runChild(framework, cfg, timeoutMs) {
  const script = join(benchDir, 'runners', `${framework}.mjs`)
  return new Promise((resolve) => {
    const t0 = hr()
    const child = spawn(process.execPath, [script, JSON.stringify(cfg)], { cwd: benchDir, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    const timer = setTimeout(() => {
      err += `\n[bench] child timed out after ${timeoutMs} ms; killed`
      child.kill('SIGKILL')
    }, timeoutMs)
    child.on('exit', (code, signal) => {
      const tExit = hr()
      clearTimeout(timer)
      const line = out.split('\n').reverse().find((l) => l.startsWith('BENCH_RESULT '))
      let result
      try {
        result = line ? JSON.parse(line.slice('BENCH_RESULT '.length)) : undefined
      } catch (e) {
        result = undefined
      }
      if (!result) result = { framework, error: `child exited (code ${code}, signal ${signal}) without a result` }
      resolve({ result, spawnAt: t0, exitAt: tExit, code, stderr: err, stdout: out })
    })
  })
}

// ---------------------------------------------------------------- machine
// Fingerprint of the built JS facade + addon the Lumos children load, to detect a rebuild mid-run.
function facadeHash() {
  const h = createHash('sha1')
  const files = ['index.js', 'binding.js', ...(existsSync(join(repoRoot, 'ts')) ? readdirSync(join(repoRoot, 'ts')).filter((f) => f.endsWith('.js')).sort().map((f) => `ts/${f}`) : [])]
  const addonPath = process.env.NAPI_RS_NATIVE_LIBRARY_PATH ?? readdirSync(repoRoot).filter((f) => f.endsWith('.node')).map((f) => join(repoRoot, f))[0]
  for (const f of files) if (existsSync(join(repoRoot, f))) h.update(f).update(readFileSync(join(repoRoot, f)))
  if (addonPath && existsSync(addonPath)) h.update(readFileSync(addonPath))
  return h.digest('hex').slice(0, 12)
}

function machineInfo() {
  let cpuModel = os.cpus()[0]?.model ?? 'unknown'
  try {
    const m = readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.+)$/m)
    if (m) cpuModel = m[1].trim()
  } catch {}
  const git = (args) => {
    try {
      return execFileSync('git', args, { cwd: repoRoot, stdio: ['ignore', 'pipe', 'ignore'] }).toString().trim()
    } catch {
      return undefined
    }
  }
  const pkgVersion = (p) => {
    try {
      return JSON.parse(readFileSync(p, 'utf8')).version
    } catch {
      return undefined
    }
  }
  return {
    cpuModel,
    cores: os.availableParallelism?.() ?? os.cpus().length,
    ramGB: os.totalmem() / 1024 ** 3,
    os: `${os.type()} ${os.release()} ${os.arch()}`,
    node: process.version,
    mastra: pkgVersion(join(benchDir, 'node_modules/@mastra/core/package.json')),
    zod: pkgVersion(join(benchDir, 'node_modules/zod/package.json')),
    lumos: pkgVersion(join(repoRoot, 'package.json')),
    lumosCommit: git(['rev-parse', '--short', 'HEAD']),
    facadeHash: facadeHash(),
    lumosDirty: git(['status', '--porcelain', '--', 'crates', 'ts', 'index.ts', 'Cargo.toml']) ? true : false,
  }
}

// Share of the machine's CPU time that was busy over `ms` (from /proc/stat; undefined elsewhere).
async function cpuBusy(ms = 1000) {
  const read = () => {
    try {
      const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
      const idle = f[3] + (f[4] ?? 0)
      return { idle, total: f.reduce((a, b) => a + b, 0) }
    } catch {
      return undefined
    }
  }
  const a = read()
  await new Promise((r) => setTimeout(r, ms))
  const b = read()
  if (!a || !b || b.total === a.total) return undefined
  return 1 - (b.idle - a.idle) / (b.total - a.total)
}

// ---------------------------------------------------------------- Lumos native addon
// --lumos-release: build the addon with the release profile into bench/.results/cargo-target (so a
// debug build at the root, or a teammate's build in target/, is left alone) and make the Lumos
// children load it through napi-rs's NAPI_RS_NATIVE_LIBRARY_PATH override.
if (flag('--lumos-release') && frameworks.includes('lumos')) {
  const targetDir = join(benchDir, '.results', 'cargo-target')
  log(`building the Lumos addon (release profile) into ${relative(repoRoot, targetDir)} …`)
  const t0 = Date.now()
  execFileSync('cargo', ['build', '--release', '-p', 'lumos-node', '--lib'], { cwd: repoRoot, stdio: ['ignore', 'inherit', 'inherit'], env: { ...process.env, CARGO_TARGET_DIR: targetDir } })
  const so = join(targetDir, 'release', process.platform === 'darwin' ? 'liblumos_node.dylib' : process.platform === 'win32' ? 'lumos_node.dll' : 'liblumos_node.so')
  const dest = join(benchDir, '.results', 'lumos.release.node')
  writeFileSync(dest, readFileSync(so))
  process.env.NAPI_RS_NATIVE_LIBRARY_PATH = dest
  log(`release addon ready in ${((Date.now() - t0) / 1000).toFixed(0)} s: ${relative(repoRoot, dest)}`)
}

// Which addon the Lumos children will load, and whether it is a debug build (overflow-check panic
// messages are compiled into debug builds only).
function lumosAddon() {
  let path = process.env.NAPI_RS_NATIVE_LIBRARY_PATH
  if (!path) {
    const name = readdirSync(repoRoot).find((f) => f.startsWith('lumos.') && f.endsWith('.node'))
    path = name ? join(repoRoot, name) : undefined
  }
  if (!path || !existsSync(path)) return undefined
  const buf = readFileSync(path)
  const debug = buf.includes('attempt to add with overflow')
  return { path: relative(repoRoot, path), sizeMB: buf.length / 1048576, mtime: statSync(path).mtime.toISOString(), profile: debug ? 'debug' : 'release' }
}
const addon = frameworks.includes('lumos') ? lumosAddon() : undefined
if (addon?.profile === 'debug') log(`warning: the Lumos addon ${addon.path} is a DEBUG build — its numbers are not representative (use --lumos-release, or \`npm run build:native\` at the root)`)

// ---------------------------------------------------------------- run
const waitIdle = (() => {
  const i = argv.indexOf('--wait-idle')
  if (i < 0) return 0
  const n = Number(argv[i + 1])
  return Number.isFinite(n) && n > 0 ? n : 300
})()
if (waitIdle > 0) {
  // Wait (up to waitIdle seconds) for 3 consecutive seconds with the machine ≥ 90 % idle.
  const until = Date.now() + waitIdle * 1000
  let quiet = 0
  while (Date.now() < until && quiet < 3) {
    const b = await cpuBusy(1000)
    quiet = b !== undefined && b <= 0.1 ? quiet + 1 : 0
    if (quiet === 0) log(`waiting for an idle machine (busy ${b === undefined ? '?' : (b * 100).toFixed(0)} %) …`)
  }
}
const busyBefore = await cpuBusy(1000)
const startedAt = new Date()
const loadBefore = os.loadavg()
const machine = machineInfo()
const command = `node run.mjs ${argv.join(' ')}`.trim()
log(`mode: ${quick ? 'quick' : 'full'}; frameworks: ${frameworks.join(', ')}; scenarios: ${scenarios.join(', ')}`)
log(`machine: ${machine.cpuModel}, ${machine.cores} cores, ${machine.ramGB.toFixed(1)} GiB, node ${machine.node}; load average ${loadBefore.map((x) => x.toFixed(2)).join(' ')}`)
if (busyBefore !== undefined ? busyBefore > 0.15 : loadBefore[0] > 0.7) log(`warning: the machine is busy (${busyBefore !== undefined ? `${(busyBefore * 100).toFixed(0)} % CPU busy` : `1-min load ${loadBefore[0].toFixed(2)}`} before the run); latency and throughput numbers will be noisy`)

const pkgOf = (name) => {
  try {
    return JSON.parse(readFileSync(join(benchDir, 'node_modules', name, 'package.json'), 'utf8')).version
  } catch {
    return '–'
  }
}
// The "Machine and run" header of the opt-in scenarios' own reports (RESULTS-S3.md, RESULTS-S4.md).
const reportHeader = (id, title, rows) => [
  `# Lumos benchmark results — ${id}, ${title}`,
  '',
  `Generated by \`bench/run.mjs --scenarios ${id.toLowerCase()}\` — ${quick ? 'quick' : 'full'} mode. Every number below was measured in this run; see [README.md](README.md) for the method and caveats. The other scenarios are in [RESULTS.md](RESULTS.md).`,
  '',
  '## Machine and run',
  '',
  '| | |',
  '| --- | --- |',
  `| CPU | ${machine.cpuModel} |`,
  `| cores | ${machine.cores} |`,
  `| RAM | ${machine.ramGB.toFixed(1)} GiB |`,
  `| Node.js | ${machine.node} |`,
  `| @lumosai/core | ${machine.lumos} @ ${machine.lumosCommit}${machine.lumosDirty ? ' (uncommitted changes)' : ''}, build fingerprint ${machine.facadeHash} |`,
  `| Lumos native addon | ${addon ? `${addon.profile} build: \`${addon.path}\` (built ${addon.mtime})${addon.profile === 'debug' ? ' — **not representative**' : ''}` : '–'} |`,
  ...rows,
  `| date | ${startedAt.toISOString()} |`,
  `| command | \`cd bench && ${command}\` |`,
  `| load average before (1/5/15 min) | ${loadBefore.map((x) => x.toFixed(2)).join(' / ')}; CPU busy ${busyBefore === undefined ? '?' : `${(busyBefore * 100).toFixed(0)} %`} |`,
]

// S6 (workflows) needs no mock server; it writes its own report (RESULTS-S6.md). See
// lib/workflow-bench.mjs.
if (scenarios.includes('s6')) {
  const { runS6 } = await import('./lib/workflow-bench.mjs')
  const header = reportHeader('S6', 'durable workflows', [`| @mastra/libsql | ${pkgOf('@mastra/libsql')} (with @mastra/core ${machine.mastra}) |`])
  const s6 = await runS6({ benchDir, quick, frameworks, noWrite, header, log, seconds: secondsOverride })
  const failed = Object.values(s6).some((byImpl) => Object.values(byImpl ?? {}).some((r) => r?.error))
  if (scenarios.every((s) => s === 's6')) process.exit(failed ? 1 : 0)
}

// S4 (vector store) needs no mock server; it writes its own report (RESULTS-S4.md), linked from
// RESULTS.md. See lib/vector-bench.mjs.
if (scenarios.includes('s4')) {
  const { runS4 } = await import('./lib/vector-bench.mjs')
  const header = reportHeader('S4', 'vector store', [`| @mastra/libsql | ${pkgOf('@mastra/libsql')} (with @mastra/core ${machine.mastra}) |`, `| usearch | ${pkgOf('usearch')} |`])
  const num = (name) => (value(name) === undefined ? undefined : Number(value(name)))
  await runS4({ benchDir, quick, frameworks, million: flag('--s4-1m') || flag('--s4-only-1m'), onlyMillion: flag('--s4-only-1m'), noInt8: flag('--s4-no-int8'), n: num('--s4-n'), nSmall: num('--s4-n-mastra'), queries: num('--s4-queries'), noWrite, header, log })
  if (scenarios.every((s) => s === 's4')) process.exit(0)
}

const { child: mock, port } = await startMock()
log(`mock server on 127.0.0.1:${port} (pid ${mock.pid})`)
process.on('exit', () => {
  try {
    mock.kill('SIGTERM')
  } catch {}
})

// S3 (agent memory) uses the mock (chat + embeddings) and writes its own report (RESULTS-S3.md).
// See lib/memory-bench.mjs.
if (scenarios.includes('s3')) {
  const { runS3 } = await import('./lib/memory-bench.mjs')
  const header = reportHeader('S3', 'agent memory', [`| @mastra/memory | ${pkgOf('@mastra/memory')} (with @mastra/libsql ${pkgOf('@mastra/libsql')}, @mastra/core ${machine.mastra}) |`])
  const num = (name) => (value(name) === undefined ? undefined : Number(value(name)))
  const s3 = await runS3({ benchDir, quick, frameworks, port, noWrite, header, log, n: num('--s3-n'), nSmall: num('--s3-n-mastra'), generates: num('--s3-generates'), batch: num('--s3-batch'), noMemVec: flag('--s3-no-memvec'), noProbe: flag('--s3-no-probe') })
  const failed = ['small', 'main', 'main-memvec'].some((k) => Object.values(s3[k] ?? {}).some((r) => r?.error))
  if (scenarios.every((s) => s === 's3' || s === 's4')) {
    mock.kill('SIGTERM')
    process.exit(failed ? 1 : 0)
  }
}

const results = { variants: {}, cold: null }
const failures = []
const skips = {}

for (const v of VARIANTS) {
  results.variants[v.key] = {}
  for (const fw of frameworks) {
    if (skips[fw]) {
      results.variants[v.key][fw] = { skipped: skips[fw] }
      continue
    }
    await mockReset(port)
    const cpuBefore = (await mockStats(port)).cpu
    const cfg = { ...v.cfg, port }
    log(`${v.key} ${fw} …`)
    const run = await runChild(fw, cfg, MODE.childTimeoutMs)
    const stats = await mockStats(port)
    const r = run.result
    if (r.skipped) {
      skips[fw] = r.skipped
      log(`  ${fw} skipped: ${r.skipped}`)
      results.variants[v.key][fw] = { skipped: r.skipped }
      continue
    }
    const chatKey = 'POST /v1/chat/completions'
    const chat = stats.requests[chatKey] ?? 0
    const other = Object.entries(stats.requests).filter(([k]) => k !== chatKey && !k.includes('/__'))
    if (!r.error && other.length) r.error = `framework called unexpected endpoints on the mock: ${other.map(([k, n]) => `${k} ×${n}`).join(', ')}`
    if (!r.error && r.scenario !== v.cfg.scenario) r.error = `child reported scenario ${r.scenario}, expected ${v.cfg.scenario}`
    if (r.error) {
      failures.push({ where: `${v.key} / ${fw}`, error: r.error, cause: r.cause, stderr: run.stderr.slice(-4000) })
      log(`  ${fw} FAILED: ${String(r.error).split('\n')[0]}`)
      results.variants[v.key][fw] = { error: r.error }
      continue
    }
    const totalOps = r.ops + (r.warmupOps ?? 0)
    r.modelRequestsPerOp = chat / totalOps
    const lastBody = stats.bodies['/v1/chat/completions']
    r.streamUsageRequested = v.cfg.scenario === 's2' ? lastBody?.stream_options?.include_usage === true : undefined
    r.mockCpuMsPerOp = ((stats.cpu.user + stats.cpu.system - cpuBefore.user - cpuBefore.system) / 1000) / totalOps
    r.stderrLines = run.stderr.split('\n').filter(Boolean).length
    results.variants[v.key][fw] = r
    const t = r.ttftMs ? ` ttft p50 ${r.ttftMs.p50.toFixed(3)} ms,` : ''
    log(`  ${fw}: ${r.ops} ops, p50 ${r.latencyMs.p50.toFixed(3)} ms, p99 ${r.latencyMs.p99.toFixed(3)} ms,${t} ${r.throughput.toFixed(1)} ops/s, CPU ${r.cpuMsPerOp.toFixed(3)} ms/op, peak RSS ${r.maxRSSMB.toFixed(1)} MB`)
  }
}

if (scenarios.includes('s5')) {
  // Cold start: the empty baseline and every framework, interleaved, `coldRuns` times.
  const who = ['empty', ...frameworks.filter((f) => !skips[f])]
  const samples = Object.fromEntries(who.map((w) => [w, []]))
  const coldErrors = {}
  log(`s5 cold start: ${coldRuns} runs of ${who.join(', ')} …`)
  for (let i = 0; i < coldRuns; i++) {
    for (const w of who) {
      if (coldErrors[w] || skips[w]) continue
      await mockReset(port)
      const run = await runChild(w, { scenario: w === 'empty' ? 'empty' : 's5', port }, MODE.childTimeoutMs)
      const r = run.result
      if (r.skipped) {
        skips[w] = r.skipped
        continue
      }
      if (r.error) {
        coldErrors[w] = r.error
        failures.push({ where: `s5 / ${w}`, error: r.error, cause: r.cause, stderr: run.stderr.slice(-4000) })
        log(`  ${w} FAILED: ${String(r.error).split('\n')[0]}`)
        continue
      }
      const rel = (mark) => (mark === undefined ? undefined : Number(BigInt(mark) - run.spawnAt) / 1e6)
      // In-process durations from "script running": everything before that point is the same work
      // an empty node process does, so these are the framework's additions without node-boot noise.
      const since = (mark) => (mark === undefined ? undefined : Number(BigInt(mark) - BigInt(r.marks.start)) / 1e6)
      samples[w].push({
        dFrameworkImported: since(r.marks.frameworkImported),
        dImported: since(r.marks.imported),
        dConstructed: since(r.marks.constructed),
        dFirstGenerate: since(r.marks.firstGenerate),
        start: rel(r.marks.start),
        frameworkImported: rel(r.marks.frameworkImported),
        imported: rel(r.marks.imported),
        constructed: rel(r.marks.constructed),
        firstGenerate: rel(r.marks.firstGenerate),
        exit: Number(run.exitAt - run.spawnAt) / 1e6,
        rssMB: r.rssMB,
      })
    }
  }
  const cold = {}
  for (const w of who) {
    if (coldErrors[w]) cold[w] = { error: coldErrors[w] }
    else if (skips[w]) cold[w] = { skipped: skips[w] }
    else {
      const s = samples[w]
      cold[w] = { runs: s.length }
      for (const k of ['start', 'frameworkImported', 'imported', 'constructed', 'firstGenerate', 'exit', 'rssMB', 'dFrameworkImported', 'dImported', 'dConstructed', 'dFirstGenerate']) cold[w][k] = median(s.map((x) => x[k]))
    }
  }
  results.cold = cold
  for (const w of who) {
    const c = cold[w]
    if (!c.runs) continue
    if (w === 'empty') log(`  empty: script running ${c.start.toFixed(1)} ms, exited ${c.exit.toFixed(1)} ms, RSS ${c.rssMB.toFixed(1)} MB (medians of ${c.runs})`)
    else log(`  ${w}: framework imported ${c.frameworkImported.toFixed(1)} ms, + zod ${c.imported.toFixed(1)} ms, constructed ${c.constructed.toFixed(1)} ms, first generate ${c.firstGenerate.toFixed(1)} ms, RSS ${c.rssMB.toFixed(1)} MB (medians of ${c.runs})`)
  }
}

mock.kill('SIGTERM')
const loadAfter = os.loadavg()
const busyAfter = await cpuBusy(1000)
const facadeHashAfter = frameworks.includes('lumos') ? facadeHash() : undefined
const facadeChanged = frameworks.includes('lumos') && facadeHashAfter !== machine.facadeHash
if (facadeChanged) log('warning: the Lumos build (index.js, ts/*.js, binding.js or the addon) changed during the run; Lumos numbers mix two builds')
const finishedAt = new Date()

// ---------------------------------------------------------------- report
const NAMES = { raw: 'raw', lumos: 'Lumos', mastra: 'Mastra', empty: 'empty node' }
function fmt(v, unit = '') {
  if (v === undefined || v === null || Number.isNaN(v)) return '—'
  const a = Math.abs(v)
  const s = a >= 1000 ? v.toFixed(0) : a >= 100 ? v.toFixed(1) : a >= 10 ? v.toFixed(2) : a >= 1 ? v.toFixed(3) : v.toFixed(4)
  return s + unit
}
const signed = (d) => (Number.isFinite(d) ? `${d < 0 ? '−' : '+'}${fmt(Math.abs(d))}` : '—')
function ratio(a, b) {
  if (!Number.isFinite(a) || !Number.isFinite(b) || a <= 0 || b <= 0) return '—'
  const r = a / b
  return `${r >= 100 ? r.toFixed(0) : r >= 10 ? r.toFixed(1) : r.toFixed(2)}×`
}
function cell(r, get, opts = {}) {
  if (!r) return 'not run'
  if (r.skipped) return 'skipped'
  if (r.error) return 'error'
  const v = get(r)
  return opts.int && Number.isFinite(v) ? String(Math.round(v)) : fmt(v)
}
const val = (r, get) => (r && !r.skipped && !r.error ? get(r) : NaN)

function table(rowsDef, byFw, cols = frameworks) {
  const head = ['metric', ...cols.map((c) => NAMES[c])]
  const showML = cols.includes('mastra') && cols.includes('lumos')
  const showLR = cols.includes('lumos') && cols.includes('raw')
  if (showML) head.push('Mastra / Lumos')
  if (showLR) head.push('Lumos / raw')
  const lines = [`| ${head.join(' | ')} |`, `|${head.map((_, i) => (i === 0 ? ' --- ' : ' ---: ')).join('|')}|`]
  for (const [label, get, opts = {}] of rowsDef) {
    const row = [label, ...cols.map((c) => cell(byFw[c], get, opts))]
    if (showML) row.push(opts.noRatio ? '' : ratio(val(byFw.mastra, get), val(byFw.lumos, get)))
    if (showLR) row.push(opts.noRatio ? '' : ratio(val(byFw.lumos, get), val(byFw.raw, get)))
    lines.push(`| ${row.join(' | ')} |`)
  }
  return lines.join('\n')
}

const s1Rows = [
  ['latency p50 (ms)', (r) => r.latencyMs.p50],
  ['latency p99 (ms)', (r) => r.latencyMs.p99],
  ['throughput (ops/s)', (r) => r.throughput],
  ['CPU time per op (ms)', (r) => r.cpuMsPerOp],
  ['peak RSS (MB)', (r) => r.maxRSSMB],
  ['ops measured', (r) => r.ops, { noRatio: true, int: true }],
  ['model requests per op', (r) => r.modelRequestsPerOp, { noRatio: true }],
]
const s2Rows = [
  ['time to first text chunk p50 (ms)', (r) => r.ttftMs?.p50],
  ['time to first text chunk p99 (ms)', (r) => r.ttftMs?.p99],
  ['total p50 (ms)', (r) => r.latencyMs.p50],
  ['total p99 (ms)', (r) => r.latencyMs.p99],
  ['throughput (streams/s)', (r) => r.throughput],
  ['CPU time per op (ms)', (r) => r.cpuMsPerOp],
  ['peak RSS (MB)', (r) => r.maxRSSMB],
  ['ops measured', (r) => r.ops, { noRatio: true, int: true }],
  ['model requests per op', (r) => r.modelRequestsPerOp, { noRatio: true }],
]

// Targets (reported, not asserted).
const V = results.variants
const C = results.cold ?? {}
const lum = (k) => V[k]?.lumos
const targets = []
const addTarget = (name, measured, limit, ok, note = '') => targets.push({ name, measured, limit, ok, note })
const okStr = (ok) => (ok === undefined ? 'n/a' : ok ? 'yes' : '**no**')
for (const k of ['s1-c1', 's1-c64']) {
  if (!V[k]) continue
  const c = k.endsWith('c1') ? 'c=1' : 'c=64'
  const l = val(lum(k), (r) => r.cpuMsPerOp)
  const m = val(V[k].mastra, (r) => r.cpuMsPerOp)
  const w = val(V[k].raw, (r) => r.cpuMsPerOp)
  addTarget(`S1 ${c}: Lumos CPU per generate ≤ 1/20 of Mastra's`, Number.isFinite(l) && Number.isFinite(m) ? `${fmt(l)} ms vs ${fmt(m)} ms (1/${fmt(m / l)})` : '—', Number.isFinite(m) ? `≤ ${fmt(m / 20)} ms` : '—', Number.isFinite(l) && Number.isFinite(m) ? l <= m / 20 : undefined)
  addTarget(`S1 ${c}: Lumos CPU per generate ≤ 2× raw's`, Number.isFinite(l) && Number.isFinite(w) ? `${fmt(l)} ms vs ${fmt(w)} ms (${ratio(l, w)})` : '—', Number.isFinite(w) ? `≤ ${fmt(2 * w)} ms` : '—', Number.isFinite(l) && Number.isFinite(w) ? l <= 2 * w : undefined)
}
if (V['s1-c1']) {
  const p = val(lum('s1-c1'), (r) => r.latencyMs.p50)
  addTarget('S1 c=1: Lumos p50 latency ≤ 2 ms (zero-latency mock)', Number.isFinite(p) ? `${fmt(p)} ms` : '—', '≤ 2 ms', Number.isFinite(p) ? p <= 2 : undefined)
}
for (const k of ['s2-text', 's2-tools']) {
  if (!V[k]) continue
  const l = val(lum(k), (r) => r.ttftMs?.p50)
  const w = val(V[k].raw, (r) => r.ttftMs?.p50)
  addTarget(`S2 ${k === 's2-text' ? 'text only' : 'with tools'}: Lumos time to first chunk (p50) ≤ raw + 1 ms`, Number.isFinite(l) && Number.isFinite(w) ? `${fmt(l)} ms vs ${fmt(w)} ms (${signed(l - w)} ms)` : '—', Number.isFinite(w) ? `≤ ${fmt(w + 1)} ms` : '—', Number.isFinite(l) && Number.isFinite(w) ? l - w <= 1 : undefined)
}
if (results.cold) {
  const e = C.empty
  const l = C.lumos
  const have = e?.runs && l?.runs
  addTarget('S5: Lumos module imported ≤ 60 ms later than an empty node start', have ? `+${fmt(l.dFrameworkImported)} ms` : '—', '≤ +60 ms', have ? l.dFrameworkImported <= 60 : undefined)
  addTarget('S5: Lumos first generate done ≤ 100 ms later than an empty node start (judged with the zod import included)', have ? `+${fmt(l.dFirstGenerate)} ms (+${fmt(l.dFirstGenerate - (l.dImported - l.dFrameworkImported))} ms without the zod import)` : '—', '≤ +100 ms', have ? l.dFirstGenerate <= 100 : undefined)
  addTarget('S5: Lumos RSS after first generate ≤ 25 MB above an empty node process', have ? `${fmt(l.rssMB)} MB vs ${fmt(e.rssMB)} MB (+${fmt(l.rssMB - e.rssMB)} MB)` : '—', '≤ +25 MB', have ? l.rssMB - e.rssMB <= 25 : undefined)
}

const md = []
md.push(`# Lumos benchmark results`)
md.push('')
md.push(`Generated by \`bench/run.mjs\` — ${quick ? '**quick mode** (short runs; for iteration, not for quoting)' : 'full mode'}. Every number below was measured in this run; see [README.md](README.md) for what each scenario measures and the caveats.`)
md.push('')
md.push('## Machine and run')
md.push('')
md.push('| | |')
md.push('| --- | --- |')
md.push(`| CPU | ${machine.cpuModel} |`)
md.push(`| cores | ${machine.cores} |`)
md.push(`| RAM | ${machine.ramGB.toFixed(1)} GiB |`)
md.push(`| OS | ${machine.os} |`)
md.push(`| Node.js | ${machine.node} |`)
md.push(`| @mastra/core | ${machine.mastra ?? 'not installed'} (zod ${machine.zod ?? '?'}) |`)
md.push(`| @lumosai/core | ${machine.lumos ?? '?'}${machine.lumosCommit ? ` @ ${machine.lumosCommit}${machine.lumosDirty ? ' (+ uncommitted changes)' : ''}` : ''}${frameworks.includes('lumos') ? `, build fingerprint ${machine.facadeHash}` : ''}${skips.lumos ? ` — **not measured**: ${skips.lumos}` : ''} |`)
if (facadeChanged) md.push(`| **warning** | the Lumos build changed during this run (fingerprint ${machine.facadeHash} → ${facadeHashAfter}): Lumos numbers mix two builds |`)
if (addon) md.push(`| Lumos native addon | ${addon.profile === 'debug' ? '**DEBUG build — Lumos numbers not representative**' : 'release build'}: \`${addon.path}\` (${addon.sizeMB.toFixed(1)} MB, built ${addon.mtime}) |`)
md.push(`| date | ${startedAt.toISOString()} → ${finishedAt.toISOString()} |`)
md.push(`| command | \`cd bench && ${command}\` |`)
md.push(`| load average (1/5/15 min) | before ${loadBefore.map((x) => x.toFixed(2)).join(' / ')}, after ${loadAfter.map((x) => x.toFixed(2)).join(' / ')} |`)
const pct = (b) => (b === undefined ? '?' : `${(b * 100).toFixed(0)} %`)
md.push(`| machine CPU busy (1 s sample, other processes) | before the run ${pct(busyBefore)}, after ${pct(busyAfter)} |`)
md.push('')
md.push(`Every framework ran in its own child process, one at a time, against the mock server (another child process, zero added latency) over loopback HTTP/1.1 keep-alive. Ratios are plain quotients of the row's values (for throughput, a Mastra / Lumos below 1 means Lumos is faster).`)
md.push('')
md.push('S4 (vector store: upsert, QPS, recall@10, RSS; Lumos vs Mastra vs usearch) is run separately (`node run.mjs --scenarios s4`) and reported in [RESULTS-S4.md](RESULTS-S4.md).')
md.push('')
md.push('S6 (durable workflows: runs/s, CPU and bytes written per run; Lumos vs Mastra) is run separately (`node run.mjs --scenarios s6`) and reported in [RESULTS-S6.md](RESULTS-S6.md).')
md.push('')
if (targets.length) {
  md.push('## Targets (reported, not asserted)')
  md.push('')
  md.push('| target | measured | limit | met |')
  md.push('| --- | ---: | ---: | :---: |')
  for (const t of targets) md.push(`| ${t.name} | ${t.measured} | ${t.limit} | ${okStr(t.ok)} |`)
  md.push('')
}
for (const v of VARIANTS) {
  md.push(`## ${v.title}`)
  md.push('')
  md.push(table(v.scenario === 's1' ? s1Rows : s2Rows, V[v.key]))
  md.push('')
  const notes = []
  for (const fw of frameworks) {
    const r = V[v.key][fw]
    if (!r || r.skipped || r.error) continue
    const bits = [`${r.warmupOps} warm-up ops`, `mock server CPU ${fmt(r.mockCpuMsPerOp)} ms/op`]
    if (r.streamUsageRequested !== undefined) bits.push(`stream usage requested: ${r.streamUsageRequested ? 'yes' : 'no'}`)
    if (r.stderrLines) bits.push(`${r.stderrLines} stderr lines`)
    notes.push(`${NAMES[fw]}: ${bits.join(', ')}`)
  }
  if (notes.length) md.push(`<sub>${notes.join(' · ')}</sub>`)
  md.push('')
}
if (results.cold) {
  const cols = ['empty', ...frameworks]
  md.push(`## S5 — cold start (medians of ${coldRuns} fresh processes each)`)
  md.push('')
  md.push('Absolute rows: milliseconds since `spawn()` in the parent. "empty node" is a `node` process that loads the same small harness, reports its RSS and exits — an empty node start. Every process reaches "script running" after the same work as the empty one, so the Δ rows are each process\'s own time from "script running" to the mark (medians of per-process differences; node-boot noise cancels), and Δ RSS subtracts the empty process\'s RSS. "framework module imported" = `Agent`/`createTool` imported; then zod, which the tool schemas need (raw imports nothing: fetch is global); "first generate done" includes opening the first connection to the mock server; RSS includes zod.')
  md.push('')
  const coldRows = [
    ['script running (ms)', (r) => r.start],
    ['framework module imported (ms)', (r) => r.frameworkImported],
    ['… and zod imported (ms)', (r) => r.imported],
    ['agent constructed (ms)', (r) => r.constructed],
    ['first generate done (ms)', (r) => r.firstGenerate],
    ['process exited (ms)', (r) => r.exit],
    ['RSS after first generate (MB)', (r) => r.rssMB],
    ['Δ framework module imported (ms, in-process)', (r) => r.dFrameworkImported],
    ['Δ framework + zod imported (ms, in-process)', (r) => r.dImported],
    ['Δ agent constructed (ms, in-process)', (r) => r.dConstructed],
    ['Δ first generate done (ms, in-process)', (r) => r.dFirstGenerate],
    ['… of which importing zod (ms)', (r) => (r.dImported === undefined ? undefined : r.dImported - r.dFrameworkImported)],
    ['Δ RSS vs empty node (MB)', (r) => (r === C.empty ? undefined : r.rssMB - C.empty?.rssMB)],
  ]
  const byFw = Object.fromEntries(cols.map((c) => [c, C[c] ?? (skips[c] ? { skipped: skips[c] } : undefined)]))
  md.push(table(coldRows, byFw, cols))
  md.push('')
}
const skipList = Object.entries(skips)
if (skipList.length) {
  md.push('## Skipped')
  md.push('')
  for (const [fw, why] of skipList) md.push(`- ${NAMES[fw]}: ${why}`)
  md.push('')
}
if (failures.length) {
  md.push('## Failures')
  md.push('')
  for (const f of failures) {
    md.push(`### ${f.where}`)
    md.push('')
    md.push('```')
    md.push(String(f.error).slice(0, 4000))
    if (f.cause) md.push(`cause: ${String(f.cause).slice(0, 2000)}`)
    if (f.stderr?.trim()) md.push(`--- stderr (tail) ---\n${f.stderr.trim()}`)
    md.push('```')
    md.push('')
  }
}
const report = md.join('\n')

console.log('\n' + report)
mkdirSync(join(benchDir, '.results'), { recursive: true })
const stamp = startedAt.toISOString().replace(/[:.]/g, '-')
writeFileSync(join(benchDir, '.results', `${stamp}${quick ? '-quick' : ''}.json`), JSON.stringify({ machine, addon, command, quick, startedAt, finishedAt, loadBefore, loadAfter, busyBefore, busyAfter, results, failures, skips }, null, 2))
if (!noWrite) {
  mkdirSync(dirname(outFile), { recursive: true })
  writeFileSync(outFile, report + '\n')
  log(`wrote ${relative(process.cwd(), outFile) || outFile}`)
}
process.exitCode = failures.length ? 1 : 0
