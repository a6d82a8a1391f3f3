// AI SDK embedding model objects (spec v2 and v3, hand-written here) as Memory's embedder: bridged
// into the native embedder, so batching by maxEmbeddingsPerCall, retries, the embedding cache and
// semantic recall work as with a router string; doEmbed errors are coded, abort reaches doEmbed,
// and a process using one exits by itself.
import test from 'ava'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

import { Agent, LibSQLStore, LibSQLVector, Memory } from '../index.js'
import { nativeEmbedder } from '../ts/embedding.js'
import { startMockProvider } from './helpers/mock-provider.js'

const DIM = 256

/** Deterministic bag-of-words vectors (unit norm): texts sharing words are similar. */
function bagOfWords(text: string): number[] {
  const v = new Array(DIM).fill(0)
  for (const w of text.toLowerCase().match(/[a-z]+/g) ?? []) {
    let h = 2166136261
    for (const c of w) h = Math.imul(h ^ c.charCodeAt(0), 16777619)
    v[(h >>> 0) % DIM] += 1
  }
  const n = Math.hypot(...v) || 1
  return v.map((x) => x / n)
}

interface Recorder {
  calls: string[][]
  maxConcurrent: number
  signals: AbortSignal[]
}

function embeddingModel(version: 'v2' | 'v3', opts: { perCall?: number | Promise<number>; parallel?: boolean | Promise<boolean>; delayMs?: number; doEmbed?: (values: string[], signal: AbortSignal) => Promise<any> } = {}) {
  const rec: Recorder = { calls: [], maxConcurrent: 0, signals: [] }
  let active = 0
  const model = {
    specificationVersion: version,
    provider: `hand-${version}`,
    modelId: 'bow-256',
    maxEmbeddingsPerCall: opts.perCall ?? 2048,
    supportsParallelCalls: opts.parallel ?? true,
    async doEmbed({ values, abortSignal }: { values: string[]; abortSignal?: AbortSignal; headers?: Record<string, string> }) {
      rec.calls.push(values)
      if (abortSignal) rec.signals.push(abortSignal)
      active++
      rec.maxConcurrent = Math.max(rec.maxConcurrent, active)
      try {
        if (opts.doEmbed) return await opts.doEmbed(values, abortSignal!)
        if (opts.delayMs) await new Promise((r) => setTimeout(r, opts.delayMs))
        const embeddings = values.map(bagOfWords)
        return version === 'v3' ? { embeddings, usage: { tokens: values.length }, warnings: [] } : { embeddings, usage: { tokens: values.length } }
      } finally {
        active--
      }
    },
  }
  return { model, rec }
}

const texts = (n: number) => Array.from({ length: n }, (_, i) => `text number ${i}`)

test('v2 model: batches of maxEmbeddingsPerCall, one call at a time without supportsParallelCalls', async (t) => {
  const { model, rec } = embeddingModel('v2', { perCall: 4, parallel: false, delayMs: 5 })
  const native = await nativeEmbedder(model)
  t.is(native.maxBatch, 4)
  const out = await native.embed(texts(10))
  t.deepEqual(rec.calls.map((c) => c.length), [4, 4, 2])
  t.is(rec.maxConcurrent, 1)
  t.is(out.count, 10)
  t.is(out.dimension, DIM)
  t.is(out.tokens, 10)
  // Vectors come back in input order.
  const ninth = Array.from(out.vectors.subarray(9 * DIM, 10 * DIM))
  bagOfWords('text number 9').forEach((x, i) => t.true(Math.abs(x - ninth[i]!) < 1e-6))
})

test('v3 model: promised maxEmbeddingsPerCall / supportsParallelCalls, batches run in parallel', async (t) => {
  const { model, rec } = embeddingModel('v3', { perCall: Promise.resolve(3), parallel: Promise.resolve(true), delayMs: 30 })
  const native = await nativeEmbedder(model)
  const out = await native.embed(texts(10))
  t.deepEqual(rec.calls.map((c) => c.length).sort(), [1, 3, 3, 3])
  t.deepEqual(rec.calls.flat().sort(), texts(10).sort())
  t.true(rec.maxConcurrent > 1, `max concurrent doEmbed calls: ${rec.maxConcurrent}`)
  t.is(out.count, 10)
  // embedderOptions.maxParallelCalls caps it.
  const capped = embeddingModel('v3', { perCall: 3, parallel: true, delayMs: 10 })
  await (await nativeEmbedder(capped.model, { maxParallelCalls: 1 })).embed(texts(10))
  t.is(capped.rec.maxConcurrent, 1)
})

for (const version of ['v2', 'v3'] as const) {
  test(`${version} model as Memory embedder: agent recall works through it, each text embedded once`, async (t) => {
    const chat = await startMockProvider({ fallback: { text: 'noted' } })
    t.teardown(() => chat.close())
    const { model, rec } = embeddingModel(version, { perCall: 2 })
    const memory = new Memory({
      storage: new LibSQLStore({ id: 's', url: ':memory:' }),
      vector: new LibSQLVector({ id: 'v', url: ':memory:' }),
      embedder: model,
      options: { lastMessages: 2, semanticRecall: { topK: 1, messageRange: 0 } },
    })
    const agent = new Agent({ id: 'r', name: 'r', instructions: 'sys', model: { id: 'openai/gpt-4o-mini', url: chat.url, apiKey: 'k' }, memory })
    const on = (thread: string) => ({ memory: { thread, resource: 'user-1' } })
    await agent.generate('my sister lives in Porto', on('t1'))
    for (const q of ['tell me about rockets', 'how do bees fly', 'what is jazz']) await agent.generate(q, on('t1'))
    await agent.generate('where does my sister live?', on('t2'))
    const prompt = chat.requests.at(-1)!.body.messages.map((m: any) => m.content)
    t.deepEqual(prompt, ['sys', 'my sister lives in Porto', 'where does my sister live?'])
    // Every doEmbed call respects maxEmbeddingsPerCall; the repeated "noted" answer is embedded once.
    t.true(rec.calls.length >= 5)
    t.true(rec.calls.every((c) => c.length <= 2))
    const sent = rec.calls.flat()
    t.is(sent.filter((x) => x === 'noted').length, 1)
    t.is(new Set(sent).size, sent.length, 'no text reached doEmbed twice')
    const { messages } = await memory.recall({ threadId: 't2', resourceId: 'user-1', vectorSearchString: 'sister Porto' })
    t.deepEqual(messages.map((m) => m.content.parts[0].text), ['my sister lives in Porto'])
  })
}

function memoryWith(model: object, embedderOptions?: object) {
  return new Memory({
    storage: new LibSQLStore({ id: 's', url: ':memory:' }),
    vector: new LibSQLVector({ id: 'v', url: ':memory:' }),
    embedder: model,
    embedderOptions,
    options: { semanticRecall: true },
  })
}

test('a throwing doEmbed fails the run with MODEL_BRIDGE_FAILED (not retried) before any model call', async (t) => {
  const chat = await startMockProvider({ fallback: { text: 'hi' } })
  t.teardown(() => chat.close())
  const { model, rec } = embeddingModel('v2', {
    doEmbed: async () => {
      throw new Error('embedding service exploded')
    },
  })
  const agent = new Agent({ id: 'e', name: 'e', instructions: 'sys', model: { id: 'openai/gpt-4o-mini', url: chat.url, apiKey: 'k' }, memory: memoryWith(model) })
  const err: any = await t.throwsAsync(agent.generate('hello', { memory: { thread: 't', resource: 'u' } }))
  t.is(err.code, 'MODEL_BRIDGE_FAILED')
  t.regex(err.message, /embedding service exploded/)
  t.is(rec.calls.length, 1)
  t.is(chat.requests.length, 0)
})

test('an APICallError-like doEmbed failure (statusCode 503) is retried, then PROVIDER_HTTP_ERROR', async (t) => {
  const { model, rec } = embeddingModel('v3', {
    doEmbed: async () => {
      throw Object.assign(new Error('overloaded'), { statusCode: 503, responseBody: '{"error":"busy"}', responseHeaders: { 'retry-after-ms': '10' } })
    },
  })
  const memory = memoryWith(model, { maxRetries: 2 })
  const err: any = await t.throwsAsync(memory.recall({ threadId: 't', resourceId: 'u', vectorSearchString: 'anything' }))
  t.is(err.code, 'PROVIDER_HTTP_ERROR')
  t.is(err.status, 503)
  t.is(rec.calls.length, 3, 'one call and two retries')
})

test('aborting a run aborts the doEmbed in flight', async (t) => {
  const chat = await startMockProvider({ fallback: { text: 'hi' } })
  t.teardown(() => chat.close())
  const controller = new AbortController()
  let abortedAt = 0
  const { model, rec } = embeddingModel('v2', {
    doEmbed: (_values, signal) =>
      new Promise((_, reject) => {
        signal.addEventListener('abort', () => reject(new Error('aborted by signal')), { once: true })
        // Abort the run once doEmbed is in flight (it never answers by itself).
        setTimeout(() => {
          abortedAt = Date.now()
          controller.abort()
        }, 20)
      }),
  })
  const agent = new Agent({ id: 'a', name: 'a', instructions: 'sys', model: { id: 'openai/gpt-4o-mini', url: chat.url, apiKey: 'k' }, memory: memoryWith(model) })
  const err: any = await t.throwsAsync(agent.generate('hello', { memory: { thread: 't', resource: 'u' }, abortSignal: controller.signal }))
  t.is(err.code, 'ABORTED')
  t.true(Date.now() - abortedAt < 3000)
  // The cancel reaches JS right after the native side gives up.
  for (let i = 0; i < 50 && !rec.signals[0]?.aborted; i++) await new Promise((r) => setTimeout(r, 10))
  t.is(rec.signals.length, 1)
  t.true(rec.signals[0]!.aborted)
  t.is(chat.requests.length, 0)
})

test('a process using a bridged embedding model exits by itself', async (t) => {
  const chat = await startMockProvider({ fallback: { text: 'noted' } })
  t.teardown(() => chat.close())
  const child = spawn(process.execPath, [fileURLToPath(new URL('./helpers/embed-exit-child.mjs', import.meta.url))], {
    cwd: fileURLToPath(new URL('..', import.meta.url)),
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { ...process.env, MOCK_URL: chat.url },
  })
  let stdout = ''
  let stderr = ''
  let doneAt = 0
  child.stdout.on('data', (d) => {
    stdout += d
    if (!doneAt && stdout.includes('DONE ')) doneAt = Date.now()
  })
  child.stderr.on('data', (d) => (stderr += d))
  const killer = setTimeout(() => child.kill('SIGKILL'), 20_000)
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => child.on('exit', (c, s) => resolve([c, s])))
  clearTimeout(killer)
  const line = stdout.split('\n').find((l) => l.startsWith('DONE '))
  t.truthy(line, `child never finished\nstdout: ${stdout}\nstderr: ${stderr}`)
  t.deepEqual(JSON.parse(line!.slice(5)), { recalled: ['my sister lives in Porto'], calls: true })
  t.is(signal, null, `child had to be killed\nstderr: ${stderr}`)
  t.is(code, 0, stderr)
  t.true(Date.now() - doneAt < 5000)
})
