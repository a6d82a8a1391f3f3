// S6 — durable workflows, driven by run.mjs (`--scenarios s6`). Every (shape, implementation)
// pair runs runners/workflow.mjs in a fresh child process, one at a time; both write their runs to
// a fresh SQLite file. No mock server. Results: RESULTS-S6.md (full) or .results/RESULTS-S6-quick.md.
import os from 'node:os'
import { join } from 'node:path'
import { f, g, runRunner, targetsSection, writeReport } from './report.mjs'

const NAMES = { lumos: 'Lumos', mastra: 'Mastra (@mastra/core workflows + @mastra/libsql)' }
const SEQ = '20-step sequential workflow (`.then()` × 20, each step `{ n } → { n: n + 1 }`)'
const PAR = '10-way parallel workflow (`.parallel([10 steps])`, the same trivial step)'
const SHAPES = [
  { key: 'seq20-c1', shape: 'seq20', concurrency: 1, title: `${SEQ}, one run at a time` },
  { key: 'par10-c1', shape: 'par10', concurrency: 1, title: `${PAR}, one run at a time` },
  { key: 'seq20-c8', shape: 'seq20', concurrency: 8, title: `${SEQ}, 8 runs at a time` },
  { key: 'par10-c8', shape: 'par10', concurrency: 8, title: `${PAR}, 8 runs at a time` },
]

/**
 * @param {{ benchDir: string, quick: boolean, frameworks: string[], noWrite: boolean,
 *           header: string[], log: (...a: any[]) => void, seconds?: number }} o
 */
export async function runS6(o) {
  const impls = ['lumos', 'mastra'].filter((i) => o.frameworks.includes(i))
  const base = { dir: join(o.benchDir, '.results', 'tmp'), warmupRuns: o.quick ? 20 : 100, minRuns: o.quick ? 50 : 200, seconds: o.seconds ?? (o.quick ? 3 : 10) }
  const results = { machine: { loadBefore: os.loadavg() } }
  for (const s of SHAPES) {
    results[s.key] = {}
    for (const impl of impls) {
      o.log(`s6 ${s.key} ${impl} …`)
      const r = await runRunner(o.benchDir, 'workflow.mjs', { ...base, impl, shape: s.shape, concurrency: s.concurrency }, 600_000)
      r.loadAfter = os.loadavg()
      results[s.key][impl] = r
      if (r.error) o.log(`  ${impl} FAILED: ${r.error.split('\n')[0]}`)
      else o.log(`  ${impl}: ${f(r.runsPerSec)} runs/s, ${g(r.cpuMsPerRun)} ms CPU/run, ${f(r.bytesWrittenPerRun)} B written/run`)
    }
  }
  results.machine.loadAfter = os.loadavg()

  const ok = (r) => r && !r.error
  const md = [...o.header]
  md.push('')
  md.push(`**Configuration** (the same source for both, \`runners/workflow.mjs\`; only the imports differ): \`createWorkflow({ id, inputSchema, outputSchema })\` with zod schemas, steps from \`createStep({ id, inputSchema, outputSchema, execute })\`, registered as \`new Mastra({ workflows, storage: new LibSQLStore({ url: 'file:…' }) })\`; each run is \`(await workflow.createRun()).start({ inputData: { n: 0 } })\`, awaited before the next (concurrency 1), and its status and result are checked.`)
  md.push('')
  md.push(`**Procedure**: each implementation and shape in a fresh child process, one at a time, on a fresh database file in \`bench/.results/tmp\`; ${base.warmupRuns} warm-up runs, then at least ${base.minRuns} runs and ${base.seconds} s. CPU/run = \`process.cpuUsage()\` (all threads) / runs. **Bytes written/run** = growth of the process's \`wchar\` in \`/proc/self/io\` (every byte passed to write()/pwrite(): the database, its WAL or journal) / runs — what the storage was asked to write, including SQLite's page rewrites — read after a final \`listWorkflowRuns\` and a \`PRAGMA wal_checkpoint(TRUNCATE)\` from the same process, so writes still pending at the end (Lumos's journal fold, either's WAL checkpoint) are counted. File growth/run = growth of the database directory's files / runs, after the checkpoint.`)
  md.push('')
  md.push(`**Reading the bytes**: Mastra's LibSQLStore is SQLite in WAL mode, where a commit appends every page it touched (4 KiB + a 24-byte frame header each) to the WAL and a checkpoint copies the pages back into the database file; it rewrites the run's snapshot row as the run advances. Lumos's SQLite store appends each run change (start, each step's record, the end) as one framed entry to the database's workflow journal (\`<db>-workflow-journal\`, one write per step, before the next step starts) and folds the journal's runs into its tables in one transaction per 4 MiB of journal, so the page writes of a fold are shared by ~1,500 runs; the figure includes the fold and its checkpoint.`)
  md.push('')
  const rows = [
    ['**runs/s**', (r) => f(r.runsPerSec)],
    ['CPU per run (ms)', (r) => g(r.cpuMsPerRun)],
    ['**bytes written per run**', (r) => f(r.bytesWrittenPerRun)],
    ['file growth per run (bytes)', (r) => f(r.fileGrowthPerRun)],
    ['runs measured', (r) => f(r.runs)],
    ['RSS at the end (MB)', (r) => f(r.rssMB)],
    ['load average after the child (1 min)', (r) => r.loadAfter?.[0]?.toFixed(2) ?? '–'],
  ]
  for (const s of SHAPES) {
    const R = results[s.key]
    md.push(`## S6 — ${s.title}`)
    md.push('')
    md.push(`| | ${impls.map((i) => NAMES[i]).join(' | ')} |${impls.length === 2 ? ' Lumos / Mastra |' : ''}`)
    md.push(`| --- |${impls.map(() => ' ---: |').join('')}${impls.length === 2 ? ' ---: |' : ''}`)
    for (const [label, fn] of rows) {
      const cells = impls.map((i) => (ok(R[i]) ? fn(R[i]) : R[i]?.error ? 'failed' : '–'))
      md.push(`| ${label} | ${cells.join(' | ')} |${impls.length === 2 ? ` ${ratio(label, R.lumos, R.mastra)} |` : ''}`)
    }
    md.push('')
    for (const i of impls.filter((i) => R[i]?.error)) md.push(`${NAMES[i]} failed:`, '', '```', String(R[i].error).slice(0, 3000), '```', '')
  }

  const t = []
  for (const s of SHAPES) {
    const L = results[s.key].lumos
    const M = results[s.key].mastra
    if (!ok(L) || !ok(M)) continue
    const speed = L.runsPerSec / M.runsPerSec
    t.push([`${s.key}: runs/s ≥ 20× Mastra's`, `${f(L.runsPerSec)} vs ${f(M.runsPerSec)} (${f(speed, 1)}×)`, `≥ ${f(20 * M.runsPerSec)}`, speed >= 20])
    if (L.bytesWrittenPerRun !== undefined && M.bytesWrittenPerRun !== undefined) {
      const share = L.bytesWrittenPerRun / M.bytesWrittenPerRun
      t.push([`${s.key}: bytes written per run ≤ 1/10 of Mastra's`, `${f(L.bytesWrittenPerRun)} vs ${f(M.bytesWrittenPerRun)} (1/${f(1 / share, 1)})`, `≤ ${f(M.bytesWrittenPerRun / 10)}`, share <= 0.1])
    }
  }
  md.splice(o.header.length, 0, ...targetsSection('S6', t))
  md.splice(o.header.length, 0, `| load average after (1/5/15 min) | ${results.machine.loadAfter.map((x) => x.toFixed(2)).join(' / ')} |`)
  writeReport(o, 'S6', md, results)
  return results
}

/** The Lumos / Mastra column: a speed-up for runs/s, a fraction for costs. */
function ratio(label, L, M) {
  if (!L || !M || L.error || M.error) return '–'
  if (label.includes('runs/s')) return `${f(L.runsPerSec / M.runsPerSec, 1)}×`
  if (label.startsWith('CPU')) return `1/${f(M.cpuMsPerRun / L.cpuMsPerRun, 1)}`
  if (label.includes('bytes written')) return L.bytesWrittenPerRun && M.bytesWrittenPerRun ? `1/${f(M.bytesWrittenPerRun / L.bytesWrittenPerRun, 1)}` : '–'
  return ''
}
