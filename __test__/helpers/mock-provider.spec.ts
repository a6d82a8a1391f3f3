// Self-tests of the mock model server, with plain fetch.
import test from 'ava'

import {
  fixtureExchanges,
  fixtureJson,
  fixtureSse,
  lastUserText,
  parseSse,
  readFixture,
  startMockProvider,
  toolResultsIn,
  type MockProvider,
} from './mock-provider.js'

const post = (mock: MockProvider, path: string, body: unknown, init: RequestInit = {}) =>
  fetch(`${mock.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: 'Bearer test-key', ...(init.headers ?? {}) },
    body: JSON.stringify(body),
    ...init,
  })

const chat = (mock: MockProvider, body: Record<string, unknown> = {}) =>
  post(mock, '/chat/completions', { model: 'gpt-4o-mini', messages: [{ role: 'user', content: 'hi' }], ...body })
const messages = (mock: MockProvider, body: Record<string, unknown> = {}) =>
  post(mock, '/messages', { model: 'claude-sonnet-4-5', max_tokens: 100, messages: [{ role: 'user', content: 'hi' }], ...body })

/** Recursive key structure of a JSON value (arrays: structure of their first element). */
function shape(v: unknown): unknown {
  if (Array.isArray(v)) return v.length ? [shape(v[0])] : []
  if (v && typeof v === 'object') {
    return Object.fromEntries(Object.keys(v).sort().map((k) => [k, shape((v as any)[k])]))
  }
  return v === null ? 'null' : typeof v
}

const withMock = (fn: (t: any, mock: MockProvider) => Promise<void>) => async (t: any) => {
  const mock = await startMockProvider()
  try {
    await fn(t, mock)
  } finally {
    await mock.close()
  }
}

// ---------------------------------------------------------------------------------------------
// OpenAI chat completions
// ---------------------------------------------------------------------------------------------

test(
  'openai: text turn as chat.completion JSON, same shape as the recorded fixture',
  withMock(async (t, mock) => {
    mock.enqueue({ text: 'Hello there, friend.', usage: { input: 7, output: 3 } })
    const res = await chat(mock)
    t.is(res.status, 200)
    t.regex(res.headers.get('content-type')!, /application\/json/)
    const body = await res.json()
    const fixture = JSON.parse(readFixture('openai-text.json'))
    t.deepEqual(shape(body), shape(fixture))
    t.is(body.object, 'chat.completion')
    t.regex(body.id, /^chatcmpl-/)
    t.is(body.model, 'gpt-4o-mini')
    t.is(body.choices[0].message.content, 'Hello there, friend.')
    t.is(body.choices[0].finish_reason, 'stop')
    t.deepEqual(
      [body.usage.prompt_tokens, body.usage.completion_tokens, body.usage.total_tokens],
      [7, 3, 10],
    )
  }),
)

test(
  'openai: text turn as SSE with include_usage: role chunk, several deltas, finish, usage-only chunk, [DONE]',
  withMock(async (t, mock) => {
    mock.enqueue({ text: 'Hello there, friend.', usage: { input: 7, output: 3, cachedInput: 2 } })
    const res = await chat(mock, { stream: true, stream_options: { include_usage: true } })
    t.regex(res.headers.get('content-type')!, /^text\/event-stream/)
    const raw = await res.text()
    t.true(raw.endsWith('data: [DONE]\n\n'))
    const events = parseSse(raw)
    t.true(events.every((e) => e.event === undefined))
    t.is(events.at(-1)!.data, '[DONE]')
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data))
    const fixtureChunk = JSON.parse(readFixture('openai-text.chunks.txt').split('\n')[1])
    t.deepEqual(Object.keys(chunks[1]).sort(), Object.keys(fixtureChunk).sort())
    t.deepEqual(chunks[0].choices[0].delta, { role: 'assistant', content: '', refusal: null })
    const deltas = chunks.filter((c) => c.choices[0]?.delta?.content)
    t.true(deltas.length >= 3)
    t.is(deltas.map((c) => c.choices[0].delta.content).join(''), 'Hello there, friend.')
    const ids = new Set(chunks.map((c) => c.id))
    t.is(ids.size, 1)
    const finish = chunks.at(-2)
    t.is(finish.choices[0].finish_reason, 'stop')
    t.deepEqual(finish.choices[0].delta, {})
    t.is(finish.usage, null)
    const usage = chunks.at(-1)
    t.deepEqual(usage.choices, [])
    t.is(usage.usage.prompt_tokens, 7)
    t.is(usage.usage.completion_tokens, 3)
    t.is(usage.usage.total_tokens, 10)
    t.is(usage.usage.prompt_tokens_details.cached_tokens, 2)
    t.true(chunks.every((c) => c.object === 'chat.completion.chunk' && typeof c.obfuscation === 'string'))
  }),
)

test(
  'openai: without include_usage there is no usage chunk and no usage field',
  withMock(async (t, mock) => {
    mock.enqueue({ text: 'hello' })
    const events = parseSse(await (await chat(mock, { stream: true })).text())
    const chunks = events.slice(0, -1).map((e) => JSON.parse(e.data))
    t.true(chunks.every((c) => !('usage' in c) && c.choices.length === 1))
    t.true(chunks.filter((c) => c.choices[0].delta.content).length >= 2, 'a one-word text is still split')
    t.is(chunks.map((c) => c.choices[0].delta.content ?? '').join(''), 'hello')
  }),
)

test(
  'openai: parallel tool calls streamed as fragments keyed by index, id/name only in the first delta',
  withMock(async (t, mock) => {
    mock.enqueue({
      toolCalls: [
        { id: 'call_A', name: 'get_weather', args: { city: 'Edinburgh', country: 'GB' } },
        { name: 'get_stock_price', args: { ticker: 'AAPL' } },
      ],
      usage: { input: 149, output: 60 },
    })
    const res = await chat(mock, { stream: true, stream_options: { include_usage: true } })
    const chunks = parseSse(await res.text())
      .filter((e) => e.data !== '[DONE]')
      .map((e) => JSON.parse(e.data))
    t.deepEqual(chunks[0].choices[0].delta, { role: 'assistant', content: null, refusal: null })
    const calls: Record<number, { id?: string; name?: string; args: string; deltas: number }> = {}
    for (const c of chunks) {
      for (const tc of c.choices[0]?.delta?.tool_calls ?? []) {
        const acc = (calls[tc.index] ??= { args: '', deltas: 0 })
        if (acc.deltas === 0) {
          t.truthy(tc.id)
          t.is(tc.type, 'function')
          t.is(tc.function.arguments, '')
          acc.id = tc.id
          acc.name = tc.function.name
        } else {
          t.false('id' in tc)
          t.false('name' in tc.function)
        }
        acc.args += tc.function.arguments
        acc.deltas++
      }
    }
    t.is(calls[0].id, 'call_A')
    t.regex(calls[1].id!, /^call_[A-Za-z0-9]{24}$/)
    t.is(calls[0].name, 'get_weather')
    t.is(calls[1].name, 'get_stock_price')
    t.deepEqual(JSON.parse(calls[0].args), { city: 'Edinburgh', country: 'GB' })
    t.deepEqual(JSON.parse(calls[1].args), { ticker: 'AAPL' })
    t.true(calls[0].deltas > 3)
    t.is(chunks.at(-2).choices[0].finish_reason, 'tool_calls')
    t.is(chunks.at(-1).usage.total_tokens, 209)
    // fixture comparison: same chunk structure for the first tool-call delta
    const fixture = parseSse(readFixture('openai-chat-parallel-tool-calls.sse')).map((e) => e.data)
    const fixtureFirst = JSON.parse(fixture[1]).choices[0].delta.tool_calls[0]
    const ours = chunks.find((c) => c.choices[0]?.delta?.tool_calls).choices[0].delta.tool_calls[0]
    t.deepEqual(shape(ours), shape(fixtureFirst))
  }),
)

test(
  'openai: tool calls as JSON (content null, raw invalid argument string kept verbatim), text + tool calls',
  withMock(async (t, mock) => {
    mock.enqueue(
      { toolCalls: [{ name: 'add', args: '{"a": 1, "b":' }] },
      { text: 'Let me check.', toolCalls: [{ id: 'call_x', name: 'add', args: { a: 1, b: 2 } }] },
    )
    const a = await (await chat(mock)).json()
    t.is(a.choices[0].message.content, null)
    t.is(a.choices[0].finish_reason, 'tool_calls')
    t.is(a.choices[0].message.tool_calls[0].function.arguments, '{"a": 1, "b":')
    t.deepEqual(
      shape(a.choices[0].message.tool_calls),
      shape(JSON.parse(readFixture('openai-chat-parallel-tool-calls.json')).choices[0].message.tool_calls),
    )
    const b = await (await chat(mock)).json()
    t.is(b.choices[0].message.content, 'Let me check.')
    t.deepEqual(b.choices[0].message.tool_calls[0], {
      id: 'call_x',
      type: 'function',
      function: { name: 'add', arguments: '{"a":1,"b":2}' },
    })
  }),
)

test(
  'openai: streamed text + tool calls: content deltas first, then tool-call deltas',
  withMock(async (t, mock) => {
    mock.enqueue({ text: 'Checking now.', toolCalls: [{ name: 'add', args: '{"a":1}' }], finishReason: 'tool_calls' })
    const chunks = parseSse(await (await chat(mock, { stream: true })).text())
      .filter((e) => e.data !== '[DONE]')
      .map((e) => JSON.parse(e.data))
    const kinds = chunks.map((c) => (c.choices[0].delta.tool_calls ? 'tool' : c.choices[0].delta.content ? 'text' : 'other'))
    t.true(kinds.lastIndexOf('text') < kinds.indexOf('tool'))
    t.is(chunks.map((c) => c.choices[0].delta.content ?? '').join(''), 'Checking now.')
  }),
)

// ---------------------------------------------------------------------------------------------
// Anthropic messages
// ---------------------------------------------------------------------------------------------

test(
  'anthropic: text turn as message JSON, same shape as the recorded fixture',
  withMock(async (t, mock) => {
    mock.enqueue({ text: 'Hello! How are you?', usage: { input: 12, output: 29 } })
    const res = await messages(mock)
    t.is(res.status, 200)
    const body = await res.json()
    t.deepEqual(shape(body), shape(JSON.parse(readFixture('anthropic-text.json'))))
    t.is(body.type, 'message')
    t.regex(body.id, /^msg_01/)
    t.is(body.model, 'claude-sonnet-4-5')
    t.deepEqual(body.content, [{ type: 'text', text: 'Hello! How are you?' }])
    t.is(body.stop_reason, 'end_turn')
    t.is(body.usage.input_tokens, 12)
    t.is(body.usage.output_tokens, 29)
  }),
)

test(
  'anthropic: text turn as SSE with event lines in the recorded order',
  withMock(async (t, mock) => {
    mock.enqueue({ text: 'Hello! How are you?', usage: { input: 12, output: 30 } })
    const res = await messages(mock, { stream: true })
    t.regex(res.headers.get('content-type')!, /^text\/event-stream/)
    const events = parseSse(await res.text())
    const types = events.map((e) => e.event)
    const deltas = types.filter((x) => x === 'content_block_delta').length
    t.true(deltas >= 3)
    t.deepEqual(types, [
      'message_start',
      'content_block_start',
      'ping',
      ...Array(deltas).fill('content_block_delta'),
      'content_block_stop',
      'message_delta',
      'message_stop',
    ])
    const data = events.map((e) => JSON.parse(e.data))
    t.true(data.every((d, i) => d.type === events[i].event))
    // same payload structure as the recorded stream
    const fixture = readFixture('anthropic-text.chunks.txt').split('\n').map((l) => JSON.parse(l))
    t.deepEqual(shape(data[0]), shape(fixture[0]))
    t.deepEqual(shape(data[1]), shape(fixture[1]))
    t.deepEqual(shape(data[3]), shape(fixture[3]))
    t.deepEqual(shape(data.at(-2)), shape(fixture.at(-2)))
    t.is(data.filter((d) => d.type === 'content_block_delta').map((d) => d.delta.text).join(''), 'Hello! How are you?')
    t.is(data[0].message.usage.input_tokens, 12)
    t.is(data.at(-2).usage.output_tokens, 30)
    t.is(data.at(-2).delta.stop_reason, 'end_turn')
  }),
)

test(
  'anthropic: text + tool_use streamed with input_json_delta fragments',
  withMock(async (t, mock) => {
    mock.enqueue({
      text: "I'll check the weather.",
      toolCalls: [
        { name: 'get_weather', args: { location: 'Paris' } },
        { id: 'toolu_fixed', name: 'get_time', args: { zone: 'CET' } },
      ],
      usage: { input: 377, output: 65 },
    })
    const events = parseSse(await (await messages(mock, { stream: true })).text())
    const data = events.map((e) => JSON.parse(e.data))
    const starts = data.filter((d) => d.type === 'content_block_start')
    t.deepEqual(
      starts.map((s) => [s.index, s.content_block.type]),
      [
        [0, 'text'],
        [1, 'tool_use'],
        [2, 'tool_use'],
      ],
    )
    t.regex(starts[1].content_block.id, /^toolu_01[A-Za-z0-9]{22}$/)
    t.deepEqual(starts[1].content_block.input, {})
    t.is(starts[2].content_block.id, 'toolu_fixed')
    const json = (i: number) =>
      data
        .filter((d) => d.type === 'content_block_delta' && d.index === i)
        .map((d) => {
          t.is(d.delta.type, 'input_json_delta')
          return d.delta.partial_json
        })
    t.is(json(1)[0], '')
    t.true(json(1).length > 3)
    t.deepEqual(JSON.parse(json(1).join('')), { location: 'Paris' })
    t.deepEqual(JSON.parse(json(2).join('')), { zone: 'CET' })
    t.is(data.at(-2).delta.stop_reason, 'tool_use')
    t.is(data.at(-2).usage.output_tokens, 65)
    t.is(events.filter((e) => e.event === 'ping').length, 1)
    // the recorded tool_use stream has the same structure
    const fixture = parseSse(readFixture('anthropic-tool-use.sse')).map((e) => JSON.parse(e.data))
    const fStart = fixture.find((d) => d.content_block?.type === 'tool_use')
    t.deepEqual(shape(starts[1]), shape(fStart))
  }),
)

test(
  'anthropic: tool_use as JSON; unparseable scripted args are sent as a string input',
  withMock(async (t, mock) => {
    mock.enqueue(
      { toolCalls: [{ id: 'toolu_1', name: 'add', args: { a: 1 } }] },
      { toolCalls: [{ name: 'add', args: '{"a":' }] },
    )
    const a = await (await messages(mock)).json()
    t.deepEqual(a.content, [{ type: 'tool_use', id: 'toolu_1', name: 'add', input: { a: 1 } }])
    t.is(a.stop_reason, 'tool_use')
    const b = await (await messages(mock)).json()
    t.is(b.content[0].input, '{"a":')
  }),
)

// ---------------------------------------------------------------------------------------------
// Embeddings
// ---------------------------------------------------------------------------------------------

test(
  'embeddings: explicit vectors, auto vectors (deterministic, similar texts closer), base64',
  withMock(async (t, mock) => {
    mock.enqueue({ embeddings: [[0.1, 0.2], [0.3, 0.4]] }, { embeddings: 'auto' }, { embeddings: 'auto' })
    const a = await (await post(mock, '/embeddings', { model: 'text-embedding-3-small', input: ['a', 'b'] })).json()
    t.deepEqual(shape(a), shape(JSON.parse(readFixture('openai-embedding.json'))))
    t.deepEqual(a.data.map((d: any) => d.embedding), [[0.1, 0.2], [0.3, 0.4]])
    const b = await (
      await post(mock, '/embeddings', { model: 'm', input: ['red apple pie', 'red apple', 'quantum physics'], dimensions: 64 })
    ).json()
    const [x, y, z] = b.data.map((d: any) => d.embedding as number[])
    t.is(x.length, 64)
    const dot = (p: number[], q: number[]) => p.reduce((s, v, i) => s + v * q[i], 0)
    t.true(Math.abs(dot(x, x) - 1) < 1e-9)
    t.true(dot(x, y) > dot(x, z))
    const c = await (await post(mock, '/embeddings', { model: 'm', input: 'red apple', dimensions: 64, encoding_format: 'base64' })).json()
    const buf = Buffer.from(c.data[0].embedding, 'base64')
    const decoded = Array.from(new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4))
    t.is(decoded.length, 64)
    decoded.forEach((v, i) => t.true(Math.abs(v - y[i]) < 1e-6))
  }),
)

// ---------------------------------------------------------------------------------------------
// Errors, raw, FIFO, recording
// ---------------------------------------------------------------------------------------------

test(
  'error turns: status, headers and provider-shaped default bodies; custom bodies',
  withMock(async (t, mock) => {
    mock.enqueue(
      { status: 429, headers: { 'retry-after': '1' } },
      { status: 500 },
      { status: 400, body: { error: { message: 'bad', type: 'invalid_request_error', param: null, code: null } } },
      { status: 503, body: 'upstream down' },
    )
    const r1 = await chat(mock)
    t.is(r1.status, 429)
    t.is(r1.headers.get('retry-after'), '1')
    const b1 = await r1.json()
    t.is(typeof b1.error.message, 'string')
    const r2 = await messages(mock)
    t.is(r2.status, 500)
    const b2 = await r2.json()
    t.is(b2.type, 'error')
    t.is(b2.error.type, 'api_error')
    const r3 = await chat(mock)
    t.is(r3.status, 400)
    t.is((await r3.json()).error.message, 'bad')
    const r4 = await chat(mock)
    t.is(r4.status, 503)
    t.is(await r4.text(), 'upstream down')
  }),
)

test(
  'raw turn writes exactly the given status, headers and body',
  withMock(async (t, mock) => {
    mock.enqueue({ raw: { status: 202, headers: { 'X-Custom': 'yes', 'content-type': 'text/plain' }, body: 'not really json {' } })
    const res = await chat(mock)
    t.is(res.status, 202)
    t.is(res.headers.get('x-custom'), 'yes')
    t.is(res.headers.get('content-type'), 'text/plain')
    t.is(await res.text(), 'not really json {')
  }),
)

test(
  'FIFO: one turn per request, then HTTP 500 "no scripted response left"; requests are recorded',
  withMock(async (t, mock) => {
    mock.enqueue({ text: 'one' })
    mock.enqueue({ text: 'two' }, { text: 'three' })
    t.is(mock.remaining(), 3)
    const texts = []
    for (let i = 0; i < 3; i++) texts.push((await (await chat(mock, { messages: [{ role: 'user', content: `q${i}` }] })).json()).choices[0].message.content)
    t.deepEqual(texts, ['one', 'two', 'three'])
    const res = await chat(mock)
    t.is(res.status, 500)
    t.deepEqual(await res.json(), { error: { message: 'mock: no scripted response left' } })
    t.is(mock.requests.length, 4)
    t.is(mock.requests[0].path, '/v1/chat/completions')
    t.is(mock.requests[0].api, 'openai-chat')
    t.is(mock.requests[0].headers.authorization, 'Bearer test-key')
    t.deepEqual(mock.requests[1].body.messages, [{ role: 'user', content: 'q1' }])
    t.is(lastUserText(mock.requests[2].body), 'q2')
  }),
)

test(
  'unknown path: 404, recorded, no turn consumed',
  withMock(async (t, mock) => {
    mock.enqueue({ text: 'kept' })
    const res = await post(mock, '/responses', { model: 'x', input: 'hi' })
    t.is(res.status, 404)
    t.is(mock.remaining(), 1)
    t.is(mock.requests[0].api, 'unknown')
  }),
)

test('function turns and a fallback turn', async (t) => {
  const mock = await startMockProvider({ fallback: (req) => ({ text: `echo: ${lastUserText(req.body)}` }) })
  try {
    mock.enqueue((req) => ({ text: `first saw ${req.body.messages.length} message(s)` }))
    t.is((await (await chat(mock)).json()).choices[0].message.content, 'first saw 1 message(s)')
    const b = await (await messages(mock, { messages: [{ role: 'user', content: [{ type: 'text', text: 'ping' }] }] })).json()
    t.is(b.content[0].text, 'echo: ping')
  } finally {
    await mock.close()
  }
})

test('toolResultsIn reads tool results of both wire formats', (t) => {
  t.deepEqual(
    toolResultsIn({
      messages: [
        { role: 'user', content: 'hi' },
        { role: 'assistant', content: null, tool_calls: [] },
        { role: 'tool', tool_call_id: 'call_1', content: '{"x":1}' },
      ],
    }),
    [{ toolCallId: 'call_1', content: '{"x":1}' }],
  )
  t.deepEqual(
    toolResultsIn({
      messages: [{ role: 'user', content: [{ type: 'tool_result', tool_use_id: 'toolu_1', content: [{ type: 'text', text: 'boom' }], is_error: true }] }],
    }),
    [{ toolCallId: 'toolu_1', content: 'boom', isError: true }],
  )
})

// ---------------------------------------------------------------------------------------------
// Faults
// ---------------------------------------------------------------------------------------------

test(
  'truncate (stream): part of the stream, then the socket is destroyed without [DONE] / message_stop',
  withMock(async (t, mock) => {
    mock.enqueue({ text: 'one two three four five six', truncate: true }, { text: 'one two three four five six', truncate: true })
    const res = await chat(mock, { stream: true, stream_options: { include_usage: true } })
    t.is(res.status, 200)
    const reader = res.body!.getReader()
    let got = ''
    const err = await t.throwsAsync(async () => {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        got += Buffer.from(value).toString()
      }
    })
    t.truthy(err)
    t.true(got.includes('chat.completion.chunk'))
    t.false(got.includes('[DONE]'))
    t.false(got.includes('finish_reason":"stop'))
    const res2 = await messages(mock, { stream: true })
    await t.throwsAsync(res2.text())
  }),
)

test(
  'truncate (JSON): half the body then the socket is destroyed',
  withMock(async (t, mock) => {
    mock.enqueue({ text: 'hello world', truncate: true })
    const res = await chat(mock)
    t.is(res.status, 200)
    await t.throwsAsync(res.text())
  }),
)

test(
  'malformedJson: a data line that is not JSON (stream); a body that is not JSON (non-stream)',
  withMock(async (t, mock) => {
    mock.enqueue({ text: 'alpha beta gamma', malformedJson: true }, { text: 'alpha', malformedJson: true }, { text: 'x y z', malformedJson: true })
    const events = parseSse(await (await chat(mock, { stream: true })).text())
    const bad = events.filter((e) => {
      if (e.data === '[DONE]') return false
      try {
        JSON.parse(e.data)
        return false
      } catch {
        return true
      }
    })
    t.is(bad.length, 1)
    const res = await chat(mock)
    t.is(res.status, 200)
    const text = await res.text()
    t.throws(() => JSON.parse(text))
    const aevents = parseSse(await (await messages(mock, { stream: true })).text())
    t.is(aevents.filter((e) => { try { JSON.parse(e.data); return false } catch { return true } }).length, 1)
  }),
)

test(
  'delayMs before headers and chunkDelayMs between events',
  withMock(async (t, mock) => {
    mock.enqueue({ text: 'a b', delayMs: 300 }, { text: 'a b c', chunkDelayMs: 60 })
    let start = Date.now()
    const res = await chat(mock)
    t.true(Date.now() - start >= 280)
    await res.json()
    start = Date.now()
    const res2 = await chat(mock, { stream: true })
    const headersAt = Date.now() - start
    await res2.text()
    // 7 events (role, 3 deltas, finish, [DONE]... ) → at least 5 gaps of 60 ms
    t.true(Date.now() - start - headersAt >= 250)
  }),
)

test('hang: the client aborts; the request is recorded and marked aborted; close() resolves with a hanging socket', async (t) => {
  const mock = await startMockProvider()
  try {
    mock.enqueue({ hang: true }, { text: 'x', hang: true })
    await t.throwsAsync(
      fetch(`${mock.url}/chat/completions`, {
        method: 'POST',
        body: JSON.stringify({ model: 'm', messages: [] }),
        signal: AbortSignal.timeout(1000),
      }),
      { any: true },
    )
    // Under load the server may record the abort a little after the client gave up.
    for (let i = 0; i < 40 && !(mock.requests.length === 1 && mock.requests[0].aborted); i++) await new Promise((r) => setTimeout(r, 50))
    t.is(mock.requests.length, 1)
    t.true(mock.requests[0].aborted)
    // a second hanging request still open when the server closes
    const pending = chat(mock).then(
      () => 'answered',
      () => 'failed',
    )
    await new Promise((r) => setTimeout(r, 100))
    const start = Date.now()
    await mock.close()
    t.true(Date.now() - start < 2000)
    t.is(await pending, 'failed')
  } finally {
    await mock.close()
  }
})

// ---------------------------------------------------------------------------------------------
// Fixture replay
// ---------------------------------------------------------------------------------------------

test(
  'fixtureSse: .chunks.txt re-framed (OpenAI: data lines + [DONE]; Anthropic: event lines), .sse verbatim',
  withMock(async (t, mock) => {
    mock.enqueue(
      fixtureSse('openai-text.chunks.txt'),
      fixtureSse('anthropic-text.chunks.txt'),
      fixtureSse('openai-chat-parallel-tool-calls.sse'),
    )
    const o = await chat(mock, { stream: true })
    t.regex(o.headers.get('content-type')!, /^text\/event-stream/)
    const oe = parseSse(await o.text())
    t.is(oe.at(-1)!.data, '[DONE]')
    t.is(oe.length, readFixture('openai-text.chunks.txt').trim().split('\n').length + 1)
    t.true(oe.slice(0, -1).every((e) => JSON.parse(e.data).object === 'chat.completion.chunk'))
    const ae = parseSse(await (await messages(mock, { stream: true })).text())
    t.is(ae[0].event, 'message_start')
    t.is(ae.at(-1)!.event, 'message_stop')
    t.true(ae.every((e) => JSON.parse(e.data).type === e.event))
    const raw = await (await chat(mock, { stream: true })).text()
    t.is(raw, readFixture('openai-chat-parallel-tool-calls.sse'))
  }),
)

test(
  'fixtureSse with chunkDelayMs and truncate applies per event',
  withMock(async (t, mock) => {
    mock.enqueue(fixtureSse('anthropic-tool-use.sse', { truncate: true }))
    const res = await messages(mock, { stream: true })
    await t.throwsAsync(res.text())
  }),
)

test(
  'fixtureJson and fixtureExchanges replay recorded bodies and statuses',
  withMock(async (t, mock) => {
    mock.enqueue(
      fixtureJson('openai-text.json'),
      fixtureJson('reasoning-model-legacy-parameter-error.json', { status: 400 }),
      ...fixtureExchanges('anthropic-429-retry-then-stream.exchanges.json'),
    )
    t.is(await (await chat(mock)).text(), readFixture('openai-text.json'))
    const e = await chat(mock)
    t.is(e.status, 400)
    t.is((await e.json()).error.code, 'unsupported_parameter')
    const r1 = await messages(mock)
    t.is(r1.status, 429)
    t.is(r1.headers.get('x-should-retry'), 'true')
    t.is((await r1.json()).error.type, 'rate_limit_error')
    t.is((await messages(mock)).status, 429)
    const r3 = await messages(mock, { stream: true })
    t.is(r3.status, 200)
    t.regex(r3.headers.get('content-type')!, /^text\/event-stream/)
    const events = parseSse(await r3.text())
    t.is(events[0].event, 'message_start')
    t.is(events.at(-1)!.event, 'message_stop')
  }),
)
