// AI SDK model objects as the agent's model: @ai-sdk/openai 2.x (LanguageModelV2) and
// @ai-sdk/openai 3.x (LanguageModelV3, installed as @ai-sdk/openai-v3), pointed at the mock.
import { createOpenAI as createOpenAIv2 } from '@ai-sdk/openai'
import { createOpenAI as createOpenAIv3 } from '@ai-sdk/openai-v3'
import test from 'ava'
import { z } from 'zod'

import { Agent, createTool } from '../index.js'
import { collect, coreTypes, withMock } from './helpers/agent-utils.js'
import { toolResultsIn, type MockProvider } from './helpers/mock-provider.js'

const SPECS = [
  { label: 'v2 (@ai-sdk/openai 2.x)', spec: 'v2', make: (mock: MockProvider) => createOpenAIv2({ baseURL: mock.url, apiKey: 'k' }).chat('gpt-4o-mini') },
  { label: 'v3 (@ai-sdk/openai 3.x)', spec: 'v3', make: (mock: MockProvider) => createOpenAIv3({ baseURL: mock.url, apiKey: 'k' }).chat('gpt-4o-mini') },
] as const

for (const s of SPECS) {
  test(
    `${s.label}: generate`,
    withMock(async (t: any, mock) => {
      const model: any = s.make(mock)
      t.is(model.specificationVersion, s.spec)
      mock.enqueue({ text: 'Hi from the AI SDK model.', usage: { input: 9, output: 6 } })
      const agent = new Agent({ id: `aisdk-${s.spec}`, name: 'aisdk', instructions: 'Be brief.', model })
      const result: any = await agent.generate('hello')
      t.is(result.text, 'Hi from the AI SDK model.')
      t.is(result.finishReason, 'stop')
      t.like(result.usage, { inputTokens: 9, outputTokens: 6, totalTokens: 15 })
      t.is(mock.requests.length, 1)
      const req = mock.requests[0]
      t.is(req.path, '/v1/chat/completions')
      t.is(req.headers.authorization, 'Bearer k')
      t.is(req.body.model, 'gpt-4o-mini')
      const roles = req.body.messages.map((m: any) => m.role)
      t.true(roles.includes('system') || roles.includes('developer'))
      t.is(req.body.messages.at(-1).role, 'user')
    }),
  )

  test(
    `${s.label}: stream (textStream, chunk order, streamed usage)`,
    withMock(async (t: any, mock) => {
      mock.enqueue({ text: 'Streaming through the AI SDK model works.', usage: { input: 4, output: 8 } })
      const agent = new Agent({ id: `aisdk-s-${s.spec}`, name: 'aisdk', instructions: 'x', model: s.make(mock) as any })
      const st: any = await agent.stream('hello')
      const [pieces, chunks] = await Promise.all([collect<string>(st.textStream), collect<any>(st.fullStream)])
      t.is(pieces.join(''), 'Streaming through the AI SDK model works.')
      t.true(pieces.length >= 3)
      const types = coreTypes(chunks)
      t.is(types[0], 'start')
      t.is(types.at(-1), 'finish')
      t.true(types.includes('text-delta'))
      t.like(await st.usage, { inputTokens: 4, outputTokens: 8, totalTokens: 12 })
      t.is(await st.finishReason, 'stop')
      t.is(mock.requests[0].body.stream, true)
    }),
  )

  test(
    `${s.label}: tool loop (two parallel calls, then text)`,
    withMock(async (t: any, mock) => {
      mock.enqueue(
        {
          toolCalls: [
            { id: 'call_a', name: 'add', args: { a: 1, b: 2 } },
            { id: 'call_b', name: 'add', args: { a: 3, b: 4 } },
          ],
        },
        { text: '3 and 7' },
      )
      const calls: any[] = []
      const add = createTool({
        id: 'add-tool',
        description: 'Add two numbers',
        inputSchema: z.object({ a: z.number(), b: z.number() }),
        execute: async (input: any) => (calls.push(input), { sum: input.a + input.b }),
      })
      const agent = new Agent({ id: `aisdk-t-${s.spec}`, name: 'aisdk', instructions: 'x', model: s.make(mock) as any, tools: { add } })
      const result: any = await agent.generate('add things')
      t.is(result.text, '3 and 7')
      t.is(calls.length, 2)
      t.deepEqual(
        result.toolResults.map((r: any) => [r.payload.toolCallId, r.payload.result]),
        [
          ['call_a', { sum: 3 }],
          ['call_b', { sum: 7 }],
        ],
      )
      const first = mock.requests[0].body
      t.is(first.tools[0].type, 'function')
      t.is(first.tools[0].function.name, 'add')
      t.is(first.tools[0].function.parameters.type, 'object')
      const sent = toolResultsIn(mock.requests[1].body)
      t.deepEqual(
        sent.map((r) => [r.toolCallId, JSON.parse(r.content)]),
        [
          ['call_a', { sum: 3 }],
          ['call_b', { sum: 7 }],
        ],
      )
    }),
  )

  test(
    `${s.label}: streamed tool loop`,
    withMock(async (t: any, mock) => {
      mock.enqueue({ toolCalls: [{ id: 'call_s', name: 'echo', args: { v: 'hey' } }] }, { text: 'echoed hey' })
      const echo = createTool({
        id: 'echo',
        description: 'echo',
        inputSchema: z.object({ v: z.string() }),
        execute: async ({ v }: any) => ({ v }),
      })
      const agent = new Agent({ id: `aisdk-st-${s.spec}`, name: 'aisdk', instructions: 'x', model: s.make(mock) as any, tools: { echo } })
      const st: any = await agent.stream('echo hey')
      const chunks: any[] = await collect(st.fullStream)
      const types = coreTypes(chunks)
      t.true(types.indexOf('tool-call') < types.indexOf('tool-result'))
      t.like(chunks.find((c) => c.type === 'tool-result').payload, { toolCallId: 'call_s', toolName: 'echo', result: { v: 'hey' } })
      t.is(await st.text, 'echoed hey')
      t.is(mock.requests.length, 2)
    }),
  )
}
