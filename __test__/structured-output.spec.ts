// structuredOutput: { schema } — request shape (OpenAI response_format json_schema 'response'),
// parsed `object` for generate and stream, schema flavours, tools in the same loop, mismatches.
import test from 'ava'
import { z } from 'zod'
import { z as z3 } from 'zod-v3'

import { Agent, createTool, LumosError, StructuredOutputError } from '../index.js'
import { anthropicModel, collect, openaiModel, withMock } from './helpers/agent-utils.js'
import { fixtureJson, fixtureSse, type MockProvider, type MockTurn, type RecordedRequest } from './helpers/mock-provider.js'

const Location = z.object({
  city: z.string(),
  temperature: z.number(),
  units: z.enum(['c', 'f']),
})

const agentOn = (mock: MockProvider, model: any = openaiModel(mock), extra: Record<string, unknown> = {}) =>
  new Agent({ id: 'so', name: 'so', instructions: 'Answer with data.', model, ...extra })

test(
  'openai generate: response_format json_schema named "response"; object parsed from the recorded reply',
  withMock(async (t: any, mock) => {
    mock.enqueue(fixtureJson('openai-chat-structured-output.json'))
    const result: any = await agentOn(mock).generate('Weather in SF?', { structuredOutput: { schema: Location } })
    t.deepEqual(result.object, { city: 'San Francisco', temperature: 65, units: 'f' })
    t.is(result.text, '{"city":"San Francisco","temperature":65,"units":"f"}')
    t.is(result.finishReason, 'stop')

    const rf = mock.requests[0].body.response_format
    t.is(rf.type, 'json_schema')
    t.is(rf.json_schema.name, 'response')
    const schema = rf.json_schema.schema
    t.is(schema.type, 'object')
    t.deepEqual(Object.keys(schema.properties).sort(), ['city', 'temperature', 'units'])
    t.deepEqual([...schema.required].sort(), ['city', 'temperature', 'units'])
    t.deepEqual(schema.properties.units.enum, ['c', 'f'])
  }),
)

test(
  'openai stream: object resolves from the recorded streamed JSON',
  withMock(async (t: any, mock) => {
    mock.enqueue(fixtureSse('openai-chat-structured-output.sse'))
    const s: any = await agentOn(mock).stream('Weather in SF?', { structuredOutput: { schema: Location } })
    await collect(s.fullStream)
    t.deepEqual(await s.object, { city: 'San Francisco', temperature: 61, units: 'f' })
    t.is(await s.text, '{"city":"San Francisco","temperature":61,"units":"f"}')
    const out: any = await s.getFullOutput()
    t.deepEqual(out.object, { city: 'San Francisco', temperature: 61, units: 'f' })
    t.is(mock.requests[0].body.response_format.json_schema.name, 'response')
  }),
)

test(
  'zod v3 and plain JSON Schema work as structured output schemas',
  withMock(async (t: any, mock) => {
    mock.enqueue({ text: '{"name":"Ann","age":31}' }, { text: '{"tags":["a","b"],"count":2}' })
    const v3: any = await agentOn(mock).generate('who?', {
      structuredOutput: { schema: z3.object({ name: z3.string(), age: z3.number().int() }) },
    })
    t.deepEqual(v3.object, { name: 'Ann', age: 31 })
    const js: any = await agentOn(mock).generate('tags?', {
      structuredOutput: {
        schema: {
          type: 'object',
          properties: { tags: { type: 'array', items: { type: 'string' } }, count: { type: 'integer' } },
          required: ['tags', 'count'],
          additionalProperties: false,
        },
      },
    })
    t.deepEqual(js.object, { tags: ['a', 'b'], count: 2 })
    for (const r of mock.requests) {
      t.is(r.body.response_format.type, 'json_schema')
      t.is(r.body.response_format.json_schema.name, 'response')
    }
    t.deepEqual(Object.keys(mock.requests[0].body.response_format.json_schema.schema.properties).sort(), ['age', 'name'])
    t.deepEqual(Object.keys(mock.requests[1].body.response_format.json_schema.schema.properties).sort(), ['count', 'tags'])
  }),
)

test(
  'nested objects and arrays of objects',
  withMock(async (t: any, mock) => {
    const order = { id: 'o-1', lines: [{ sku: 'A', qty: 2 }, { sku: 'B', qty: 1 }], shipping: { country: 'NO' } }
    mock.enqueue({ text: JSON.stringify(order) })
    const schema = z.object({
      id: z.string(),
      lines: z.array(z.object({ sku: z.string(), qty: z.number().int() })),
      shipping: z.object({ country: z.string() }),
    })
    const result: any = await agentOn(mock).generate('order?', { structuredOutput: { schema } })
    t.deepEqual(result.object, order)
  }),
)

test(
  'schema mismatch rejects generate with STRUCTURED_OUTPUT_SCHEMA_VALIDATION_FAILED',
  withMock(async (t: any, mock) => {
    mock.enqueue({ text: '{"city": 5, "temperature": "warm", "units": "kelvin"}' })
    const err: any = await t.throwsAsync(agentOn(mock).generate('Weather?', { structuredOutput: { schema: Location } }))
    t.true(err instanceof StructuredOutputError)
    t.true(err instanceof LumosError)
    t.is(err.code, 'STRUCTURED_OUTPUT_SCHEMA_VALIDATION_FAILED')
  }),
)

test(
  'a reply that is not JSON at all rejects with a StructuredOutputError',
  withMock(async (t: any, mock) => {
    mock.enqueue({ text: 'Sorry, I cannot help with that.' })
    const err: any = await t.throwsAsync(agentOn(mock).generate('Weather?', { structuredOutput: { schema: Location } }))
    t.true(err instanceof StructuredOutputError)
    t.regex(err.code, /^STRUCTURED_OUTPUT_/)
  }),
)

test(
  'tools and structured output in the same loop: tool step first, then the JSON answer',
  withMock(async (t: any, mock) => {
    mock.enqueue(
      { toolCalls: [{ id: 'call_w', name: 'weather', args: { city: 'Oslo' } }] },
      { text: '{"city":"Oslo","temperature":-3,"units":"c"}' },
    )
    const weather = createTool({
      id: 'weather',
      description: 'weather',
      inputSchema: z.object({ city: z.string() }),
      execute: async ({ city }: any) => ({ city, temp: -3 }),
    })
    const result: any = await agentOn(mock, openaiModel(mock), { tools: { weather } }).generate('Oslo?', {
      structuredOutput: { schema: Location },
    })
    t.deepEqual(result.object, { city: 'Oslo', temperature: -3, units: 'c' })
    t.is(result.steps.length, 2)
    t.is(result.toolResults.length, 1)
  }),
)

/** Answers an Anthropic structured-output request whichever mechanism the client uses:
 *  a forced tool (tool_choice {type:'tool'}) gets a tool_use with the object as input;
 *  otherwise (output_config / output_format / prompt instructions) the JSON comes as text. */
const anthropicStructured =
  (value: unknown) =>
  (req: RecordedRequest): MockTurn => {
    const forced = req.body?.tool_choice?.type === 'tool' ? req.body.tool_choice.name : undefined
    if (forced) return { toolCalls: [{ name: forced, args: value }] }
    return { text: JSON.stringify(value) }
  }

test(
  'anthropic: structured output via generate and stream',
  withMock(async (t: any, mock) => {
    const value = { city: 'Paris', temperature: 20, units: 'c' }
    mock.enqueue(anthropicStructured(value), anthropicStructured(value))
    const a: any = await agentOn(mock, anthropicModel(mock)).generate('Paris?', { structuredOutput: { schema: Location } })
    t.deepEqual(a.object, value)
    const s: any = await agentOn(mock, anthropicModel(mock)).stream('Paris?', { structuredOutput: { schema: Location } })
    await collect(s.fullStream)
    t.deepEqual(await s.object, value)
    // the schema reached the request one way or another
    const body = JSON.stringify(mock.requests[0].body)
    t.regex(body, /temperature/)
  }),
)
