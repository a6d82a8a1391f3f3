// Bun smoke test (`bun test __test__/bun`): the built package — facade, napi loader and native addon
// — under Bun: a generate() with one JS tool call, a stream(), and a child process that must exit by
// itself after a run (napi TSFNs and the tokio runtime must not keep Bun alive). napi-rs calls Bun
// support "best effort", so this is the check that backs our claim (style-anchors §2.9).
import { afterAll, beforeAll, expect, test } from 'bun:test'
import { spawnSync } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { z } from 'zod'

import { Agent, createStep, createTool, createWorkflow, LibSQLStore } from '../../index.js'
import { startMockProvider, toolResultsIn, type MockProvider } from '../helpers/mock-provider.ts'

let mock: MockProvider

beforeAll(async () => {
  mock = await startMockProvider()
})

afterAll(async () => {
  await mock?.close()
})

const model = () => ({ id: 'openai/gpt-4o-mini', url: mock.url, apiKey: 'test-key' })

test('generate: one JS tool call, its result goes back to the model, final text', async () => {
  const requestsBefore = mock.requests.length
  const calls: unknown[] = []
  const add = createTool({
    id: 'add',
    description: 'Add two numbers',
    inputSchema: z.object({ a: z.number(), b: z.number() }),
    execute: async (input: { a: number; b: number }) => {
      calls.push(input)
      return { sum: input.a + input.b }
    },
  })
  mock.enqueue(
    { toolCalls: [{ id: 'call_bun_add_1', name: 'add', args: { a: 2, b: 3 } }] },
    (req) => {
      const [result] = toolResultsIn(req.body)
      return { text: `The sum is ${JSON.parse(result?.content ?? '{}').sum}.` }
    },
  )
  const agent = new Agent({ id: 'calc', name: 'calc', instructions: 'Use the add tool.', model: model(), tools: { add } })

  const result = await agent.generate('What is 2 + 3?', { maxSteps: 5 })

  expect(calls).toEqual([{ a: 2, b: 3 }])
  expect(result.text).toBe('The sum is 5.')
  expect(result.finishReason).toBe('stop')
  expect(result.toolCalls.map((c: any) => [c.payload.toolName, c.payload.args])).toEqual([['add', { a: 2, b: 3 }]])
  expect(result.toolResults.map((r: any) => r.payload.result)).toEqual([{ sum: 5 }])
  const requests = mock.requests.slice(requestsBefore)
  expect(requests.length).toBe(2)
  expect(requests[0].headers.authorization).toBe('Bearer test-key')
  expect(requests[0].body.tools?.map((t: any) => t.function?.name)).toEqual(['add'])
  const sent = toolResultsIn(requests[1].body)
  expect(sent.map((r) => r.toolCallId)).toEqual(['call_bun_add_1'])
  expect(JSON.parse(sent[0].content)).toEqual({ sum: 5 })
})

test('stream: textStream yields the deltas in order, then text and finishReason resolve', async () => {
  const text = 'Hello from Bun, streamed in several pieces.'
  mock.enqueue({ text })
  const agent = new Agent({ id: 'streamer', name: 'streamer', instructions: 'x', model: model() })

  const stream = await agent.stream('hi')
  const chunks: string[] = []
  for await (const chunk of stream.textStream) chunks.push(chunk)

  expect(chunks.length).toBeGreaterThan(1)
  expect(chunks.join('')).toBe(text)
  expect(await stream.text).toBe(text)
  expect(await stream.finishReason).toBe('stop')
})

test('stream: fullStream carries Mastra chunks (start … text-delta … finish)', async () => {
  const text = 'Chunks, typed.'
  mock.enqueue({ text })
  const agent = new Agent({ id: 'chunks', name: 'chunks', instructions: 'x', model: model() })

  const stream = await agent.stream('hi')
  const chunks: any[] = []
  for await (const chunk of stream.fullStream) chunks.push(chunk)

  const types = chunks.map((c) => c.type)
  expect(types[0]).toBe('start')
  expect(types.at(-1)).toBe('finish')
  const deltas = chunks.filter((c) => c.type === 'text-delta')
  expect(deltas.length).toBeGreaterThan(1)
  expect(deltas.map((c) => c.payload.text).join('')).toBe(text)
})

test('workflow: steps, suspend and resume on a SQLite file, stream events', async () => {
  const n = z.object({ n: z.number() })
  const inc = createStep({ id: 'inc', inputSchema: n, outputSchema: n, execute: async ({ inputData }: any) => ({ n: inputData.n + 1 }) })
  const gate = createStep({
    id: 'gate',
    inputSchema: n,
    outputSchema: n,
    resumeSchema: z.object({ add: z.number() }),
    execute: async ({ inputData, resumeData, suspend }: any) => (resumeData ? { n: inputData.n + resumeData.add } : suspend({ at: inputData.n })),
  })
  const storage = new LibSQLStore({ id: 'bun-wf', url: `file:${join(mkdtempSync(join(tmpdir(), 'lumos-bun-wf-')), 'wf.db')}` })
  const wf = createWorkflow({ id: 'bun-wf', inputSchema: n, outputSchema: n, storage }).then(inc).then(gate).commit()

  const run = await wf.createRun()
  const events: string[] = []
  const out = run.stream({ inputData: { n: 1 } })
  for await (const e of out.fullStream) events.push(e.type)
  const first = await out.result
  expect(first.status).toBe('suspended')
  expect(first.suspendPayload).toEqual({ gate: { at: 2 } })
  expect(events[0]).toBe('workflow-start')
  expect(events.at(-1)).toBe('workflow-finish')

  const done = await (await wf.createRun({ runId: run.runId })).resume({ step: 'gate', resumeData: { add: 10 } })
  expect(done.status).toBe('success')
  expect(done.result).toEqual({ n: 12 })
  expect((await wf.getWorkflowRunById(run.runId))?.status).toBe('success')
})

test('a Bun process exits by itself after a run', () => {
  const fixture = fileURLToPath(new URL('./exit-fixture.ts', import.meta.url))
  const started = Date.now()
  const r = spawnSync(process.execPath, ['run', fixture], { encoding: 'utf8', timeout: 30_000 })
  if (r.status !== 0 || !r.stdout.includes('exit-fixture ok')) {
    throw new Error(
      `child did not exit cleanly within 30s (status ${r.status}, signal ${r.signal}, ${Date.now() - started}ms)\n--- stdout\n${r.stdout}\n--- stderr\n${r.stderr}`,
    )
  }
  expect(r.status).toBe(0)
}, 40_000)
