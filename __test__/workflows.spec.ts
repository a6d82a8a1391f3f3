// Workflows through the public API on SQLite (a file) and PostgreSQL: every control-flow
// operator, nested workflows, agent and tool steps against the mock model, suspend/resume in one
// process and across two, a SIGKILL in the middle of a run and restartAllActiveWorkflowRuns,
// concurrent resumes, cancel, streams, retries, and the errors users see.
import test from 'ava'
import { spawn } from 'node:child_process'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { z } from 'zod'

import { Agent, createStep, createTool, createWorkflow, LibSQLStore, Mastra, PostgresStore, RequestContext } from '../index.js'
import type { LumosStorage } from '../ts/storage.js'
import { collect, sleep } from './helpers/agent-utils.js'
import { startMockProvider } from './helpers/mock-provider.js'
import { postgresTests } from './helpers/postgres.js'

const repoRoot = fileURLToPath(new URL('..', import.meta.url))
const CHILD = fileURLToPath(new URL('./helpers/workflow-child.mjs', import.meta.url))

const fileUrl = () => `file:${join(mkdtempSync(join(tmpdir(), 'lumos-wf-')), 'wf.db')}`
const sqlite = () => new LibSQLStore({ id: 'wf', url: fileUrl() })
const n = z.object({ n: z.number() })

/** A step adding `k` to `n`, counting its calls in `calls`. */
function adder(id: string, k: number, calls?: Map<string, number>) {
  return createStep({
    id,
    inputSchema: n,
    outputSchema: n,
    execute: async ({ inputData }) => {
      calls?.set(id, (calls.get(id) ?? 0) + 1)
      return { n: inputData.n + k }
    },
  })
}

// ---------------------------------------------------------------------------------------------
// Scenarios run on both stores.

type Scenario = (t: any, storage: LumosStorage) => Promise<void>
const scenarios: [string, Scenario][] = []
const scenario = (title: string, fn: Scenario) => scenarios.push([title, fn])

scenario('then, parallel, branch, map, sleep and sleepUntil', async (t, storage) => {
  const double = createStep({ id: 'double', inputSchema: n, outputSchema: n, execute: async ({ inputData }) => ({ n: inputData.n * 2 }) })
  const big = createStep({ id: 'big', inputSchema: n, outputSchema: z.object({ size: z.string() }), execute: async () => ({ size: 'big' }) })
  const small = createStep({ id: 'small', inputSchema: n, outputSchema: z.object({ size: z.string() }), execute: async () => ({ size: 'small' }) })
  const wf = createWorkflow({ id: 'ops', inputSchema: n, outputSchema: z.any(), storage })
    .then(adder('one', 1))
    .parallel([adder('p1', 10), double])
    .map(async ({ inputData }) => ({ n: inputData.p1.n + inputData.double.n }))
    .sleep(5)
    .sleepUntil(new Date(Date.now() + 5))
    .branch([
      [async ({ inputData }) => inputData.n > 100, big],
      [async ({ inputData }) => inputData.n <= 100, small],
    ])
    .map({ size: { step: [big, small], path: 'size' }, input: { initData: true, path: 'n' }, fixed: { value: 7 } })
    .commit()
  const run = await wf.createRun()
  const r = await run.start({ inputData: { n: 2 } })
  t.is(r.status, 'success')
  // 2+1 = 3; p1 = 13, double = 6; sum 19 → small
  t.deepEqual(r.steps.p1.output, { n: 13 })
  t.deepEqual(r.steps.double.output, { n: 6 })
  t.is(r.steps.big, undefined)
  t.deepEqual(r.result, { size: 'small', input: 2, fixed: 7 })
  t.deepEqual(r.steps.input, { n: 2 })
  t.deepEqual(r.steps.small.output, { size: 'small' })
  t.is(r.steps.sleep_ops_1.status, 'success')
})

scenario('dowhile, dountil and foreach with a concurrency limit', async (t, storage) => {
  let inFlight = 0
  let maxInFlight = 0
  const slowSquare = createStep({
    id: 'square',
    inputSchema: z.number(),
    outputSchema: z.number(),
    execute: async ({ inputData }) => {
      maxInFlight = Math.max(maxInFlight, ++inFlight)
      await sleep(15)
      inFlight--
      return inputData * inputData
    },
  })
  const wf = createWorkflow({ id: 'loops', inputSchema: n, outputSchema: z.any(), storage })
    .dowhile(adder('inc', 1), async ({ inputData }) => inputData.n < 5)
    .dountil(adder('ten', 10), async ({ inputData, iterationCount }) => inputData.n >= 30 && iterationCount >= 1)
    .map(async ({ inputData }) => [1, 2, 3, 4, 5, 6].map((x) => x + inputData.n - 35))
    .foreach(slowSquare, { concurrency: 2 })
    .commit()
  const r = await (await wf.createRun()).start({ inputData: { n: 0 } })
  t.is(r.status, 'success')
  // dowhile: 0→5; dountil: 15, 25, 35; map: [1..6]; squares
  t.deepEqual(r.result, [1, 4, 9, 16, 25, 36])
  t.is(maxInFlight, 2, 'foreach runs at most `concurrency` items at once')
  t.throws(() => createWorkflow({ id: 'bad' }).foreach(slowSquare, { concurrency: 0 }), { code: 'INVALID_INPUT' })
})

scenario('nested workflows, state and setState, getStepResult and getInitData', async (t, storage) => {
  const counted = createStep({
    id: 'counted',
    inputSchema: n,
    outputSchema: n,
    stateSchema: z.object({ seen: z.number() }),
    execute: async ({ inputData, state, setState }) => {
      await setState({ ...state, seen: state.seen + 1 })
      return inputData
    },
  })
  const inner = createWorkflow({ id: 'inner', inputSchema: n, outputSchema: n }).then(adder('i1', 1)).then(counted).then(adder('i2', 2)).commit()
  const report = createStep({
    id: 'report',
    inputSchema: n,
    outputSchema: z.any(),
    execute: async ({ inputData, state, getStepResult, getInitData }) => ({ final: inputData.n, state, first: getStepResult('first'), init: getInitData() }),
  })
  const outer = createWorkflow({ id: 'outer', inputSchema: n, outputSchema: z.any(), stateSchema: z.object({ seen: z.number() }), storage })
    .then(adder('first', 100))
    .then(inner)
    .then(counted)
    .then(report)
    .commit()
  const r = await (await outer.createRun()).start({ inputData: { n: 1 }, initialState: { seen: 0 } })
  t.is(r.status, 'success', JSON.stringify(r.error))
  t.deepEqual(r.steps.inner.output, { n: 104 })
  t.deepEqual(r.result, { final: 104, state: { seen: 2 }, first: { n: 101 }, init: { n: 1 } })
})

scenario('suspend, read the stored run, resume; listWorkflowRuns filters by status and resource', async (t, storage) => {
  const approve = createStep({
    id: 'approve',
    inputSchema: n,
    outputSchema: z.object({ n: z.number(), by: z.string() }),
    resumeSchema: z.object({ by: z.string() }),
    suspendSchema: z.object({ asked: z.number() }),
    execute: async ({ inputData, resumeData, suspend }) => {
      if (!resumeData) return suspend({ asked: inputData.n })
      return { n: inputData.n, by: resumeData.by }
    },
  })
  const calls = new Map<string, number>()
  const wf = createWorkflow({ id: 'approval', inputSchema: n, outputSchema: z.any(), storage }).then(adder('a', 1, calls)).then(approve).then(adder('after', 0, calls)).commit()
  const run = await wf.createRun({ runId: 'r-1', resourceId: 'user-1' })
  const first = await run.start({ inputData: { n: 1 } })
  t.is(first.status, 'suspended')
  t.deepEqual(first.suspended, [['approve']])
  t.deepEqual(first.suspendPayload, { approve: { asked: 2 } })

  const stored = await wf.getWorkflowRunById('r-1')
  t.is(stored?.status, 'suspended')
  t.is(stored?.resourceId, 'user-1')
  t.is(stored?.workflowName, 'approval')
  t.deepEqual(stored?.steps.a.output, { n: 2 })
  t.is(await wf.getWorkflowRunById('nope'), null)

  await (await wf.createRun({ runId: 'r-2', resourceId: 'user-2' })).start({ inputData: { n: 5 } })
  const suspendedRuns = await wf.listWorkflowRuns({ status: 'suspended' })
  t.is(suspendedRuns.total, 2)
  t.deepEqual((await wf.listWorkflowRuns({ resourceId: 'user-2' })).runs.map((r) => r.runId), ['r-2'])
  t.is((await wf.listWorkflowRuns({ perPage: 1, page: 0 })).runs.length, 1)

  const invalid = await t.throwsAsync(run.resume({ step: 'approve', resumeData: { by: 42 } }), { code: 'WORKFLOW_SCHEMA_VALIDATION_FAILED' })
  t.regex(invalid!.message, /Invalid resume data: \n- by: /)
  await t.throwsAsync(run.resume({ resumeData: { by: 42 } }), { code: 'WORKFLOW_SCHEMA_VALIDATION_FAILED' }, 'without `step`, the stored suspended step is checked')
  t.is((await wf.getWorkflowRunById('r-1'))?.status, 'suspended', 'rejected resume data leaves the run suspended')
  const done = await run.resume({ step: approve, resumeData: { by: 'ann' } })
  t.is(done.status, 'success', JSON.stringify(done.error))
  t.deepEqual(done.steps.approve.output, { n: 2, by: 'ann' })
  t.deepEqual(done.result, { n: 2 })
  t.is(calls.get('after'), 1)
  t.is(calls.get('a'), 2, 'once for each of the two runs: steps completed before the suspension are not run again')
  t.is((await wf.getWorkflowRunById('r-1'))?.status, 'success')
  await t.throwsAsync(run.resume({ step: 'approve', resumeData: { by: 'x' } }), { code: 'WORKFLOW_RUN_NOT_SUSPENDED' })
  await wf.deleteWorkflowRunById('r-2')
  t.is(await wf.getWorkflowRunById('r-2'), null)
})

scenario('two simultaneous resumes: exactly one proceeds, the other gets a coded error', async (t, storage) => {
  let resumedRuns = 0
  const gate = createStep({
    id: 'gate',
    inputSchema: n,
    outputSchema: n,
    execute: async ({ inputData, resumeData, suspend }) => {
      if (!resumeData) return suspend({})
      resumedRuns++
      await sleep(20)
      return { n: inputData.n + resumeData.add }
    },
  })
  const wf = createWorkflow({ id: 'race', inputSchema: n, outputSchema: n, storage }).then(gate).commit()
  await (await wf.createRun({ runId: 'race-1' })).start({ inputData: { n: 0 } })
  const [a, b] = await Promise.allSettled([
    (await wf.createRun({ runId: 'race-1' })).resume({ step: 'gate', resumeData: { add: 1 } }),
    (await wf.createRun({ runId: 'race-1' })).resume({ step: 'gate', resumeData: { add: 2 } }),
  ])
  const outcomes = [a, b]
  const won = outcomes.filter((o) => o.status === 'fulfilled')
  const lost = outcomes.filter((o) => o.status === 'rejected') as PromiseRejectedResult[]
  t.is(won.length, 1)
  t.is(lost.length, 1)
  t.is(lost[0].reason.code, 'WORKFLOW_RUN_NOT_SUSPENDED')
  t.is(resumedRuns, 1)
  const stored = await wf.getWorkflowRunById('race-1')
  t.is(stored?.status, 'success')
  t.deepEqual(stored?.result, (won[0] as PromiseFulfilledResult<any>).value.result)
})

scenario('cancel aborts the running step and stores the run as canceled', async (t, storage) => {
  let aborted = false
  let started!: () => void
  const running = new Promise<void>((r) => (started = r))
  const slow = createStep({
    id: 'slow',
    inputSchema: n,
    outputSchema: n,
    execute: async ({ inputData, abortSignal }) => {
      started()
      await new Promise<void>((resolve) => abortSignal.addEventListener('abort', () => ((aborted = true), resolve()), { once: true }))
      return inputData
    },
  })
  const calls = new Map<string, number>()
  const wf = createWorkflow({ id: 'cancel', inputSchema: n, outputSchema: n, storage }).then(slow).then(adder('never', 1, calls)).commit()
  const run = await wf.createRun()
  const result = run.start({ inputData: { n: 1 } })
  await running
  await run.cancel()
  const r = await result
  t.is(r.status, 'canceled')
  t.true(aborted)
  t.is(calls.get('never'), undefined)
  t.is((await wf.getWorkflowRunById(run.runId))?.status, 'canceled')
})

scenario('a throwing step fails the run with its error and step id; retries re-run it', async (t, storage) => {
  const boom = createStep({
    id: 'boom',
    inputSchema: n,
    outputSchema: n,
    execute: async () => {
      throw new Error('the disk is full')
    },
  })
  const calls = new Map<string, number>()
  const wf = createWorkflow({ id: 'fails', inputSchema: n, outputSchema: n, storage }).then(adder('ok', 1, calls)).then(boom).then(adder('never', 1, calls)).commit()
  const r = await (await wf.createRun()).start({ inputData: { n: 1 } })
  t.is(r.status, 'failed')
  t.is(r.error?.message, 'the disk is full')
  t.is(r.error?.stepId, 'boom')
  t.is(r.steps.boom.status, 'failed')
  t.is(calls.get('never'), undefined)

  let attempts = 0
  const flaky = createStep({
    id: 'flaky',
    retries: 2,
    inputSchema: n,
    outputSchema: n,
    execute: async ({ inputData, retryCount }) => {
      attempts++
      if (retryCount < 2) throw new Error(`attempt ${retryCount} failed`)
      return inputData
    },
  })
  const retried = await (await createWorkflow({ id: 'retries', inputSchema: n, outputSchema: n, storage }).then(flaky).commit().createRun()).start({ inputData: { n: 3 } })
  t.is(retried.status, 'success')
  t.is(attempts, 3)
})

scenario('bad inputData is rejected before any step runs', async (t, storage) => {
  const calls = new Map<string, number>()
  const wf = createWorkflow({ id: 'validated', inputSchema: n, outputSchema: n, storage }).then(adder('a', 1, calls)).commit()
  const run = await wf.createRun({ runId: 'bad-input' })
  const err = await t.throwsAsync(run.start({ inputData: { n: 'one' } as any }), { code: 'WORKFLOW_SCHEMA_VALIDATION_FAILED' })
  t.regex(err!.message, /Invalid input data/)
  t.regex(err!.message, /n/)
  t.is(calls.get('a'), undefined)
  t.is(await wf.getWorkflowRunById('bad-input'), null)
})

scenario('stream() yields typed events in order, then the result', async (t, storage) => {
  const approve = createStep({
    id: 'wait',
    inputSchema: n,
    outputSchema: n,
    execute: async ({ inputData, resumeData, suspend }) => (resumeData ? inputData : suspend({ why: 'check' })),
  })
  const wf = createWorkflow({ id: 'streamed', inputSchema: n, outputSchema: n, storage }).then(adder('a', 1)).then(approve).commit()
  const run = await wf.createRun()
  const out = run.stream({ inputData: { n: 1 } })
  const events = await collect(out.fullStream)
  t.deepEqual(
    events.map((e) => `${e.type}:${e.payload?.id ?? ''}`),
    ['workflow-start:', 'workflow-step-start:a', 'workflow-step-result:a', 'workflow-step-start:wait', 'workflow-step-suspended:wait', 'workflow-finish:'],
  )
  t.true(events.every((e) => e.runId === run.runId && e.from === 'WORKFLOW'))
  t.deepEqual(events[2].payload.output, { n: 2 })
  t.is(events[5].payload.workflowStatus, 'suspended')
  t.is((await out.result).status, 'suspended')
  t.is(out.status, 'suspended')

  const resumed = run.resumeStream({ step: 'wait', resumeData: {} })
  const types = (await collect(resumed.fullStream)).map((e) => e.type)
  t.is(types[types.length - 1], 'workflow-finish')
  t.true(types.includes('workflow-step-result'))
  t.is((await resumed.result).status, 'success')
})

// ---------------------------------------------------------------------------------------------

scenario('a run started again while it is suspended is refused (also one whose id createRun generated)', async (t, storage) => {
  const wait = createStep({ id: 'wait', inputSchema: n, outputSchema: n, execute: async ({ inputData, suspend, resumeData }) => (resumeData ? inputData : await suspend({})) })
  const wf = createWorkflow({ id: 'twice', inputSchema: n, outputSchema: n, storage }).then(wait).commit()
  const run = await wf.createRun()
  t.is((await run.start({ inputData: { n: 1 } })).status, 'suspended')
  const again = await run.start({ inputData: { n: 2 } }).catch((e) => e)
  t.is(again.code, 'WORKFLOW_RUN_ACTIVE')
  const byId = await (await wf.createRun({ runId: run.runId })).start({ inputData: { n: 3 } }).catch((e) => e)
  t.is(byId.code, 'WORKFLOW_RUN_ACTIVE')
  t.is((await wf.getWorkflowRunById(run.runId))?.status, 'suspended')
})

for (const [title, fn] of scenarios) test(`SQLite: ${title}`, (t) => fn(t, sqlite()))
const pgTest = postgresTests()
for (const [title, fn] of scenarios) pgTest(`PostgreSQL: ${title}`, (t, url) => fn(t, new PostgresStore({ id: 'wf', connectionString: url })))

// ---------------------------------------------------------------------------------------------
// Build-time checks and the registry.

test('a step whose input does not fit the previous output is an error at commit()', (t) => {
  const toText = createStep({ id: 'toText', inputSchema: n, outputSchema: z.object({ text: z.string() }), execute: async () => ({ text: 'x' }) })
  const needsN = createStep({ id: 'needsN', inputSchema: n, outputSchema: n, execute: async ({ inputData }) => inputData })
  const wf = createWorkflow({ id: 'misfit', inputSchema: n, outputSchema: n }).then(toText).then(needsN)
  const err = t.throws(() => wf.commit(), { code: 'WORKFLOW_SCHEMA_MISMATCH' })
  t.regex(err!.message, /needsN/)
  t.regex(err!.message, /\bn\b/)
  t.notThrows(() => createWorkflow({ id: 'fits', inputSchema: n, outputSchema: n }).then(adder('x', 1)).then(needsN).commit())
  t.throws(() => createStep({ id: 'noexec' } as any), { code: 'INVALID_INPUT' })
})

test('Mastra registers workflows and gives them its storage', async (t) => {
  const storage = sqlite()
  const wf = createWorkflow({ id: 'registered', inputSchema: n, outputSchema: n }).then(adder('a', 1)).commit()
  const mastra = new Mastra({ storage, workflows: { reg: wf } })
  t.is(mastra.getWorkflow('reg'), wf)
  t.is(mastra.getWorkflowById('registered'), wf)
  t.deepEqual(Object.keys(mastra.listWorkflows()), ['reg'])
  t.throws(() => mastra.getWorkflow('missing'), { code: 'WORKFLOW_NOT_FOUND' })
  const r = await (await mastra.getWorkflow('reg').createRun({ runId: 'in-registry' })).start({ inputData: { n: 1 } })
  t.is(r.status, 'success')
  // The run is in the registry's store: a second workflow object on the same storage sees it.
  const other = createWorkflow({ id: 'registered', inputSchema: n, outputSchema: n, storage }).then(adder('a', 1)).commit()
  t.is((await other.getWorkflowRunById('in-registry'))?.status, 'success')
})

test('agent and tool steps: the agent answers through the mock model, the tool runs with its schema', async (t) => {
  const mock = await startMockProvider()
  t.teardown(() => mock.close())
  mock.enqueue({ text: 'Paris' })
  const agent = new Agent({ id: 'geo', name: 'geo', instructions: 'Answer with a city.', model: { id: 'openai/gpt-4o-mini', url: mock.url, apiKey: 'k' } })
  const shout = createTool({
    id: 'shout',
    description: 'Upper-cases text',
    inputSchema: z.object({ text: z.string() }),
    outputSchema: z.object({ loud: z.string() }),
    execute: async ({ text }) => ({ loud: text.toUpperCase() }),
  })
  const wf = createWorkflow({ id: 'ask', inputSchema: z.object({ question: z.string() }), outputSchema: z.object({ loud: z.string() }) })
    .map(async ({ inputData }) => ({ prompt: inputData.question }))
    .then(createStep(agent))
    .then(createStep(shout))
    .commit()
  const ctx = new RequestContext([['user', 'u1']])
  const r = await (await wf.createRun()).start({ inputData: { question: 'Capital of France?' }, requestContext: ctx })
  t.is(r.status, 'success', JSON.stringify(r.error))
  t.deepEqual(r.steps.geo.output, { text: 'Paris' })
  t.deepEqual(r.result, { loud: 'PARIS' })
  t.is(mock.requests.length, 1)
  t.is(mock.requests[0].body.messages.at(-1).content, 'Capital of France?')
})

// ---------------------------------------------------------------------------------------------
// Across processes.

interface ChildResult {
  code: number | null
  signal: NodeJS.Signals | null
  done: any
  stdout: string
  stderr: string
  exitAfterDoneMs: number
}

/** Runs the child; `onLine` may kill it. Resolves when it exits (killed after 20 s). */
function runChild(args: string[], onLine?: (line: string, kill: () => void) => void): Promise<ChildResult> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CHILD, ...args], { cwd: repoRoot, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    let done: any
    let doneAt = 0
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.stdout.on('data', (d) => {
      const before = stdout.length
      stdout += d
      for (const line of stdout.slice(stdout.lastIndexOf('\n', before) + 1).split('\n').slice(0, -1)) {
        if (line.startsWith('DONE ') && !doneAt) {
          doneAt = Date.now()
          done = JSON.parse(line.slice(5))
        }
        onLine?.(line, () => child.kill('SIGKILL'))
      }
    })
    child.stderr.on('data', (d) => (stderr += d))
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, done, stdout, stderr, exitAfterDoneMs: doneAt ? Date.now() - doneAt : -1 })
    })
  })
}

const stepLog = (file: string) =>
  readFileSync(file, 'utf8')
    .split('\n')
    .filter(Boolean)
    .reduce((m, id) => m.set(id, (m.get(id) ?? 0) + 1), new Map<string, number>())

async function crossProcess(t: any, store: string) {
  const log = join(mkdtempSync(join(tmpdir(), 'lumos-wf-log-')), 'steps.log')
  writeFileSync(log, '')
  const started = await runChild(['suspend', store, 'x-1', log])
  t.is(started.code, 0, started.stderr)
  t.deepEqual(started.done, { status: 'suspended', suspended: [['approve']], suspendPayload: { approve: { asked: 2 } } })
  t.true(started.exitAfterDoneMs < 5_000, 'the process exits by itself once its run has suspended')
  const resumed = await runChild(['resume', store, 'x-1', log])
  t.is(resumed.code, 0, resumed.stderr)
  t.deepEqual(resumed.done, { status: 'success', result: { n: 2, by: 'child', tenant: 't-1' } })
  t.deepEqual(Object.fromEntries(stepLog(log)), { a: 1, approve: 2 })
}

async function crashAndRestart(t: any, store: string) {
  const log = join(mkdtempSync(join(tmpdir(), 'lumos-wf-log-')), 'steps.log')
  writeFileSync(log, '')
  const crashed = await runChild(['crash', store, 'k-1', log], (line, kill) => line === 'REACHED c' && kill())
  t.is(crashed.signal, 'SIGKILL', crashed.stderr)
  t.deepEqual(Object.fromEntries(stepLog(log)), { a: 1, b: 1, c: 1 })
  const restarted = await runChild(['restart', store, '-', log])
  t.is(restarted.code, 0, restarted.stderr)
  t.deepEqual(restarted.done.runs, [{ runId: 'k-1', status: 'success', result: { n: 1111 } }])
  // a and b completed before the kill and are not run again; c was in flight and runs again.
  t.deepEqual(Object.fromEntries(stepLog(log)), { a: 1, b: 1, c: 2, d: 1 })
  t.true(restarted.exitAfterDoneMs < 5_000)
}

test('SQLite: a run suspended in one process is resumed in another', (t) => crossProcess(t, fileUrl()))
test('SQLite: SIGKILL mid-run, then restartAllActiveWorkflowRuns continues from the last completed step', (t) => crashAndRestart(t, fileUrl()))
pgTest('PostgreSQL: a run suspended in one process is resumed in another', (t, url) => crossProcess(t, url))
pgTest('PostgreSQL: SIGKILL mid-run, then restartAllActiveWorkflowRuns continues from the last completed step', (t, url) => crashAndRestart(t, url))
