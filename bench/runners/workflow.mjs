// S6 runner (workflows): one implementation and one workflow shape per child process. The parent
// (lib/workflow-bench.mjs) passes one JSON argument:
//   { impl: 'lumos' | 'mastra', shape: 'seq20' | 'par10', concurrency, dir, warmupRuns, minRuns, seconds }
// and reads the last stdout line starting with "BENCH_RESULT ".
//
// Lumos and Mastra run the same code; they differ only in where createWorkflow, createStep,
// Mastra and LibSQLStore come from. Both write runs to a fresh SQLite file in `dir`. Measured over
// the timed runs (`concurrency` loops, each awaiting one run before starting the next): runs/s, CPU per run (process.cpuUsage, all
// threads), bytes the process handed to write()/pwrite() per run (/proc/self/io `wchar`: every
// byte SQLite wrote to the database, its WAL and journal, up to a final listing and WAL
// checkpoint), and how much the files grew.
import { existsSync, mkdirSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { lumosEntry } from '../lib/lumos-entry.mjs'

const cfg = JSON.parse(process.argv[2] ?? '{}')
const now = () => Number(process.hrtime.bigint()) / 1e6
const cpuMs = (c) => (c.user + c.system) / 1000

function finish(obj, code = 0) {
  process.stdout.write(`BENCH_RESULT ${JSON.stringify(obj)}\n`)
  process.exitCode = code
  setImmediate(() => process.exit(code))
}

const IMPORTS = {
  async lumos() {
    return import(lumosEntry)
  },
  async mastra() {
    const [{ createWorkflow, createStep }, { Mastra }, { LibSQLStore }] = await Promise.all([import('@mastra/core/workflows'), import('@mastra/core'), import('@mastra/libsql')])
    return { createWorkflow, createStep, Mastra, LibSQLStore }
  },
}

/** Bytes this process has passed to write-like syscalls so far (Linux), or undefined. */
function wchar() {
  try {
    const m = /^wchar:\s+(\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))
    return m ? Number(m[1]) : undefined
  } catch {
    return undefined
  }
}

const filesSize = (dir) => readdirSync(dir).reduce((sum, f) => sum + statSync(join(dir, f)).size, 0)

try {
  const { z } = await import('zod')
  const { createWorkflow, createStep, Mastra, LibSQLStore } = await IMPORTS[cfg.impl]()
  const n = z.object({ n: z.number() })
  const step = (id) => createStep({ id, inputSchema: n, outputSchema: n, execute: async ({ inputData }) => ({ n: inputData.n + 1 }) })
  let wf
  if (cfg.shape === 'seq20') {
    wf = createWorkflow({ id: 'seq20', inputSchema: n, outputSchema: n })
    for (let i = 0; i < 20; i++) wf = wf.then(step(`s${i}`))
  } else {
    wf = createWorkflow({ id: 'par10', inputSchema: n, outputSchema: z.any() }).parallel(Array.from({ length: 10 }, (_, i) => step(`p${i}`)))
  }
  wf = wf.commit()
  const concurrency = cfg.concurrency ?? 1
  const dir = join(cfg.dir, `s6-${cfg.impl}-${cfg.shape}-c${concurrency}-${process.pid}`)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  const storage = new LibSQLStore({ id: 's6', url: `file:${join(dir, 'runs.db')}` })
  const mastra = new Mastra({ workflows: { wf }, storage, logger: false })
  const workflow = mastra.getWorkflow('wf')
  const once = async () => {
    const r = await (await workflow.createRun()).start({ inputData: { n: 0 } })
    if (r.status !== 'success') throw new Error(`run ended ${r.status}: ${JSON.stringify(r.error)}`)
    return r
  }
  const first = await once()
  const expected = cfg.shape === 'seq20' ? 20 : 10
  const resultCheck = cfg.shape === 'seq20' ? first.result?.n === 20 : Object.keys(first.result ?? {}).length === 10
  if (!resultCheck) throw new Error(`unexpected result ${JSON.stringify(first.result)}`)
  for (let i = 1; i < cfg.warmupRuns; i++) await once()

  const bytes0 = wchar()
  const size0 = filesSize(dir)
  const cpu0 = process.cpuUsage()
  const t0 = now()
  let runs = 0
  const loop = async () => {
    while (runs < cfg.minRuns || now() - t0 < cfg.seconds * 1000) {
      runs++
      await once()
    }
  }
  await Promise.all(Array.from({ length: concurrency }, loop))
  const wallMs = now() - t0
  const cpu = cpuMs(process.cpuUsage(cpu0))
  // Everything the runs left to write is written before the bytes are read, for both: a
  // listing (Lumos folds its workflow journal into its tables for it), then a checkpoint of
  // the WAL into the database file from this process (SQLite checkpoints on its own only every
  // 1,000 pages for libsql and 8,192 for Lumos, so part of either's page writes would be
  // left out otherwise).
  const stored = await workflow.listWorkflowRuns({ perPage: 1, page: 0 })
  const { createClient } = await import('@libsql/client')
  const checkpointer = createClient({ url: `file:${join(dir, 'runs.db')}` })
  await checkpointer.execute('PRAGMA wal_checkpoint(TRUNCATE)')
  checkpointer.close()
  const bytes1 = wchar()
  const size1 = filesSize(dir)
  finish({
    impl: cfg.impl,
    shape: cfg.shape,
    concurrency,
    steps: expected,
    runs,
    wallMs,
    runsPerSec: (runs / wallMs) * 1000,
    cpuMsPerRun: cpu / runs,
    bytesWrittenPerRun: bytes0 === undefined || bytes1 === undefined ? undefined : (bytes1 - bytes0) / runs,
    fileGrowthPerRun: (size1 - size0) / runs,
    storedRuns: stored.total,
    rssMB: process.memoryUsage().rss / 1048576,
  })
  if (existsSync(dir)) process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
} catch (err) {
  finish({ impl: cfg.impl, shape: cfg.shape, error: String(err?.stack ?? err) }, 1)
}
