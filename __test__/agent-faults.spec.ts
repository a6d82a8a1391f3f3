// Provider faults: retries (5xx, 429 + Retry-After), non-retried 4xx, malformed and truncated
// responses, connection failures, hangs + abort — all as coded errors, never a crash.
import test from 'ava'
import http from 'node:http'
import type { AddressInfo } from 'node:net'
import { z } from 'zod'

import { AbortError, Agent, createTool, LumosError, ProviderError } from '../index.js'
import { anthropicModel, collect, coreTypes, openaiModel, sleep, withMock } from './helpers/agent-utils.js'
import { fixtureExchanges, fixtureJson, type MockProvider } from './helpers/mock-provider.js'

const agentOn = (mock: MockProvider, extra: Record<string, unknown> = {}, model: any = openaiModel(mock)) =>
  new Agent({ id: 'faulty', name: 'faulty', instructions: 'x', model, ...extra })

function assertProviderError(t: any, err: any, code: string) {
  t.true(err instanceof Error, 'is an Error')
  t.true(err instanceof LumosError, 'is a LumosError')
  t.true(err instanceof ProviderError, 'is a ProviderError')
  t.is(err.code, code, err.message)
}

// ---------------------------------------------------------------------------------------------
// Retries
// ---------------------------------------------------------------------------------------------

test(
  'openai: a 500 is retried (default maxRetries 2) and the run succeeds',
  withMock(async (t: any, mock) => {
    mock.enqueue({ status: 500 }, { text: 'second time lucky' })
    const result: any = await agentOn(mock).generate('hi')
    t.is(result.text, 'second time lucky')
    t.is(mock.requests.length, 2)
    t.deepEqual(mock.requests[0].body, mock.requests[1].body)
  }),
)

test(
  'anthropic: 529 overloaded then 500 are retried and the run succeeds',
  withMock(async (t: any, mock) => {
    mock.enqueue({ status: 529 }, { status: 500 }, { text: 'finally' })
    const result: any = await agentOn(mock, {}, anthropicModel(mock)).generate('hi')
    t.is(result.text, 'finally')
    t.is(mock.requests.length, 3)
  }),
)

test(
  '429 with Retry-After: 1 is honoured (about a second passes before the retry)',
  withMock(async (t: any, mock) => {
    mock.enqueue({ status: 429, headers: { 'retry-after': '1' } }, { text: 'after waiting' })
    const start = Date.now()
    const result: any = await agentOn(mock).generate('hi')
    t.is(result.text, 'after waiting')
    t.is(mock.requests.length, 2)
    const gap = mock.requests[1].receivedAt - mock.requests[0].receivedAt
    t.true(gap >= 900, `retry came after ${gap} ms`)
    t.true(Date.now() - start >= 900)
  }),
)

test(
  'retries exhausted: the last HTTP error rejects with status and body',
  withMock(async (t: any, mock) => {
    mock.enqueue({ status: 500 }, { status: 502 }, { status: 503, body: { error: { message: 'still down' } } }, { text: 'unreached' })
    const err: any = await t.throwsAsync(agentOn(mock, { maxRetries: 1 }).generate('hi'))
    assertProviderError(t, err, 'PROVIDER_HTTP_ERROR')
    t.is(mock.requests.length, 2)
    t.is(err.status, 502)
    t.is(mock.remaining(), 2)
  }),
)

test(
  'maxRetries 0 on the agent: one attempt only',
  withMock(async (t: any, mock) => {
    mock.enqueue({ status: 500 }, { text: 'unreached' })
    const err: any = await t.throwsAsync(agentOn(mock, { maxRetries: 0 }).generate('hi'))
    assertProviderError(t, err, 'PROVIDER_HTTP_ERROR')
    t.is(err.status, 500)
    t.is(mock.requests.length, 1)
  }),
)

test(
  'modelSettings.maxRetries overrides the default',
  withMock(async (t: any, mock) => {
    mock.enqueue({ status: 500 }, { text: 'unreached' })
    const err: any = await t.throwsAsync(agentOn(mock).generate('hi', { modelSettings: { maxRetries: 0 } }))
    t.is(err.code, 'PROVIDER_HTTP_ERROR')
    t.is(mock.requests.length, 1)
  }),
)

test(
  'stream(): a 500 before any output is retried transparently',
  withMock(async (t: any, mock) => {
    mock.enqueue({ status: 500 }, { text: 'streamed after retry' })
    const s: any = await agentOn(mock).stream('hi')
    const chunks: any[] = await collect(s.fullStream)
    t.false(coreTypes(chunks).includes('error'))
    t.is(await s.text, 'streamed after retry')
    t.is(mock.requests.length, 2)
  }),
)

test(
  'anthropic recorded transcript: two 429 rate_limit_error responses, then a streamed answer',
  withMock(async (t: any, mock) => {
    mock.enqueue(...fixtureExchanges('anthropic-429-retry-then-stream.exchanges.json'))
    const s: any = await agentOn(mock, {}, anthropicModel(mock)).stream('Extract order IDs')
    t.is(await s.text, '[12345,67890]')
    t.like(await s.usage, { inputTokens: 135, outputTokens: 10 })
    t.is(mock.requests.length, 3)
  }),
)

// ---------------------------------------------------------------------------------------------
// Non-retried errors
// ---------------------------------------------------------------------------------------------

test(
  'openai: a 400 is not retried; the error carries status and body',
  withMock(async (t: any, mock) => {
    mock.enqueue(fixtureJson('reasoning-model-legacy-parameter-error.json', { status: 400 }), { text: 'unreached' })
    const err: any = await t.throwsAsync(agentOn(mock).generate('hi'))
    assertProviderError(t, err, 'PROVIDER_HTTP_ERROR')
    t.is(err.status, 400)
    const body = typeof err.body === 'string' ? JSON.parse(err.body) : err.body
    t.is(body.error.code, 'unsupported_parameter')
    t.is(body.error.param, 'max_tokens')
    t.is(mock.requests.length, 1)
  }),
)

test(
  'anthropic recorded transcript: tool_use, then the follow-up gets a 400 (x-should-retry: false)',
  withMock(async (t: any, mock) => {
    mock.enqueue(...fixtureExchanges('anthropic-tool-use-then-400.exchanges.json'))
    let input: any
    const get_weather = createTool({
      id: 'get_weather',
      description: 'Lookup the weather',
      inputSchema: z.object({ location: z.string(), units: z.enum(['c', 'f']) }),
      execute: async (i: any) => ((input = i), { temp: 18 }),
    })
    const agent = agentOn(mock, { tools: { get_weather } }, anthropicModel(mock, 'anthropic/claude-haiku-4-5'))
    const err: any = await t.throwsAsync(agent.generate("What's the weather in SF in Celsius?"))
    assertProviderError(t, err, 'PROVIDER_HTTP_ERROR')
    t.is(err.status, 400)
    const body = typeof err.body === 'string' ? JSON.parse(err.body) : err.body
    t.is(body.error.type, 'invalid_request_error')
    t.deepEqual(input, { location: 'San Francisco, CA', units: 'c' })
    t.is(mock.requests.length, 2)
  }),
)

test(
  'a 401 is not retried',
  withMock(async (t: any, mock) => {
    mock.enqueue({ status: 401 }, { text: 'unreached' })
    const err: any = await t.throwsAsync(agentOn(mock).generate('hi'))
    t.is(err.code, 'PROVIDER_HTTP_ERROR')
    t.is(err.status, 401)
    t.is(mock.requests.length, 1)
  }),
)

// ---------------------------------------------------------------------------------------------
// Malformed and truncated responses (maxRetries 0 so each fault is seen exactly once)
// ---------------------------------------------------------------------------------------------

test(
  'generate: a 200 whose body is not JSON → PROVIDER_MALFORMED_RESPONSE',
  withMock(async (t: any, mock) => {
    mock.enqueue({ text: 'hello world', malformedJson: true })
    const err: any = await t.throwsAsync(agentOn(mock, { maxRetries: 0 }).generate('hi'))
    assertProviderError(t, err, 'PROVIDER_MALFORMED_RESPONSE')
  }),
)

test(
  'anthropic generate: a 200 whose body is not JSON → PROVIDER_MALFORMED_RESPONSE',
  withMock(async (t: any, mock) => {
    mock.enqueue({ text: 'hello world', malformedJson: true })
    const err: any = await t.throwsAsync(agentOn(mock, { maxRetries: 0 }, anthropicModel(mock)).generate('hi'))
    assertProviderError(t, err, 'PROVIDER_MALFORMED_RESPONSE')
  }),
)

for (const [name, model] of [
  ['openai', openaiModel],
  ['anthropic', anthropicModel],
] as const) {
  test(
    `${name} stream: an SSE data line that is not JSON → error chunk PROVIDER_MALFORMED_RESPONSE`,
    withMock(async (t: any, mock) => {
      mock.enqueue({ text: 'alpha beta gamma delta', malformedJson: true })
      const s: any = await agentOn(mock, { maxRetries: 0 }, model(mock)).stream('hi')
      const chunks: any[] = await collect(s.fullStream)
      const e = chunks.find((c) => c.type === 'error')
      t.truthy(e, coreTypes(chunks).join(','))
      assertProviderError(t, e.payload.error, 'PROVIDER_MALFORMED_RESPONSE')
      t.is(await s.finishReason, 'error')
    }),
  )

  test(
    `${name} stream: truncated SSE (socket closed before the end) → error chunk PROVIDER_STREAM_TRUNCATED`,
    withMock(async (t: any, mock) => {
      mock.enqueue({ text: 'one two three four five six seven eight', truncate: true })
      const s: any = await agentOn(mock, { maxRetries: 0 }, model(mock)).stream('hi')
      const chunks: any[] = await collect(s.fullStream)
      const e = chunks.find((c) => c.type === 'error')
      t.truthy(e, coreTypes(chunks).join(','))
      assertProviderError(t, e.payload.error, 'PROVIDER_STREAM_TRUNCATED')
      t.is(await s.finishReason, 'error')
    }),
  )

  test(
    `${name} stream: tool-call arguments cut off mid-stream → error chunk, tool not run`,
    withMock(async (t: any, mock) => {
      mock.enqueue({ toolCalls: [{ name: 'add', args: { a: 1, b: 2 } }], truncate: true })
      let ran = false
      const add = createTool({
        id: 'add',
        description: 'add',
        inputSchema: z.object({ a: z.number(), b: z.number() }),
        execute: async () => ((ran = true), 3),
      })
      const s: any = await agentOn(mock, { maxRetries: 0, tools: { add } }, model(mock)).stream('hi')
      const chunks: any[] = await collect(s.fullStream)
      const e = chunks.find((c) => c.type === 'error')
      t.truthy(e)
      t.is(e.payload.error.code, 'PROVIDER_STREAM_TRUNCATED')
      t.false(ran)
    }),
  )
}

test(
  'generate: a JSON body cut off mid-way → a truncation / connection ProviderError',
  withMock(async (t: any, mock) => {
    mock.enqueue({ text: 'hello world', truncate: true })
    const err: any = await t.throwsAsync(agentOn(mock, { maxRetries: 0 }).generate('hi'))
    t.true(err instanceof ProviderError)
    t.true(['PROVIDER_STREAM_TRUNCATED', 'PROVIDER_CONNECTION_FAILED'].includes(err.code), err.code)
  }),
)

test('connection refused → PROVIDER_CONNECTION_FAILED', async (t) => {
  // a port that was just free: bind, read the port, close
  const probe = http.createServer()
  await new Promise<void>((r) => probe.listen(0, '127.0.0.1', () => r()))
  const port = (probe.address() as AddressInfo).port
  await new Promise<void>((r) => probe.close(() => r()))
  const agent = new Agent({
    id: 'refused',
    name: 'refused',
    instructions: 'x',
    model: { id: 'openai/gpt-4o-mini', url: `http://127.0.0.1:${port}/v1`, apiKey: 'k' },
    maxRetries: 0,
  })
  const err: any = await t.throwsAsync(agent.generate('hi'))
  assertProviderError(t, err, 'PROVIDER_CONNECTION_FAILED')
})

// ---------------------------------------------------------------------------------------------
// Hang + abort
// ---------------------------------------------------------------------------------------------

test(
  'generate against a hanging server rejects with AbortError (ABORTED) when aborted; the request is cancelled',
  withMock(async (t: any, mock) => {
    mock.enqueue({ hang: true })
    const controller = new AbortController()
    setTimeout(() => controller.abort(), 300)
    const start = Date.now()
    const err: any = await t.throwsAsync(agentOn(mock).generate('hi', { abortSignal: controller.signal }))
    t.true(err instanceof AbortError)
    t.true(err instanceof LumosError)
    t.is(err.code, 'ABORTED')
    t.true(Date.now() - start < 5000)
    for (let i = 0; i < 20 && !mock.requests[0]?.aborted; i++) await sleep(50)
    t.true(mock.requests[0].aborted)
    t.is(mock.requests.length, 1, 'an abort is not retried')
  }),
)

test(
  'stream against a hanging server: abort → abort chunk and the stream closes',
  withMock(async (t: any, mock) => {
    mock.enqueue({ hang: true })
    const controller = new AbortController()
    const s: any = await agentOn(mock).stream('hi', { abortSignal: controller.signal })
    setTimeout(() => controller.abort(), 300)
    const chunks: any[] = await collect(s.fullStream)
    t.true(coreTypes(chunks).includes('abort'), coreTypes(chunks).join(','))
    for (let i = 0; i < 20 && !mock.requests[0]?.aborted; i++) await sleep(50)
    t.true(mock.requests[0].aborted)
  }),
)

test(
  'an already-aborted signal rejects generate with ABORTED',
  withMock(async (t: any, mock) => {
    mock.enqueue({ text: 'unreached' })
    const err: any = await t.throwsAsync(agentOn(mock).generate('hi', { abortSignal: AbortSignal.abort() }))
    t.is(err.code, 'ABORTED')
  }),
)

test(
  'a slow (delayed) response is simply waited for',
  withMock(async (t: any, mock) => {
    mock.enqueue({ text: 'patience', delayMs: 1500 })
    const result: any = await agentOn(mock).generate('hi')
    t.is(result.text, 'patience')
  }),
)

// ---------------------------------------------------------------------------------------------
// No crash
// ---------------------------------------------------------------------------------------------

test(
  'faults leave no unhandled rejection behind and the agent keeps working',
  withMock(async (t: any, mock) => {
    const unhandled: unknown[] = []
    const onUnhandled = (reason: unknown) => void unhandled.push(reason)
    process.on('unhandledRejection', onUnhandled)
    try {
      const agent = agentOn(mock, { maxRetries: 0 })
      mock.enqueue(
        { status: 500 },
        { text: 'a b c d e f', truncate: true },
        { text: 'x y z', malformedJson: true },
        { hang: true },
        { text: 'still alive' },
      )
      await t.throwsAsync(agent.generate('1'))
      // streams whose promises are never awaited must not leak rejections
      const s1: any = await agent.stream('2')
      await collect(s1.fullStream)
      const s2: any = await agent.stream('3')
      await collect(s2.fullStream)
      const controller = new AbortController()
      const pending = agent.generate('4', { abortSignal: controller.signal })
      await sleep(200)
      controller.abort()
      await t.throwsAsync(pending)
      const ok: any = await agent.generate('5')
      t.is(ok.text, 'still alive')
      await sleep(300)
      t.deepEqual(unhandled, [])
    } finally {
      process.off('unhandledRejection', onUnhandled)
    }
  }),
)
