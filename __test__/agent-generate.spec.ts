// agent.generate() against the local mock model server: plain text on both providers, message
// forms, instructions, requestContext, usage, defaultOptions/modelSettings and the Mastra registry.
import test from 'ava'
import { z } from 'zod'

import { Agent, createTool, Lumos, Mastra, RequestContext } from '../index.js'
import {
  anthropicModel,
  assistantToolCalls,
  chatTurns,
  openaiModel,
  PROVIDERS,
  systemPrompts,
  toolNames,
  withMock,
} from './helpers/agent-utils.js'
import { toolResultsIn } from './helpers/mock-provider.js'

for (const p of PROVIDERS) {
  test(
    `${p.name}: plain text generate returns Mastra-shaped output`,
    withMock(async (t: any, mock) => {
      mock.enqueue({ text: 'Hello there, friend.', usage: { input: 7, output: 3 } })
      const agent = new Agent({ id: 'greeter', name: 'Greeter', instructions: 'You are terse.', model: p.model(mock) })
      const result: any = await agent.generate('hi')

      t.is(result.text, 'Hello there, friend.')
      t.is(result.finishReason, 'stop')
      t.is(result.object, undefined)
      t.deepEqual(result.toolCalls, [])
      t.deepEqual(result.toolResults, [])
      t.is(result.steps.length, 1)
      t.is(result.steps[0].text, 'Hello there, friend.')
      t.is(typeof result.runId, 'string')
      t.true(result.runId.length > 0)
      t.like(result.usage, { inputTokens: 7, outputTokens: 3, totalTokens: 10 })
      t.like(result.totalUsage, { inputTokens: 7, outputTokens: 3, totalTokens: 10 })
      t.true(Array.isArray(result.messages))
      t.is(typeof result.response, 'object')

      t.is(mock.requests.length, 1)
      const req = mock.requests[0]
      t.is(req.body.model, p.wireModel)
      t.not(req.body.stream, true)
      t.deepEqual(systemPrompts(req.body), ['You are terse.'])
      t.deepEqual(chatTurns(req.body), [{ role: 'user', text: 'hi' }])
      if (p.name === 'openai') {
        t.is(req.path, '/v1/chat/completions')
        t.is(req.headers.authorization, 'Bearer test-key')
      } else {
        t.is(req.path, '/v1/messages')
        t.is(req.headers['x-api-key'], 'k')
        t.truthy(req.headers['anthropic-version'])
        t.is(typeof req.body.max_tokens, 'number')
      }
    }),
  )
}

test(
  'openai: usage maps cached and reasoning token details',
  withMock(async (t: any, mock) => {
    mock.enqueue({ text: 'ok', usage: { input: 20, output: 9, cachedInput: 4, reasoning: 2 } })
    const agent = new Agent({ id: 'u', name: 'u', instructions: 'x', model: openaiModel(mock) })
    const { usage, totalUsage } = (await agent.generate('hi')) as any
    t.deepEqual(
      { ...usage, raw: undefined },
      { inputTokens: 20, outputTokens: 9, totalTokens: 29, reasoningTokens: 2, cachedInputTokens: 4, raw: undefined },
    )
    t.like(totalUsage, { inputTokens: 20, outputTokens: 9, totalTokens: 29, reasoningTokens: 2, cachedInputTokens: 4 })
  }),
)

test(
  'usage and totalUsage cover the whole run (sum over steps), text joins the steps',
  withMock(async (t: any, mock) => {
    mock.enqueue(
      { text: 'Let me look.', toolCalls: [{ name: 'lookup', args: { q: 'a' } }], usage: { input: 10, output: 4 } },
      { text: ' Found it.', usage: { input: 30, output: 6 } },
    )
    const lookup = createTool({
      id: 'lookup-tool',
      description: 'Look something up',
      inputSchema: z.object({ q: z.string() }),
      execute: async ({ q }: any) => ({ found: q }),
    })
    const agent = new Agent({ id: 'u2', name: 'u2', instructions: 'x', model: openaiModel(mock), tools: { lookup } })
    const result: any = await agent.generate('find a')
    t.is(result.steps.length, 2)
    t.like(result.usage, { inputTokens: 40, outputTokens: 10, totalTokens: 50 })
    t.like(result.totalUsage, { inputTokens: 40, outputTokens: 10, totalTokens: 50 })
    t.like(result.steps[0].usage, { inputTokens: 10, outputTokens: 4 })
    t.like(result.steps[1].usage, { inputTokens: 30, outputTokens: 6 })
    t.is(result.text, 'Let me look. Found it.')
  }),
)

// ---------------------------------------------------------------------------------------------
// Message forms
// ---------------------------------------------------------------------------------------------

for (const p of PROVIDERS) {
  test(
    `${p.name}: message forms (string[], role objects, content parts, history with assistant turns)`,
    withMock(async (t: any, mock) => {
      mock.enqueue({ text: '1' }, { text: '2' }, { text: '3' }, { text: '4' })
      const agent = new Agent({ id: 'm', name: 'm', instructions: 'sys', model: p.model(mock) })

      await agent.generate(['first', 'second'])
      await agent.generate({ role: 'user', content: 'as object' })
      await agent.generate([
        { role: 'user', content: 'my name is Ann' },
        { role: 'assistant', content: 'Hi Ann' },
        { role: 'user', content: 'what is my name?' },
      ])
      await agent.generate([
        {
          role: 'user',
          content: [
            { type: 'text', text: 'part one' },
            { type: 'text', text: 'part two' },
          ],
        },
      ])

      const turns = mock.requests.map((r) => chatTurns(r.body))
      // one user message per string (exactness checked for OpenAI below; an Anthropic client may
      // merge consecutive user turns into one message with several text blocks)
      t.true(turns[0].every((m) => m.role === 'user'))
      t.regex(turns[0].map((m) => m.text).join('|'), /first\|?second/)
      t.deepEqual(turns[1], [{ role: 'user', text: 'as object' }])
      t.deepEqual(turns[2], [
        { role: 'user', text: 'my name is Ann' },
        { role: 'assistant', text: 'Hi Ann' },
        { role: 'user', text: 'what is my name?' },
      ])
      t.is(turns[3].length, 1)
      t.is(turns[3][0].role, 'user')
      t.regex(turns[3][0].text, /part one[\s\S]*part two/)
      for (const r of mock.requests) t.deepEqual(systemPrompts(r.body), ['sys'])
    }),
  )
}

test(
  'openai: string[] gives one user message per string',
  withMock(async (t: any, mock) => {
    mock.enqueue({ text: 'ok' })
    const agent = new Agent({ id: 'm2', name: 'm2', instructions: 'sys', model: openaiModel(mock) })
    await agent.generate(['a', 'b', 'c'])
    t.deepEqual(chatTurns(mock.requests[0].body), [
      { role: 'user', text: 'a' },
      { role: 'user', text: 'b' },
      { role: 'user', text: 'c' },
    ])
  }),
)

// ---------------------------------------------------------------------------------------------
// Instructions
// ---------------------------------------------------------------------------------------------

for (const p of PROVIDERS) {
  test(
    `${p.name}: instructions static, sync function, async function, per-call override`,
    withMock(async (t: any, mock) => {
      mock.enqueue({ text: '1' }, { text: '2' }, { text: '3' }, { text: '4' })
      const staticAgent = new Agent({ id: 's', name: 's', instructions: 'Static prompt.', model: p.model(mock) })
      const syncAgent = new Agent({
        id: 'f',
        name: 'f',
        instructions: ({ requestContext }: any) => `Help ${requestContext.get('user')}.`,
        model: p.model(mock),
      })
      const asyncAgent = new Agent({
        id: 'af',
        name: 'af',
        instructions: async ({ requestContext }: any) => {
          await new Promise((r) => setTimeout(r, 10))
          return `Async help for ${requestContext.get('user')}.`
        },
        model: p.model(mock),
      })
      const rc = new RequestContext()
      rc.set('user', 'Ada')

      await staticAgent.generate('q1')
      await syncAgent.generate('q2', { requestContext: rc })
      await asyncAgent.generate('q3', { requestContext: rc })
      await staticAgent.generate('q4', { instructions: 'Per-call prompt.' })

      t.deepEqual(
        mock.requests.map((r) => systemPrompts(r.body)),
        [['Static prompt.'], ['Help Ada.'], ['Async help for Ada.'], ['Per-call prompt.']],
      )
    }),
  )
}

test(
  'openai: instructions as string[] give one system message per entry',
  withMock(async (t: any, mock) => {
    mock.enqueue({ text: 'ok' })
    const agent = new Agent({ id: 'arr', name: 'arr', instructions: ['Rule one.', 'Rule two.'], model: openaiModel(mock) })
    await agent.generate('hi')
    t.deepEqual(systemPrompts(mock.requests[0].body), ['Rule one.', 'Rule two.'])
  }),
)

test(
  'a throwing dynamic instructions function rejects generate',
  withMock(async (t: any, mock) => {
    const agent = new Agent({
      id: 'bad',
      name: 'bad',
      instructions: () => {
        throw new Error('no instructions for you')
      },
      model: openaiModel(mock),
    })
    const err = await t.throwsAsync(agent.generate('hi'))
    t.regex(err.message, /no instructions for you/)
    t.is(mock.requests.length, 0)
  }),
)

// ---------------------------------------------------------------------------------------------
// requestContext
// ---------------------------------------------------------------------------------------------

for (const p of PROVIDERS) {
  test(
    `${p.name}: requestContext reaches tools; tool context carries toolCallId and an AbortSignal`,
    withMock(async (t: any, mock) => {
      mock.enqueue({ toolCalls: [{ id: 'call_ctx_1', name: 'whoami', args: {} }] }, { text: 'done' })
      const seen: any[] = []
      const whoami = createTool({
        id: 'whoami-tool',
        description: 'Tell who the caller is',
        inputSchema: z.object({}),
        execute: async (_input: any, context: any) => {
          seen.push({
            tenant: context.requestContext.get('tenant'),
            toolCallId: context.toolCallId,
            agentToolCallId: context.agent?.toolCallId,
            signal: context.abortSignal,
          })
          return { tenant: context.requestContext.get('tenant') }
        },
      })
      const agent = new Agent({ id: 'ctx', name: 'ctx', instructions: 'x', model: p.model(mock), tools: { whoami } })
      const rc = new RequestContext()
      rc.set('tenant', 'acme')
      const result: any = await agent.generate('who?', { requestContext: rc })

      t.is(result.text, 'done')
      t.is(seen.length, 1)
      t.is(seen[0].tenant, 'acme')
      t.is(seen[0].toolCallId, 'call_ctx_1')
      t.is(seen[0].agentToolCallId, 'call_ctx_1')
      t.true(seen[0].signal instanceof AbortSignal)
      t.deepEqual(result.toolResults[0].payload.result, { tenant: 'acme' })
      const results = toolResultsIn(mock.requests[1].body)
      t.is(results.length, 1)
      t.is(results[0].toolCallId, 'call_ctx_1')
      t.deepEqual(JSON.parse(results[0].content), { tenant: 'acme' })
    }),
  )
}

test(
  'tools always get a RequestContext, even when none is passed',
  withMock(async (t: any, mock) => {
    mock.enqueue({ toolCalls: [{ name: 'probe', args: {} }] }, { text: 'ok' })
    let ctx: any
    const probe = createTool({
      id: 'probe',
      description: 'probe',
      inputSchema: z.object({}),
      execute: async (_i: any, context: any) => {
        ctx = context.requestContext
        return 'fine'
      },
    })
    const agent = new Agent({ id: 'p', name: 'p', instructions: 'x', model: openaiModel(mock), tools: { probe } })
    await agent.generate('go')
    t.truthy(ctx)
    t.is(typeof ctx.get, 'function')
    t.is(ctx.get('missing'), undefined)
  }),
)

test(
  'dynamic tools resolved from requestContext decide which tools the model sees',
  withMock(async (t: any, mock) => {
    mock.enqueue({ text: 'free' }, { text: 'pro' })
    const mk = (id: string) =>
      createTool({ id, description: `tool ${id}`, inputSchema: z.object({}), execute: async () => id })
    const basic = mk('basic')
    const premium = mk('premium')
    const agent = new Agent({
      id: 'dyn',
      name: 'dyn',
      instructions: 'x',
      model: openaiModel(mock),
      tools: async ({ requestContext }: any) => (requestContext.get('tier') === 'pro' ? { basic, premium } : { basic }),
    })
    const free = new RequestContext()
    free.set('tier', 'free')
    const pro = new RequestContext()
    pro.set('tier', 'pro')
    await agent.generate('a', { requestContext: free })
    await agent.generate('b', { requestContext: pro })
    t.deepEqual(toolNames(mock.requests[0].body), ['basic'])
    t.deepEqual(toolNames(mock.requests[1].body), ['basic', 'premium'])
  }),
)

test('RequestContext is Map-like', (t) => {
  const rc = new RequestContext()
  rc.set('a', 1)
  rc.set('b', { nested: true })
  t.is(rc.get('a'), 1)
  t.deepEqual(rc.get('b'), { nested: true })
  t.true(rc.has('a'))
  t.false(rc.has('zzz'))
  t.deepEqual([...rc.keys()], ['a', 'b'])
  rc.delete('a')
  t.false(rc.has('a'))
})

// ---------------------------------------------------------------------------------------------
// Options: defaultOptions, modelSettings
// ---------------------------------------------------------------------------------------------

for (const p of PROVIDERS) {
  test(
    `${p.name}: modelSettings reach the request body; defaultOptions merge and per-call wins`,
    withMock(async (t: any, mock) => {
      mock.enqueue({ text: '1' }, { text: '2' })
      const agent = new Agent({
        id: 'ms',
        name: 'ms',
        instructions: 'x',
        model: p.model(mock),
        defaultOptions: { modelSettings: { temperature: 0.3, topP: 0.9 } },
      })
      await agent.generate('a')
      await agent.generate('b', { modelSettings: { temperature: 0.7, maxOutputTokens: 123, stopSequences: ['END'] } })
      const [a, b] = mock.requests.map((r) => r.body)
      t.is(a.temperature, 0.3)
      t.is(a.top_p, 0.9)
      t.is(b.temperature, 0.7)
      if (p.name === 'openai') {
        t.is(b.max_tokens ?? b.max_completion_tokens, 123)
        t.deepEqual(typeof b.stop === 'string' ? [b.stop] : b.stop, ['END'])
      } else {
        t.is(b.max_tokens, 123)
        t.deepEqual(b.stop_sequences, ['END'])
      }
    }),
  )
}

// ---------------------------------------------------------------------------------------------
// Model forms
// ---------------------------------------------------------------------------------------------

test.serial(
  'router string model with OPENAI_API_KEY / OPENAI_BASE_URL from the environment',
  withMock(async (t: any, mock) => {
    const saved = { key: process.env.OPENAI_API_KEY, url: process.env.OPENAI_BASE_URL }
    process.env.OPENAI_API_KEY = 'env-key'
    process.env.OPENAI_BASE_URL = mock.url
    try {
      mock.enqueue({ text: 'from env' })
      const agent = new Agent({ id: 'router', name: 'router', instructions: 'x', model: 'openai/gpt-4o-mini' })
      const result: any = await agent.generate('hi')
      t.is(result.text, 'from env')
      t.is(mock.requests[0].headers.authorization, 'Bearer env-key')
      t.is(mock.requests[0].body.model, 'gpt-4o-mini')
    } finally {
      if (saved.key === undefined) delete process.env.OPENAI_API_KEY
      else process.env.OPENAI_API_KEY = saved.key
      if (saved.url === undefined) delete process.env.OPENAI_BASE_URL
      else process.env.OPENAI_BASE_URL = saved.url
    }
  }),
)

test(
  'anthropic config object with a dated model id is sent as-is',
  withMock(async (t: any, mock) => {
    mock.enqueue({ text: 'ok' })
    const agent = new Agent({
      id: 'dated',
      name: 'dated',
      instructions: 'x',
      model: anthropicModel(mock, 'anthropic/claude-sonnet-4-5-20250929'),
    })
    await agent.generate('hi')
    t.is(mock.requests[0].body.model, 'claude-sonnet-4-5-20250929')
  }),
)

// ---------------------------------------------------------------------------------------------
// Mastra registry
// ---------------------------------------------------------------------------------------------

test(
  'Mastra registry: getAgent, getAgentById, listAgents; Lumos is the same class',
  withMock(async (t: any, mock) => {
    mock.enqueue({ text: 'registered' })
    const agent = new Agent({ id: 'support-agent', name: 'Support', instructions: 'x', model: openaiModel(mock) })
    const other = new Agent({ id: 'other-agent', name: 'Other', instructions: 'y', model: openaiModel(mock) })
    const mastra = new Mastra({ agents: { support: agent, other } })

    t.is(mastra.getAgent('support'), agent)
    t.is(mastra.getAgentById('other-agent'), other)
    const listed = mastra.listAgents()
    t.deepEqual(Object.keys(listed).sort(), ['other', 'support'])
    t.is(listed.support, agent)

    const result: any = await mastra.getAgent('support').generate('hi')
    t.is(result.text, 'registered')

    t.is(Lumos, Mastra)
    const lumos = new Lumos({ agents: { a: agent } })
    t.is(lumos.getAgent('a'), agent)
  }),
)

test(
  'history replay: assistant tool calls from a previous step are sent back with their ids',
  withMock(async (t: any, mock) => {
    mock.enqueue({ toolCalls: [{ id: 'call_hist', name: 'noop', args: { x: 1 } }] }, { text: 'fin' })
    const noop = createTool({ id: 'noop', description: 'noop', inputSchema: z.object({ x: z.number() }), execute: async () => 'ok' })
    const agent = new Agent({ id: 'h', name: 'h', instructions: 'x', model: openaiModel(mock), tools: { noop } })
    await agent.generate('go')
    t.deepEqual(assistantToolCalls(mock.requests[1].body), [{ id: 'call_hist', name: 'noop', args: { x: 1 } }])
  }),
)

test('options Lumos does not implement yet fail loudly with NOT_SUPPORTED instead of being ignored', async (t) => {
  const model = { id: 'openai/gpt-4o-mini', url: 'http://127.0.0.1:9/v1', apiKey: 'k' }
  const err = t.throws(() => new Agent({ id: 'm', name: 'm', instructions: 'x', model, workflows: {} }))
  t.is((err as any)?.code, 'NOT_SUPPORTED')
  t.regex(err?.message ?? '', /workflows/)
  const agent = new Agent({ id: 'n', name: 'n', instructions: 'x', model })
  const e2 = await t.throwsAsync(agent.generate('hi', { prepareStep: () => ({}) }))
  t.is((e2 as any)?.code, 'NOT_SUPPORTED')
  const e3 = await t.throwsAsync(agent.generate('hi', { memory: { thread: 't', resource: 'r' } }))
  t.is((e3 as any)?.code, 'MEMORY_NOT_CONFIGURED')
})
