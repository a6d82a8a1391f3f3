import { lumosEntry } from '/work/main/bench/lib/lumos-entry.mjs'
import { readFileSync, rmSync, mkdirSync, statSync } from 'node:fs'
const shape = process.argv[2] ?? 'par10'
const { createWorkflow, createStep, Mastra, LibSQLStore } = await import(lumosEntry)
const { z } = await import('/work/main/bench/node_modules/zod/index.js')
const n = z.object({ n: z.number() })
const step = (id) => createStep({ id, inputSchema: n, outputSchema: n, execute: async ({ inputData }) => ({ n: inputData.n + 1 }) })
let wf
if (shape === 'seq20') { wf = createWorkflow({ id: 'seq20', inputSchema: n, outputSchema: n }); for (let i = 0; i < 20; i++) wf = wf.then(step(`s${i}`)) }
else wf = createWorkflow({ id: 'par10', inputSchema: n, outputSchema: z.any() }).parallel(Array.from({ length: 10 }, (_, i) => step(`p${i}`)))
wf = wf.commit()
rmSync('/tmp/dev/dump', { recursive: true, force: true }); mkdirSync('/tmp/dev/dump')
const storage = new LibSQLStore({ id: 's6', url: 'file:/tmp/dev/dump/runs.db' })
const mastra = new Mastra({ workflows: { wf }, storage, logger: false })
const w = mastra.getWorkflow('wf')
const wchar = () => Number(/^wchar:\s+(\d+)$/m.exec(readFileSync('/proc/self/io', 'utf8'))[1])
for (let i = 0; i < 100; i++) await (await w.createRun()).start({ inputData: { n: 0 } })
await w.listWorkflowRuns({ perPage: 1, page: 0 })
const N = +(process.argv[3] ?? 1000)
const b0 = wchar()
for (let i = 0; i < N; i++) await (await w.createRun()).start({ inputData: { n: 0 } })
const b1 = wchar()
const j = statSync('/tmp/dev/dump/runs.db-workflow-journal').size
await w.listWorkflowRuns({ perPage: 1, page: 0 })
const b2 = wchar()
const { createClient } = await import('@libsql/client')
const c = createClient({ url: 'file:/tmp/dev/dump/runs.db' }); await c.execute('PRAGMA wal_checkpoint(TRUNCATE)'); c.close()
const b3 = wchar()
console.log({ shape, runsPhase: (b1 - b0) / N, journalSizePerRun: j / N, fold: (b2 - b1) / N, checkpoint: (b3 - b2) / N, total: (b3 - b0) / N })
