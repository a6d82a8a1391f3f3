// agent.stream(): chunk order and payloads, textStream, awaited fields, getFullOutput, streamed
// usage, callbacks, abort, provider failure as an error chunk, and replays of recorded streams.
import test from 'ava'
import { z } from 'zod'

import { Agent, createTool } from '../index.js'
import { collapse, collect, coreTypes, openaiModel, PROVIDERS, sleep, withMock } from './helpers/agent-utils.js'
import { fixtureSse, readFixture, toolResultsIn } from './helpers/mock-provider.js'

const TEXT = 'The quick brown fox jumps over the lazy dog.'

for (const p of PROVIDERS) {
  test(
    `${p.name}: text-only run — chunk order, envelope, text-delta payloads, awaited fields`,
    withMock(async (t: any, mock) => {
      mock.enqueue({ text: TEXT, usage: { input: 11, output: 22 } })
      const agent = new Agent({ id: 'streamer', name: 'streamer', instructions: 'x', model: p.model(mock) })
      const s: any = await agent.stream('hi')
      const chunks: any[] = await collect(s.fullStream)

      t.deepEqual(collapse(coreTypes(chunks)), [
        'start',
        'step-start',
        'text-start',
        'text-delta',
        'text-end',
        'step-finish',
        'finish',
      ])
      const runId = chunks[0].runId
      t.is(typeof runId, 'string')
      for (const c of chunks) {
        t.is(c.runId, runId, c.type)
        t.is(c.from, 'AGENT', c.type)
      }
      const deltas = chunks.filter((c) => c.type === 'text-delta')
      t.true(deltas.length >= 3, 'the text arrives in several deltas')
      for (const d of deltas) {
        t.is(typeof d.payload.id, 'string')
        t.is(typeof d.payload.text, 'string')
      }
      t.is(deltas.map((d) => d.payload.text).join(''), TEXT)

      t.is(await s.text, TEXT)
      t.is(await s.finishReason, 'stop')
      t.like(await s.usage, { inputTokens: 11, outputTokens: 22, totalTokens: 33 })
      t.like(await s.totalUsage, { inputTokens: 11, outputTokens: 22, totalTokens: 33 })
      t.deepEqual(await s.toolCalls, [])
      t.deepEqual(await s.toolResults, [])
      t.is((await s.steps).length, 1)
      t.is(await s.object, undefined)

      const body = mock.requests[0].body
      t.is(body.stream, true)
      if (p.name === 'openai') t.deepEqual(body.stream_options, { include_usage: true })
    }),
  )
}

test(
  'textStream yields the text pieces and is async-iterable',
  withMock(async (t: any, mock) => {
    mock.enqueue({ text: TEXT })
    const agent = new Agent({ id: 'ts', name: 'ts', instructions: 'x', model: openaiModel(mock) })
    const s: any = await agent.stream('hi')
    t.true(s.textStream instanceof ReadableStream)
    const pieces: string[] = []
    for await (const piece of s.textStream) pieces.push(piece)
    t.true(pieces.length >= 3)
    t.true(pieces.every((x) => typeof x === 'string'))
    t.is(pieces.join(''), TEXT)
  }),
)

test(
  'textStream and fullStream can be read side by side',
  withMock(async (t: any, mock) => {
    mock.enqueue({ text: TEXT, chunkDelayMs: 5 })
    const agent = new Agent({ id: 'tee', name: 'tee', instructions: 'x', model: openaiModel(mock) })
    const s: any = await agent.stream('hi')
    const [pieces, chunks] = await Promise.all([collect<string>(s.textStream), collect<any>(s.fullStream)])
    t.is(pieces.join(''), TEXT)
    t.is(
      chunks
        .filter((c) => c.type === 'text-delta')
        .map((c) => c.payload.text)
        .join(''),
      TEXT,
    )
  }),
)

test(
  'awaited fields resolve without reading any stream',
  withMock(async (t: any, mock) => {
    mock.enqueue({ text: TEXT, usage: { input: 3, output: 4 } })
    const agent = new Agent({ id: 'aw', name: 'aw', instructions: 'x', model: openaiModel(mock) })
    const s: any = await agent.stream('hi')
    const [text, usage, finishReason] = await Promise.all([s.text, s.usage, s.finishReason])
    t.is(text, TEXT)
    t.like(usage, { inputTokens: 3, outputTokens: 4, totalTokens: 7 })
    t.is(finishReason, 'stop')
  }),
)

test(
  'getFullOutput() gives the generate-shaped result',
  withMock(async (t: any, mock) => {
    mock.enqueue(
      { text: 'Looking. ', toolCalls: [{ id: 'call_g', name: 'echo', args: { v: 'x' } }], usage: { input: 5, output: 5 } },
      { text: 'Done.', usage: { input: 7, output: 2 } },
    )
    const echo = createTool({ id: 'echo', description: 'echo', inputSchema: z.object({ v: z.string() }), execute: async ({ v }: any) => ({ v }) })
    const agent = new Agent({ id: 'fo', name: 'fo', instructions: 'x', model: openaiModel(mock), tools: { echo } })
    const s: any = await agent.stream('go')
    const out: any = await s.getFullOutput()
    t.is(out.text, 'Looking. Done.')
    t.is(out.finishReason, 'stop')
    t.is(out.steps.length, 2)
    t.like(out.usage, { inputTokens: 12, outputTokens: 7, totalTokens: 19 })
    t.like(out.totalUsage, { inputTokens: 12, outputTokens: 7, totalTokens: 19 })
    t.is(out.toolCalls.length, 1)
    t.like(out.toolCalls[0], { type: 'tool-call', from: 'AGENT', payload: { toolCallId: 'call_g', toolName: 'echo', args: { v: 'x' } } })
    t.like(out.toolResults[0], { type: 'tool-result', payload: { toolCallId: 'call_g', toolName: 'echo', result: { v: 'x' } } })
    t.is(typeof out.runId, 'string')
    t.like(await s.usage, { inputTokens: 12, outputTokens: 7 })
  }),
)

for (const p of PROVIDERS) {
  test(
    `${p.name}: tool run — tool-call / tool-result chunks between step boundaries`,
    withMock(async (t: any, mock) => {
      mock.enqueue(
        {
          toolCalls: [
            { id: 'c1', name: 'weather', args: { city: 'Paris' } },
            { id: 'c2', name: 'weather', args: { city: 'Oslo' } },
          ],
          usage: { input: 10, output: 5 },
        },
        { text: 'Paris is warm, Oslo is cold.', usage: { input: 20, output: 8 } },
      )
      const weather = createTool({
        id: 'weather',
        description: 'weather',
        inputSchema: z.object({ city: z.string() }),
        execute: async ({ city }: any) => ({ city, temp: city === 'Paris' ? 20 : -3 }),
      })
      const agent = new Agent({ id: 'st', name: 'st', instructions: 'x', model: p.model(mock), tools: { weather } })
      const s: any = await agent.stream('weather?')
      const chunks: any[] = await collect(s.fullStream)
      const types = coreTypes(chunks)
      t.deepEqual(collapse(types), [
        'start',
        'step-start',
        'tool-call',
        'tool-result',
        'step-finish',
        'step-start',
        'text-start',
        'text-delta',
        'text-end',
        'step-finish',
        'finish',
      ])
      t.is(types.filter((x) => x === 'tool-call').length, 2)
      t.is(types.filter((x) => x === 'tool-result').length, 2)
      const calls = chunks.filter((c) => c.type === 'tool-call').map((c) => c.payload)
      t.like(calls[0], { toolCallId: 'c1', toolName: 'weather', args: { city: 'Paris' } })
      t.like(calls[1], { toolCallId: 'c2', toolName: 'weather', args: { city: 'Oslo' } })
      const results = chunks.filter((c) => c.type === 'tool-result').map((c) => c.payload)
      const byId = Object.fromEntries(results.map((r) => [r.toolCallId, r]))
      t.like(byId.c1, { toolName: 'weather', args: { city: 'Paris' }, result: { city: 'Paris', temp: 20 } })
      t.like(byId.c2, { toolName: 'weather', args: { city: 'Oslo' }, result: { city: 'Oslo', temp: -3 } })

      t.is(await s.text, 'Paris is warm, Oslo is cold.')
      t.is(await s.finishReason, 'stop')
      t.like(await s.usage, { inputTokens: 30, outputTokens: 13, totalTokens: 43 })
      t.is((await s.toolCalls).length, 2)
      t.is((await s.toolResults).length, 2)
      t.is((await s.steps).length, 2)
      t.is(toolResultsIn(mock.requests[1].body).length, 2)
    }),
  )
}

test(
  'a throwing tool emits tool-error with a TOOL_EXECUTION_FAILED error; the run goes on',
  withMock(async (t: any, mock) => {
    mock.enqueue({ toolCalls: [{ id: 'c_err', name: 'boom', args: { x: 1 } }] }, { text: 'carried on' })
    const boom = createTool({
      id: 'boom',
      description: 'fails',
      inputSchema: z.object({ x: z.number() }),
      execute: async () => {
        throw new Error('kaboom')
      },
    })
    const agent = new Agent({ id: 'te', name: 'te', instructions: 'x', model: openaiModel(mock), tools: { boom } })
    const s: any = await agent.stream('go')
    const chunks: any[] = await collect(s.fullStream)
    const types = coreTypes(chunks)
    t.true(types.includes('tool-error'))
    t.false(types.includes('tool-result'))
    t.true(types.indexOf('tool-call') < types.indexOf('tool-error'))
    t.true(types.indexOf('tool-error') < types.indexOf('step-finish'))
    const err = chunks.find((c) => c.type === 'tool-error')
    t.like(err.payload, { toolCallId: 'c_err', toolName: 'boom', args: { x: 1 } })
    t.true(err.payload.error instanceof Error)
    t.is(err.payload.error.code, 'TOOL_EXECUTION_FAILED')
    t.regex(`${err.payload.error.message} ${err.payload.error.cause?.message ?? ''}`, /kaboom/)
    t.is(await s.text, 'carried on')
    t.is(await s.finishReason, 'stop')
    t.deepEqual(await s.toolResults, [])
  }),
)

// ---------------------------------------------------------------------------------------------
// Streamed usage
// ---------------------------------------------------------------------------------------------

for (const p of PROVIDERS) {
  test(
    `${p.name}: streamed usage equals the scripted numbers`,
    withMock(async (t: any, mock) => {
      mock.enqueue({ text: 'counted', usage: { input: 123, output: 45 } })
      const agent = new Agent({ id: 'su', name: 'su', instructions: 'x', model: p.model(mock) })
      const s: any = await agent.stream('count')
      await collect(s.fullStream)
      t.like(await s.usage, { inputTokens: 123, outputTokens: 45, totalTokens: 168 })
      if (p.name === 'openai') t.true(mock.requests[0].body.stream_options?.include_usage === true)
    }),
  )
}

// ---------------------------------------------------------------------------------------------
// Callbacks
// ---------------------------------------------------------------------------------------------

test(
  'onChunk, onStepFinish and onFinish are called for stream()',
  withMock(async (t: any, mock) => {
    mock.enqueue(
      { toolCalls: [{ id: 'c_cb', name: 'echo', args: { v: 'a' } }], usage: { input: 1, output: 2 } },
      { text: 'final words', usage: { input: 3, output: 4 } },
    )
    const echo = createTool({ id: 'echo', description: 'echo', inputSchema: z.object({ v: z.string() }), execute: async ({ v }: any) => v })
    const agent = new Agent({ id: 'cb', name: 'cb', instructions: 'x', model: openaiModel(mock), tools: { echo } })
    const seen: any[] = []
    const steps: any[] = []
    const finishes: any[] = []
    const s: any = await agent.stream('go', {
      onChunk: (chunk: any) => {
        seen.push(chunk)
      },
      onStepFinish: (step: any) => {
        steps.push(step)
      },
      onFinish: (result: any) => {
        finishes.push(result)
      },
    })
    await collect(s.fullStream)
    await s.text
    t.true(seen.length > 0)
    t.is(
      seen
        .filter((c) => c.type === 'text-delta')
        .map((c) => c.payload.text)
        .join(''),
      'final words',
    )
    t.true(seen.some((c) => c.type === 'tool-call' && c.payload.toolCallId === 'c_cb'))
    t.is(steps.length, 2)
    t.is(steps[0].finishReason, 'tool-calls')
    t.deepEqual(steps[0].toolCalls.map((c: any) => c.payload.toolCallId), ['c_cb'])
    t.deepEqual(steps[0].toolResults.map((c: any) => c.payload.result), ['a'])
    t.deepEqual(steps[1].toolCalls, [])
    t.is(steps[1].finishReason, 'stop')
    t.is(steps[1].text, 'final words')
    t.is(finishes.length, 1)
    t.is(finishes[0].text, 'final words')
    t.is(finishes[0].finishReason, 'stop')
    t.is(finishes[0].steps.length, 2)
    t.like(finishes[0].totalUsage, { inputTokens: 4, outputTokens: 6, totalTokens: 10 })
  }),
)

test(
  'onStepFinish and onFinish are called for generate() too',
  withMock(async (t: any, mock) => {
    mock.enqueue({ text: 'gen text', usage: { input: 2, output: 3 } })
    const agent = new Agent({ id: 'cbg', name: 'cbg', instructions: 'x', model: openaiModel(mock) })
    const steps: any[] = []
    const finishes: any[] = []
    await agent.generate('go', { onStepFinish: (s: any) => void steps.push(s), onFinish: (r: any) => void finishes.push(r) })
    t.is(steps.length, 1)
    t.is(steps[0].text, 'gen text')
    t.is(finishes.length, 1)
    t.is(finishes[0].text, 'gen text')
    t.like(finishes[0].totalUsage, { inputTokens: 2, outputTokens: 3 })
  }),
)

// ---------------------------------------------------------------------------------------------
// Abort
// ---------------------------------------------------------------------------------------------

test(
  'abort during a tool: abort chunk, stream closes, the tool’s abortSignal fires, no further model call',
  withMock(async (t: any, mock) => {
    mock.enqueue({ toolCalls: [{ id: 'c_wait', name: 'wait', args: {} }] }, { text: 'never' })
    let toolStarted!: () => void
    const started = new Promise<void>((r) => (toolStarted = r))
    let signalFired = false
    const wait = createTool({
      id: 'wait',
      description: 'waits until aborted',
      inputSchema: z.object({}),
      execute: async (_i: any, context: any) => {
        toolStarted()
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, 10_000)
          context.abortSignal?.addEventListener('abort', () => {
            signalFired = true
            clearTimeout(timer)
            resolve()
          })
        })
        return 'waited'
      },
    })
    const agent = new Agent({ id: 'ab', name: 'ab', instructions: 'x', model: openaiModel(mock), tools: { wait } })
    const controller = new AbortController()
    const s: any = await agent.stream('go', { abortSignal: controller.signal })
    void started.then(() => controller.abort())
    const chunks: any[] = await collect(s.fullStream)
    const types = coreTypes(chunks)
    t.true(types.includes('abort'), types.join(','))
    t.true(types.indexOf('tool-call') < types.indexOf('abort'))
    t.false(types.includes('finish') && types.indexOf('finish') > types.indexOf('abort'))
    t.true(signalFired)
    await sleep(100)
    t.is(mock.requests.length, 1)
    t.is(mock.remaining(), 1)
  }),
)

test(
  'abort while text is streaming: abort chunk, stream closes, the HTTP request is cancelled',
  withMock(async (t: any, mock) => {
    mock.enqueue({ text: 'one two three four five six seven eight nine ten eleven twelve', chunkDelayMs: 100 })
    const agent = new Agent({ id: 'ab2', name: 'ab2', instructions: 'x', model: openaiModel(mock) })
    const controller = new AbortController()
    const s: any = await agent.stream('count', { abortSignal: controller.signal })
    const chunks: any[] = []
    for await (const c of s.fullStream) {
      chunks.push(c)
      if (c.type === 'text-delta' && !controller.signal.aborted) controller.abort()
    }
    const types = coreTypes(chunks)
    t.true(types.includes('abort'), types.join(','))
    t.true(types.filter((x) => x === 'text-delta').length < 12)
    // the client closed the connection (well before the 1.4 s the full stream would take)
    for (let i = 0; i < 20 && !mock.requests[0].aborted; i++) await sleep(50)
    t.true(mock.requests[0].aborted)
    // the awaited fields settle (whatever their value) instead of hanging
    const settled = await Promise.race([
      Promise.allSettled([s.text, s.finishReason]).then(() => 'settled'),
      sleep(3000).then(() => 'hung'),
    ])
    t.is(settled, 'settled')
  }),
)

// ---------------------------------------------------------------------------------------------
// Provider failure
// ---------------------------------------------------------------------------------------------

test(
  'provider failure: stream() resolves, an error chunk carries the error, text is "", finishReason error, onError called',
  withMock(async (t: any, mock) => {
    mock.enqueue({ status: 400, body: { error: { message: 'bad request (scripted)', type: 'invalid_request_error', param: null, code: null } } })
    const agent = new Agent({ id: 'pf', name: 'pf', instructions: 'x', model: openaiModel(mock) })
    const errors: any[] = []
    const s: any = await agent.stream('hi', { onError: (e: any) => void errors.push(e) })
    const chunks: any[] = await collect(s.fullStream)
    const errorChunk = chunks.find((c) => c.type === 'error')
    t.truthy(errorChunk, coreTypes(chunks).join(','))
    t.true(errorChunk.payload.error instanceof Error)
    t.is(errorChunk.payload.error.status, 400)
    t.is(await s.text, '')
    t.is(await s.finishReason, 'error')
    t.is(errors.length, 1)
    t.true(errors[0].error instanceof Error)
  }),
)

// ---------------------------------------------------------------------------------------------
// Replays of recorded streams
// ---------------------------------------------------------------------------------------------

test(
  'replay: recorded OpenAI text stream (300 deltas, obfuscation, usage chunk)',
  withMock(async (t: any, mock) => {
    mock.enqueue(fixtureSse('openai-text.chunks.txt'))
    const lines = readFixture('openai-text.chunks.txt').trim().split('\n').map((l) => JSON.parse(l))
    const expected = lines.map((c) => c.choices[0]?.delta?.content ?? '').join('')
    const agent = new Agent({ id: 'r1', name: 'r1', instructions: 'x', model: openaiModel(mock) })
    const s: any = await agent.stream('holiday')
    const pieces = await collect<string>(s.textStream)
    t.is(pieces.join(''), expected)
    t.like(await s.usage, { inputTokens: 16, outputTokens: 300, totalTokens: 316 })
  }),
)

test(
  'replay: recorded Anthropic text stream',
  withMock(async (t: any, mock) => {
    mock.enqueue(fixtureSse('anthropic-text.chunks.txt'))
    const agent = new Agent({ id: 'r2', name: 'r2', instructions: 'x', model: { id: 'anthropic/claude-sonnet-4-5', url: mock.url, apiKey: 'k' } })
    const s: any = await agent.stream('hello')
    t.is(await s.text, "Hello! I'm doing well, thank you for asking. How are you doing today? Is there anything I can help you with?")
    t.like(await s.usage, { inputTokens: 12, outputTokens: 30 })
    t.is(await s.finishReason, 'stop')
  }),
)

test(
  'replay: recorded OpenAI parallel tool-call stream (fragmented arguments)',
  withMock(async (t: any, mock) => {
    mock.enqueue(fixtureSse('openai-chat-parallel-tool-calls.sse'), { text: 'Edinburgh is mild; AAPL is up.' })
    const seen: any[] = []
    const GetWeatherArgs = createTool({
      id: 'GetWeatherArgs',
      description: 'weather',
      inputSchema: z.object({ city: z.string(), country: z.string(), units: z.enum(['c', 'f']) }),
      execute: async (input: any) => (seen.push(['weather', input]), { temp: 12 }),
    })
    const get_stock_price = createTool({
      id: 'get_stock_price',
      description: 'stock',
      inputSchema: z.object({ ticker: z.string(), exchange: z.string() }),
      execute: async (input: any) => (seen.push(['stock', input]), { price: 227 }),
    })
    const agent = new Agent({ id: 'r3', name: 'r3', instructions: 'x', model: openaiModel(mock), tools: { GetWeatherArgs, get_stock_price } })
    const s: any = await agent.stream('weather and stock')
    const out: any = await s.getFullOutput()
    t.deepEqual(
      out.toolCalls.map((c: any) => [c.payload.toolCallId, c.payload.toolName, c.payload.args]),
      [
        ['call_JMW1whyEaYG438VE1OIflxA2', 'GetWeatherArgs', { city: 'Edinburgh', country: 'GB', units: 'c' }],
        ['call_DNYTawLBoN8fj3KN6qU9N1Ou', 'get_stock_price', { ticker: 'AAPL', exchange: 'NASDAQ' }],
      ],
    )
    t.is(seen.length, 2)
    t.is(out.text, 'Edinburgh is mild; AAPL is up.')
  }),
)

test(
  'replay: recorded Anthropic text + tool_use stream (input_json_delta fragments)',
  withMock(async (t: any, mock) => {
    mock.enqueue(fixtureSse('anthropic-tool-use.sse'), { text: 'It is sunny in Paris.' })
    let got: any
    const get_weather = createTool({
      id: 'get_weather',
      description: 'weather',
      inputSchema: z.object({ location: z.string() }),
      execute: async (input: any) => ((got = input), { sky: 'sunny' }),
    })
    const agent = new Agent({
      id: 'r4',
      name: 'r4',
      instructions: 'x',
      model: { id: 'anthropic/claude-sonnet-4-5', url: mock.url, apiKey: 'k' },
      tools: { get_weather },
    })
    const s: any = await agent.stream('weather in Paris')
    const out: any = await s.getFullOutput()
    t.deepEqual(got, { location: 'Paris' })
    t.is(out.toolCalls[0].payload.toolCallId, 'toolu_01NRLabsLyVHZPKxbKvkfSMn')
    t.is(out.steps[0].text, "I'll check the current weather in Paris for you.")
    t.is(out.steps.length, 2)
    t.regex(out.text, /It is sunny in Paris\.$/)
    const sent = toolResultsIn(mock.requests[1].body)
    t.is(sent[0].toolCallId, 'toolu_01NRLabsLyVHZPKxbKvkfSMn')
  }),
)
