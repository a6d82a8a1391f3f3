// The tool loop: multi-step runs with parallel calls on both providers, concurrency, invalid
// arguments, throwing and unknown tools, schema flavours (zod v4, zod v3, JSON Schema),
// outputSchema, maxSteps, stopWhen and toolChoice.
import test from 'ava'
import { z } from 'zod'
import { z as z3 } from 'zod-v3'

import { Agent, createTool, hasToolCall, stepCountIs } from '../index.js'
import {
  assistantToolCalls,
  openaiModel,
  parseMaybe,
  PROVIDERS,
  sleep,
  toolDef,
  toolNames,
  withMock,
} from './helpers/agent-utils.js'
import { toolResultsIn } from './helpers/mock-provider.js'

const makeWeather = (calls: any[] = []) =>
  createTool({
    id: 'weather-tool',
    description: 'Get the weather for a city',
    inputSchema: z.object({ city: z.string().describe('City name') }),
    execute: async (input: any) => {
      calls.push(input)
      return { city: input.city, temp: input.city === 'Paris' ? 21 : 17 }
    },
  })

const makeAdd = (calls: any[] = []) =>
  createTool({
    id: 'add-tool',
    description: 'Add two numbers',
    inputSchema: z.object({ a: z.number(), b: z.number() }),
    execute: async (input: any) => {
      calls.push(input)
      return { sum: input.a + input.b }
    },
  })

for (const p of PROVIDERS) {
  test(
    `${p.name}: 3-step loop with two parallel calls in the first step`,
    withMock(async (t: any, mock) => {
      const id = (n: number) => (p.name === 'openai' ? `call_step${n}` : `toolu_01step${n}`)
      mock.enqueue(
        {
          toolCalls: [
            { id: id(1), name: 'weather', args: { city: 'Paris' } },
            { id: id(2), name: 'weather', args: { city: 'London' } },
          ],
          usage: { input: 50, output: 20 },
        },
        { toolCalls: [{ id: id(3), name: 'add', args: { a: 21, b: 17 } }], usage: { input: 80, output: 10 } },
        { text: 'Paris 21, London 17, together 38.', usage: { input: 100, output: 12 } },
      )
      const weatherCalls: any[] = []
      const addCalls: any[] = []
      const agent = new Agent({
        id: 'loop',
        name: 'loop',
        instructions: 'Use tools.',
        model: p.model(mock),
        tools: { weather: makeWeather(weatherCalls), add: makeAdd(addCalls) },
      })
      const result: any = await agent.generate('Weather in Paris and London, then add the temperatures.')

      t.is(result.text, 'Paris 21, London 17, together 38.')
      t.is(result.finishReason, 'stop')
      t.is(result.steps.length, 3)
      t.is(result.steps[0].finishReason, 'tool-calls')
      t.is(result.steps[0].toolCalls.length, 2)
      t.is(result.steps[1].toolCalls.length, 1)
      t.like(result.totalUsage, { inputTokens: 230, outputTokens: 42, totalTokens: 272 })

      t.deepEqual(weatherCalls.map((c) => c.city).sort(), ['London', 'Paris'])
      t.deepEqual(addCalls, [{ a: 21, b: 17 }])

      t.is(result.toolCalls.length, 3)
      for (const c of result.toolCalls) {
        t.is(c.type, 'tool-call')
        t.is(c.from, 'AGENT')
        t.is(c.runId, result.runId)
      }
      const expectedCalls = [
        { toolCallId: id(1), toolName: 'weather', args: { city: 'Paris' } },
        { toolCallId: id(2), toolName: 'weather', args: { city: 'London' } },
        { toolCallId: id(3), toolName: 'add', args: { a: 21, b: 17 } },
      ]
      result.toolCalls.forEach((c: any, i: number) => {
        t.like(c.payload, expectedCalls[i])
        t.deepEqual(c.payload.args, expectedCalls[i].args)
      })
      t.is(result.toolResults.length, 3)
      for (const r of result.toolResults) {
        t.is(r.type, 'tool-result')
        t.is(r.from, 'AGENT')
        t.is(r.runId, result.runId)
      }
      t.deepEqual(
        result.toolResults.map((r: any) => [r.payload.toolCallId, r.payload.toolName, r.payload.args, r.payload.result]),
        [
          [id(1), 'weather', { city: 'Paris' }, { city: 'Paris', temp: 21 }],
          [id(2), 'weather', { city: 'London' }, { city: 'London', temp: 17 }],
          [id(3), 'add', { a: 21, b: 17 }, { sum: 38 }],
        ],
      )

      // wire: tools offered under their keys with JSON schema parameters
      t.is(mock.requests.length, 3)
      const first = mock.requests[0].body
      t.deepEqual(toolNames(first), ['add', 'weather'])
      const w = toolDef(first, 'weather')!
      t.is(w.description, 'Get the weather for a city')
      t.is(w.parameters.type, 'object')
      t.is(w.parameters.properties.city.type, 'string')
      t.true(w.parameters.required.includes('city'))
      // the second request replays the assistant's two calls and both results, in call order
      const second = mock.requests[1].body
      t.deepEqual(assistantToolCalls(second), [
        { id: id(1), name: 'weather', args: { city: 'Paris' } },
        { id: id(2), name: 'weather', args: { city: 'London' } },
      ])
      t.deepEqual(
        toolResultsIn(second).map((r) => [r.toolCallId, parseMaybe(r.content)]),
        [
          [id(1), { city: 'Paris', temp: 21 }],
          [id(2), { city: 'London', temp: 17 }],
        ],
      )
      if (p.name === 'anthropic') {
        // both tool_result blocks travel in ONE user message right after the assistant message
        const msgs = second.messages
        const lastUser = msgs.at(-1)
        t.is(lastUser.role, 'user')
        t.is(lastUser.content.filter((b: any) => b.type === 'tool_result').length, 2)
      }
      const third = mock.requests[2].body
      t.deepEqual(
        toolResultsIn(third).map((r) => r.toolCallId),
        [id(1), id(2), id(3)],
      )
    }),
  )
}

test(
  'parallel tool calls in one step run concurrently',
  withMock(async (t: any, mock) => {
    mock.enqueue(
      {
        toolCalls: [
          { name: 'slow', args: { n: 1 } },
          { name: 'slow', args: { n: 2 } },
          { name: 'slow', args: { n: 3 } },
        ],
      },
      { text: 'all done' },
    )
    const spans: Record<number, { start: number; end: number }> = {}
    const slow = createTool({
      id: 'slow',
      description: 'Takes a while',
      inputSchema: z.object({ n: z.number() }),
      execute: async ({ n }: any) => {
        const start = Date.now()
        await sleep(200)
        spans[n] = { start, end: Date.now() }
        return n
      },
    })
    const agent = new Agent({ id: 'conc', name: 'conc', instructions: 'x', model: openaiModel(mock), tools: { slow } })
    const result: any = await agent.generate('go')
    t.is(result.text, 'all done')
    t.deepEqual(Object.keys(spans).sort(), ['1', '2', '3'])
    // every call started before every other one finished → they overlapped
    for (const a of [1, 2, 3]) for (const b of [1, 2, 3]) if (a !== b) t.true(spans[a].start < spans[b].end, `${a} started before ${b} ended`)
    const wall = Math.max(...Object.values(spans).map((s) => s.end)) - Math.min(...Object.values(spans).map((s) => s.start))
    t.true(wall < 550, `three 200 ms tools took ${wall} ms together`)
    // results keep call order
    t.deepEqual(
      result.toolResults.map((r: any) => r.payload.result),
      [1, 2, 3],
    )
  }),
)

// ---------------------------------------------------------------------------------------------
// Invalid arguments, throwing tool, unknown tool
// ---------------------------------------------------------------------------------------------

for (const [label, args] of [
  ['wrong type', { a: 'one', b: 2 }],
  ['missing field', { a: 1 }],
  ['unparseable JSON', '{"a": 1, "b":'],
] as const) {
  test(
    `invalid tool args (${label}): tool not run, validation error is the tool result`,
    withMock(async (t: any, mock) => {
      mock.enqueue({ toolCalls: [{ id: 'call_bad', name: 'add', args }] }, { text: 'I could not add.' })
      const addCalls: any[] = []
      const agent = new Agent({ id: 'inv', name: 'inv', instructions: 'x', model: openaiModel(mock), tools: { add: makeAdd(addCalls) } })
      const result: any = await agent.generate('add')

      t.is(addCalls.length, 0)
      t.is(result.text, 'I could not add.')
      t.is(result.finishReason, 'stop')
      t.is(result.toolCalls.length, 1)
      t.is(result.toolResults.length, 1)
      const r = result.toolResults[0].payload
      t.is(r.toolCallId, 'call_bad')
      t.is(r.result.error, true)
      t.regex(r.result.message, /^Tool input validation failed for add\./)
      t.truthy(r.result.validationErrors)
      const sent = toolResultsIn(mock.requests[1].body)
      t.is(sent.length, 1)
      t.is(sent[0].toolCallId, 'call_bad')
      t.regex(sent[0].content, /Tool input validation failed for add/)
    }),
  )
}

for (const p of PROVIDERS) {
  test(
    `${p.name}: a throwing tool — the model gets the error message, the call is not in toolResults, the run goes on`,
    withMock(async (t: any, mock) => {
      mock.enqueue(
        {
          toolCalls: [
            { id: 'c_boom', name: 'boom', args: {} },
            { id: 'c_ok', name: 'add', args: { a: 1, b: 2 } },
          ],
        },
        { text: 'recovered' },
      )
      const boom = createTool({
        id: 'boom',
        description: 'Always fails',
        inputSchema: z.object({}),
        execute: async () => {
          throw new Error('kaboom: disk on fire')
        },
      })
      const agent = new Agent({ id: 'thr', name: 'thr', instructions: 'x', model: p.model(mock), tools: { boom, add: makeAdd() } })
      const result: any = await agent.generate('go')

      t.is(result.text, 'recovered')
      t.is(result.finishReason, 'stop')
      t.falsy(result.error)
      t.deepEqual(
        result.toolCalls.map((c: any) => c.payload.toolCallId),
        ['c_boom', 'c_ok'],
      )
      t.deepEqual(
        result.toolResults.map((r: any) => r.payload.toolCallId),
        ['c_ok'],
      )
      const sent = toolResultsIn(mock.requests[1].body)
      t.deepEqual(
        sent.map((r) => r.toolCallId),
        ['c_boom', 'c_ok'],
      )
      t.regex(sent[0].content, /kaboom: disk on fire/)
      t.deepEqual(parseMaybe(sent[1].content), { sum: 3 })
    }),
  )
}

test(
  'unknown tool name: the model is told the tool does not exist; not in toolResults; the run goes on',
  withMock(async (t: any, mock) => {
    mock.enqueue({ toolCalls: [{ id: 'c_nope', name: 'nope', args: {} }] }, { text: 'sorry' })
    const agent = new Agent({ id: 'unk', name: 'unk', instructions: 'x', model: openaiModel(mock), tools: { add: makeAdd() } })
    const result: any = await agent.generate('go')
    t.is(result.text, 'sorry')
    t.is(result.toolResults.length, 0)
    const sent = toolResultsIn(mock.requests[1].body)
    t.is(sent.length, 1)
    t.is(sent[0].toolCallId, 'c_nope')
    t.regex(sent[0].content, /nope/)
    t.regex(sent[0].content, /not found/i)
  }),
)

// ---------------------------------------------------------------------------------------------
// Schema flavours
// ---------------------------------------------------------------------------------------------

test(
  'zod v4, zod v3 and JSON Schema input schemas: JSON schema sent, input parsed, defaults applied',
  withMock(async (t: any, mock) => {
    mock.enqueue(
      {
        toolCalls: [
          { id: 'c4', name: 'v4', args: { city: 'Oslo' } },
          { id: 'c3', name: 'v3', args: { city: 'Rome' } },
          { id: 'cj', name: 'json', args: { n: 5, tags: ['x'] } },
        ],
      },
      { text: 'ok' },
    )
    const seen: Record<string, any> = {}
    const v4 = createTool({
      id: 'zod-v4-tool',
      description: 'zod v4',
      inputSchema: z.object({ city: z.string(), units: z.enum(['c', 'f']).default('c') }),
      execute: async (input: any) => ((seen.v4 = input), 'v4 ok'),
    })
    const v3 = createTool({
      id: 'zod-v3-tool',
      description: 'zod v3',
      inputSchema: z3.object({ city: z3.string(), units: z3.enum(['c', 'f']).default('f') }),
      execute: async (input: any) => ((seen.v3 = input), 'v3 ok'),
    })
    const json = createTool({
      id: 'json-schema-tool',
      description: 'plain JSON Schema',
      inputSchema: {
        type: 'object',
        properties: { n: { type: 'integer' }, tags: { type: 'array', items: { type: 'string' } } },
        required: ['n'],
        additionalProperties: false,
      } as any,
      execute: async (input: any) => ((seen.json = input), 'json ok'),
    })
    const agent = new Agent({ id: 'schemas', name: 'schemas', instructions: 'x', model: openaiModel(mock), tools: { v4, v3, json } })
    const result: any = await agent.generate('go')
    t.is(result.text, 'ok')
    t.deepEqual(seen.v4, { city: 'Oslo', units: 'c' })
    t.deepEqual(seen.v3, { city: 'Rome', units: 'f' })
    t.deepEqual(seen.json, { n: 5, tags: ['x'] })

    const body = mock.requests[0].body
    for (const name of ['v4', 'v3']) {
      const params = toolDef(body, name)!.parameters
      t.is(params.type, 'object', name)
      t.is(params.properties.city.type, 'string', name)
      t.deepEqual(params.properties.units.enum ?? params.properties.units.anyOf?.find((s: any) => s.enum)?.enum, ['c', 'f'], name)
      t.true(params.required.includes('city'), name)
    }
    const jp = toolDef(body, 'json')!.parameters
    t.is(jp.type, 'object')
    t.is(jp.properties.n.type, 'integer')
    t.true(jp.required.includes('n'))
  }),
)

test(
  'JSON Schema input schema is validated too (wrong type → validation error result)',
  withMock(async (t: any, mock) => {
    mock.enqueue({ toolCalls: [{ id: 'cj', name: 'json', args: { n: 'five' } }] }, { text: 'ok' })
    let ran = false
    const json = createTool({
      id: 'json-schema-tool',
      description: 'plain JSON Schema',
      inputSchema: { type: 'object', properties: { n: { type: 'integer' } }, required: ['n'] } as any,
      execute: async () => ((ran = true), 'ran'),
    })
    const agent = new Agent({ id: 'js', name: 'js', instructions: 'x', model: openaiModel(mock), tools: { json } })
    const result: any = await agent.generate('go')
    t.false(ran)
    t.is(result.toolResults[0].payload.result.error, true)
    t.regex(result.toolResults[0].payload.result.message, /Tool input validation failed for json/)
  }),
)

test(
  'a tool without inputSchema is offered with an empty object schema and runs',
  withMock(async (t: any, mock) => {
    mock.enqueue({ toolCalls: [{ name: 'ping', args: {} }] }, { text: 'pong received' })
    const ping = createTool({ id: 'ping', description: 'ping', execute: async () => 'pong' } as any)
    const agent = new Agent({ id: 'noschema', name: 'noschema', instructions: 'x', model: openaiModel(mock), tools: { ping } })
    const result: any = await agent.generate('ping')
    t.is(result.toolResults[0].payload.result, 'pong')
    const params = toolDef(mock.requests[0].body, 'ping')!.parameters
    t.is(params.type, 'object')
    t.deepEqual(params.properties ?? {}, {})
  }),
)

test(
  'outputSchema: a valid output passes through; an invalid one becomes a validation error result',
  withMock(async (t: any, mock) => {
    mock.enqueue(
      {
        toolCalls: [
          { id: 'good', name: 'sum', args: { a: 1, b: 2 } },
          { id: 'bad', name: 'sum', args: { a: -1, b: 0 } },
        ],
      },
      { text: 'ok' },
    )
    const sum = createTool({
      id: 'sum',
      description: 'sum',
      inputSchema: z.object({ a: z.number(), b: z.number() }),
      outputSchema: z.object({ sum: z.number() }),
      // negative inputs return a string sum, violating the output schema
      execute: async ({ a, b }: any) => (a < 0 ? { sum: 'negative!' } : { sum: a + b }),
    })
    const agent = new Agent({ id: 'out', name: 'out', instructions: 'x', model: openaiModel(mock), tools: { sum } })
    const result: any = await agent.generate('go')
    t.is(result.text, 'ok')
    const byId = Object.fromEntries(result.toolResults.map((r: any) => [r.payload.toolCallId, r.payload.result]))
    t.deepEqual(byId.good, { sum: 3 })
    t.is(byId.bad?.error, true)
    t.regex(byId.bad?.message ?? '', /output validation failed/i)
    const sent = Object.fromEntries(toolResultsIn(mock.requests[1].body).map((r) => [r.toolCallId, r.content]))
    t.deepEqual(parseMaybe(sent.good), { sum: 3 })
    t.regex(sent.bad, /output validation failed/i)
  }),
)

test(
  'the key in tools is the name the model sees, not the tool id',
  withMock(async (t: any, mock) => {
    mock.enqueue({ toolCalls: [{ name: 'calc', args: { a: 2, b: 2 } }] }, { text: '4' })
    const calls: any[] = []
    const agent = new Agent({ id: 'key', name: 'key', instructions: 'x', model: openaiModel(mock), tools: { calc: makeAdd(calls) } })
    const result: any = await agent.generate('2+2')
    t.deepEqual(toolNames(mock.requests[0].body), ['calc'])
    t.deepEqual(calls, [{ a: 2, b: 2 }])
    t.is(result.toolResults[0].payload.toolName, 'calc')
  }),
)

// ---------------------------------------------------------------------------------------------
// maxSteps / stopWhen
// ---------------------------------------------------------------------------------------------

const loopTurns = (n: number) => Array.from({ length: n }, (_, i) => ({ toolCalls: [{ name: 'add', args: { a: i, b: 1 } }] }))

test(
  'maxSteps: the last step’s tool calls are executed and the run ends with finishReason tool-calls',
  withMock(async (t: any, mock) => {
    mock.enqueue(...loopTurns(4))
    const calls: any[] = []
    const agent = new Agent({ id: 'ms', name: 'ms', instructions: 'x', model: openaiModel(mock), tools: { add: makeAdd(calls) } })
    const result: any = await agent.generate('loop', { maxSteps: 2 })
    t.is(mock.requests.length, 2)
    t.is(calls.length, 2)
    t.is(result.steps.length, 2)
    t.is(result.finishReason, 'tool-calls')
    t.is(result.text, '')
    t.is(result.toolResults.length, 2)
  }),
)

test(
  'maxSteps defaults to 5',
  withMock(async (t: any, mock) => {
    mock.enqueue(...loopTurns(7))
    const calls: any[] = []
    const agent = new Agent({ id: 'ms5', name: 'ms5', instructions: 'x', model: openaiModel(mock), tools: { add: makeAdd(calls) } })
    const result: any = await agent.generate('loop')
    t.is(mock.requests.length, 5)
    t.is(calls.length, 5)
    t.is(result.steps.length, 5)
    t.is(result.finishReason, 'tool-calls')
  }),
)

test(
  'maxSteps from agent defaultOptions',
  withMock(async (t: any, mock) => {
    mock.enqueue(...loopTurns(4))
    const agent = new Agent({
      id: 'msd',
      name: 'msd',
      instructions: 'x',
      model: openaiModel(mock),
      tools: { add: makeAdd() },
      defaultOptions: { maxSteps: 3 },
    })
    const result: any = await agent.generate('loop')
    t.is(mock.requests.length, 3)
    t.is(result.steps.length, 3)
  }),
)

test(
  'stopWhen: stepCountIs(n)',
  withMock(async (t: any, mock) => {
    mock.enqueue(...loopTurns(4))
    const calls: any[] = []
    const agent = new Agent({ id: 'sw', name: 'sw', instructions: 'x', model: openaiModel(mock), tools: { add: makeAdd(calls) } })
    const result: any = await agent.generate('loop', { stopWhen: stepCountIs(1) })
    t.is(mock.requests.length, 1)
    t.is(result.steps.length, 1)
    t.is(calls.length, 1)
    t.is(result.finishReason, 'tool-calls')
  }),
)

test(
  'stopWhen: hasToolCall(name) stops after the step that called it',
  withMock(async (t: any, mock) => {
    mock.enqueue(
      { toolCalls: [{ name: 'add', args: { a: 1, b: 1 } }] },
      { toolCalls: [{ name: 'finish', args: { answer: '2' } }] },
      { text: 'should not be requested' },
    )
    const finished: any[] = []
    const finish = createTool({
      id: 'finish',
      description: 'Report the final answer',
      inputSchema: z.object({ answer: z.string() }),
      execute: async (input: any) => (finished.push(input), 'recorded'),
    })
    const agent = new Agent({ id: 'htc', name: 'htc', instructions: 'x', model: openaiModel(mock), tools: { add: makeAdd(), finish } })
    const result: any = await agent.generate('go', { stopWhen: hasToolCall('finish') })
    t.is(mock.requests.length, 2)
    t.is(result.steps.length, 2)
    t.deepEqual(finished, [{ answer: '2' }])
    t.is(mock.remaining(), 1)
  }),
)

test(
  'stopWhen: a function of the steps, and an array of conditions (any one stops)',
  withMock(async (t: any, mock) => {
    mock.enqueue(...loopTurns(8))
    const agent = new Agent({ id: 'swf', name: 'swf', instructions: 'x', model: openaiModel(mock), tools: { add: makeAdd() } })
    const seenLengths: number[] = []
    const a: any = await agent.generate('loop', {
      stopWhen: ({ steps }: any) => {
        seenLengths.push(steps.length)
        return steps.length >= 3
      },
    })
    t.is(a.steps.length, 3)
    t.deepEqual(seenLengths, [1, 2, 3])
    const before = mock.requests.length
    const b: any = await agent.generate('loop', { stopWhen: [stepCountIs(4), hasToolCall('add')] })
    t.is(b.steps.length, 1)
    t.is(mock.requests.length - before, 1)
  }),
)

// ---------------------------------------------------------------------------------------------
// toolChoice
// ---------------------------------------------------------------------------------------------

for (const p of PROVIDERS) {
  test(
    `${p.name}: toolChoice in the request body`,
    withMock(async (t: any, mock) => {
      mock.enqueue({ text: '1' }, { text: '2' }, { text: '3' }, { text: '4' })
      const agent = new Agent({ id: 'tc', name: 'tc', instructions: 'x', model: p.model(mock), tools: { add: makeAdd(), weather: makeWeather() } })
      await agent.generate('a', { toolChoice: 'auto' })
      await agent.generate('b', { toolChoice: 'required' })
      await agent.generate('c', { toolChoice: { type: 'tool', toolName: 'add' } })
      await agent.generate('d', { toolChoice: 'none' })
      const [auto, required, specific, none] = mock.requests.map((r) => r.body)
      if (p.name === 'openai') {
        t.true(auto.tool_choice === undefined || auto.tool_choice === 'auto')
        t.is(required.tool_choice, 'required')
        t.deepEqual(specific.tool_choice, { type: 'function', function: { name: 'add' } })
        t.true(none.tool_choice === 'none' || none.tools === undefined || none.tools.length === 0)
      } else {
        t.true(auto.tool_choice === undefined || auto.tool_choice.type === 'auto')
        t.is(required.tool_choice.type, 'any')
        t.like(specific.tool_choice, { type: 'tool', name: 'add' })
        t.true(none.tool_choice?.type === 'none' || none.tools === undefined || none.tools.length === 0)
      }
    }),
  )
}
