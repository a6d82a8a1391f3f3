// PostgresStore through the public API: Memory and agent memory on a throwaway server, and two
// processes sharing one database. Skipped (with a message) when PostgreSQL is not installed.
import test from 'ava'
import { execFileSync } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Agent, Memory, PostgresStore } from '../index.js'
import { startMockProvider } from './helpers/mock-provider.js'
import { postgresTests } from './helpers/postgres.js'

const pgTest = postgresTests()

pgTest('threads, messages and working memory on PostgreSQL', async (t, url) => {
  const memory = new Memory({ storage: new PostgresStore({ id: 'pg', connectionString: url }) })
  await memory.createThread({ resourceId: 'r', threadId: 't', metadata: { a: 1 } })
  await memory.saveMessages({ messages: [{ threadId: 't', resourceId: 'r', role: 'user', content: 'hello' }, { threadId: 't', resourceId: 'r', role: 'assistant', content: 'hi' }] })
  const { messages } = await memory.recall({ threadId: 't' })
  t.deepEqual(messages.map((m) => m.content.parts[0].text), ['hello', 'hi'])
  t.deepEqual((await memory.updateThread({ id: 't', metadata: { b: 2 } })).metadata, { a: 1, b: 2 })
  await memory.updateWorkingMemory({ threadId: 't', workingMemory: 'likes tea' })
  t.is(await memory.getWorkingMemory({ threadId: 't' }), 'likes tea')
})

pgTest('an agent with PostgreSQL memory remembers across calls', async (t, url) => {
  const mock = await startMockProvider()
  t.teardown(() => mock.close())
  mock.enqueue({ text: 'noted' }, { text: 'you said blue' })
  const memory = new Memory({ storage: new PostgresStore({ id: 'pg', connectionString: url }) })
  const agent = new Agent({ id: 'a', name: 'a', instructions: 'x', model: { id: 'openai/gpt-4o-mini', url: mock.url, apiKey: 'k' }, memory })
  await agent.generate('my colour is blue', { memory: { thread: 'c', resource: 'u' } })
  await agent.generate('what colour?', { memory: { thread: 'c', resource: 'u' } })
  t.deepEqual(mock.requests[1].body.messages.map((m: any) => m.content), ['x', 'my colour is blue', 'noted', 'what colour?'])
})

pgTest('two processes share one PostgreSQL database', async (t, url) => {
  const memory = new Memory({ storage: new PostgresStore({ id: 'pg', connectionString: url }) })
  await memory.createThread({ resourceId: 'r', threadId: 'shared' })
  const child = fileURLToPath(new URL('./helpers/pg-writer-child.mjs', import.meta.url))
  t.is(execFileSync(process.execPath, [child, url]).toString().trim(), 'done')
  const { messages } = await memory.recall({ threadId: 'shared' })
  t.deepEqual(messages.map((m) => m.id), ['from-child'])
})
