// Agents with memory: history is loaded into the prompt, and the run is saved as it happens —
// the user message first, then each completed step — so an aborted stream keeps what finished.
import test from 'ava'
import { z } from 'zod'
import { Agent, createTool, LibSQLStore, Memory } from '../index.js'
import { startMockProvider } from './helpers/mock-provider.js'

async function setup(t: any, options = {}) {
  const mock = await startMockProvider()
  t.teardown(() => mock.close())
  const memory = new Memory({ storage: new LibSQLStore({ id: 's', url: ':memory:' }), options })
  const lookup = createTool({ id: 'lookup', description: 'lookup', inputSchema: z.object({ q: z.string() }), execute: async ({ q }: any) => ({ answer: `${q}!` }) })
  const agent = new Agent({ id: 'mem', name: 'mem', instructions: 'remember', model: { id: 'openai/gpt-4o-mini', url: mock.url, apiKey: 'k' }, tools: { lookup }, memory })
  return { mock, memory, agent }
}

const texts = (messages: any[]) => messages.map((m) => `${m.role}:${m.content.parts.filter((p: any) => p.type === 'text').map((p: any) => p.text).join('')}`)

test('a second generate on the same thread sees the first exchange; the thread is created on first use', async (t) => {
  const { mock, memory, agent } = await setup(t)
  mock.enqueue({ text: 'Nice to meet you, Ada.' }, { text: 'Your name is Ada.' })
  await agent.generate('My name is Ada.', { memory: { thread: 'th1', resource: 'user-1' } })
  const thread = await memory.getThreadById({ threadId: 'th1' })
  t.is(thread?.resourceId, 'user-1')
  await agent.generate('What is my name?', { memory: { thread: 'th1', resource: 'user-1' } })
  const sent = mock.requests[1].body.messages.map((m: any) => `${m.role}:${typeof m.content === 'string' ? m.content : ''}`)
  t.deepEqual(sent, ['system:remember', 'user:My name is Ada.', 'assistant:Nice to meet you, Ada.', 'user:What is my name?'])
  const { messages } = await memory.recall({ threadId: 'th1' })
  t.deepEqual(texts(messages), ['user:My name is Ada.', 'assistant:Nice to meet you, Ada.', 'user:What is my name?', 'assistant:Your name is Ada.'])
})

test('tool calls and results are stored as tool-invocation parts and replayed to the model', async (t) => {
  const { mock, memory, agent } = await setup(t)
  mock.enqueue({ toolCalls: [{ id: 'call_1', name: 'lookup', args: { q: 'x' } }] }, { text: 'x! it is' }, { text: 'again' })
  await agent.generate('look up x', { memory: { thread: 'th2', resource: 'u' } })
  const { messages } = await memory.recall({ threadId: 'th2' })
  const invocation = messages[1].content.parts.find((p: any) => p.type === 'tool-invocation')
  t.like(invocation.toolInvocation, { state: 'result', toolCallId: 'call_1', toolName: 'lookup', args: { q: 'x' }, result: { answer: 'x!' } })
  await agent.generate('and again', { memory: { thread: 'th2', resource: 'u' } })
  const roles = mock.requests[2].body.messages.map((m: any) => m.role)
  t.deepEqual(roles, ['system', 'user', 'assistant', 'tool', 'assistant', 'user'])
})

test('lastMessages bounds the history loaded into the prompt', async (t) => {
  const { mock, agent } = await setup(t, { lastMessages: 2 })
  mock.enqueue({ text: 'a1' }, { text: 'a2' }, { text: 'a3' })
  for (const q of ['q1', 'q2', 'q3']) await agent.generate(q, { memory: { thread: 'th3', resource: 'u' } })
  const sent = mock.requests[2].body.messages.map((m: any) => m.content)
  t.deepEqual(sent, ['remember', 'q2', 'a2', 'q3'])
})

test('an aborted stream keeps the user message and every completed step', async (t) => {
  const { mock, memory, agent } = await setup(t)
  mock.enqueue({ toolCalls: [{ id: 'call_9', name: 'lookup', args: { q: 'y' } }] }, { hang: true })
  const controller = new AbortController()
  const s = await agent.stream('find y', { memory: { thread: 'th4', resource: 'u' }, abortSignal: controller.signal })
  for await (const chunk of s.fullStream as any) {
    if (chunk.type === 'step-finish') setTimeout(() => controller.abort(), 50)
  }
  t.is(s.status, 'aborted')
  const { messages } = await memory.recall({ threadId: 'th4' })
  t.is(messages.length, 2)
  t.deepEqual(texts(messages)[0], 'user:find y')
  const inv = messages[1].content.parts.find((p: any) => p.type === 'tool-invocation')
  t.like(inv.toolInvocation, { state: 'result', result: { answer: 'y!' } })
})

test('readOnly memory loads history but saves nothing', async (t) => {
  const { mock, memory, agent } = await setup(t)
  mock.enqueue({ text: 'first' }, { text: 'second' })
  await agent.generate('one', { memory: { thread: 'th5', resource: 'u' } })
  await agent.generate('two', { memory: { thread: 'th5', resource: 'u', readOnly: true } })
  t.is(mock.requests[1].body.messages.length, 4)
  t.is((await memory.recall({ threadId: 'th5' })).messages.length, 2)
})

test('working memory: the model updates it with updateWorkingMemory and the next run sees it (resource scope)', async (t) => {
  const mock = await startMockProvider()
  t.teardown(() => mock.close())
  const memory = new Memory({ storage: new LibSQLStore({ id: 's', url: ':memory:' }), options: { workingMemory: { enabled: true, template: '# User\n- name:' } } })
  const agent = new Agent({ id: 'wm', name: 'wm', instructions: 'be kind', model: { id: 'openai/gpt-4o-mini', url: mock.url, apiKey: 'k' }, memory })
  mock.enqueue({ toolCalls: [{ id: 'wm1', name: 'updateWorkingMemory', args: { memory: '# User\n- name: Ada' } }] }, { text: 'Hi Ada' }, { text: 'You are Ada' })
  const first = await agent.generate('I am Ada', { memory: { thread: 'w1', resource: 'user-9' } })
  t.deepEqual(first.toolResults.map((r: any) => r.payload.result), [{ success: true }])
  t.true(mock.requests[0].body.tools.some((x: any) => x.function.name === 'updateWorkingMemory'))
  t.is(await memory.getWorkingMemory({ threadId: 'w1', resourceId: 'user-9' }), '# User\n- name: Ada')
  // Another thread of the same resource gets the data in its system prompt.
  await agent.generate('who am I?', { memory: { thread: 'w2', resource: 'user-9' } })
  const system = mock.requests[2].body.messages.filter((m: any) => m.role === 'system').map((m: any) => m.content)
  t.is(system[0], 'be kind')
  t.regex(system[1], /<working_memory_data>\n# User\n- name: Ada\n<\/working_memory_data>/)
})
