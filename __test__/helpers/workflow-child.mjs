// Child process for workflows.spec.ts: one process of a multi-process workflow scenario, on the
// store named by argv[3] (a file: URL or a postgres:// URL). Every step body appends its id to
// the log file argv[5], so the parent can count how often each step really ran.
//
//   suspend  <store> <runId> <log>  start 'approval' and stop at its suspended step
//   resume   <store> <runId> <log>  resume it (a different process from the one that started it)
//   crash    <store> <runId> <log>  start 'pipeline'; step c never finishes (the parent kills -9)
//   restart  <store> -       <log>  mastra.restartAllActiveWorkflowRuns(), then report the run
//
// The resume is given no requestContext: the approve step sees the one stored at start.
// Prints "DONE <json>" when its work is done, then does nothing (it must exit by itself).
import { appendFileSync } from 'node:fs'
import { createStep, createWorkflow, LibSQLStore, Mastra, PostgresStore, RequestContext } from '@lumosai/core'
import { z } from 'zod'

const [mode, storeUrl, runId, logFile] = process.argv.slice(2)
const storage = storeUrl.startsWith('postgres') ? new PostgresStore({ id: 'wf', connectionString: storeUrl }) : new LibSQLStore({ id: 'wf', url: storeUrl })
const ran = (id) => appendFileSync(logFile, `${id}\n`)
const done = (info) => process.stdout.write(`DONE ${JSON.stringify(info)}\n`)

const n = z.object({ n: z.number() })
const add = (id, k) =>
  createStep({
    id,
    inputSchema: n,
    outputSchema: n,
    execute: async ({ inputData }) => {
      ran(id)
      if (id === 'c' && mode === 'crash') {
        process.stdout.write('REACHED c\n')
        await new Promise(() => setInterval(() => {}, 1000))
      }
      return { n: inputData.n + k }
    },
  })

const approve = createStep({
  id: 'approve',
  inputSchema: n,
  outputSchema: z.object({ n: z.number(), by: z.string(), tenant: z.string() }),
  resumeSchema: z.object({ by: z.string() }),
  execute: async ({ inputData, resumeData, suspend, requestContext }) => {
    ran('approve')
    if (!resumeData) return suspend({ asked: inputData.n })
    return { n: inputData.n, by: resumeData.by, tenant: requestContext.get('tenant') }
  },
})

const approval = createWorkflow({ id: 'approval', inputSchema: n, outputSchema: z.any() })
  .then(add('a', 1))
  .then(approve)
  .commit()

const pipeline = createWorkflow({ id: 'pipeline', inputSchema: n, outputSchema: n })
  .then(add('a', 1))
  .then(add('b', 10))
  .then(add('c', 100))
  .then(add('d', 1000))
  .commit()

const mastra = new Mastra({ storage, workflows: { approval, pipeline } })

if (mode === 'suspend') {
  const run = await mastra.getWorkflow('approval').createRun({ runId })
  const r = await run.start({ inputData: { n: 1 }, requestContext: new RequestContext([['tenant', 't-1']]) })
  done({ status: r.status, suspended: r.suspended, suspendPayload: r.suspendPayload })
} else if (mode === 'resume') {
  const run = await mastra.getWorkflow('approval').createRun({ runId })
  const r = await run.resume({ step: 'approve', resumeData: { by: 'child' } })
  done({ status: r.status, result: r.result })
} else if (mode === 'crash') {
  const run = await mastra.getWorkflow('pipeline').createRun({ runId })
  await run.start({ inputData: { n: 0 } })
  done({ unexpected: 'the crashing step finished' })
} else if (mode === 'restart') {
  await mastra.restartAllActiveWorkflowRuns()
  const { runs } = await pipeline.listWorkflowRuns()
  done({ runs: runs.map((r) => ({ runId: r.runId, status: r.snapshot.status, result: r.snapshot.result })) })
} else {
  done({ unexpected: `unknown mode ${mode}` })
}
