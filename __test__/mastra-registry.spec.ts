// The Mastra registry's storage rule: a Memory given no storage uses `new Mastra({ storage })`'s
// (static or dynamic agent memory alike), one with its own keeps it, and without a registry
// storage the embedded default is used. (Vectors: vector.spec.ts 'Mastra registry: vectors, …'.)
import test from 'ava'
import { Agent, LibSQLStore, LibSQLVector, Mastra, Memory } from '../index.js'
import { startMockProvider } from './helpers/mock-provider.js'

const on = (thread: string) => ({ memory: { thread, resource: 'u' } })

test('a Memory without storage uses the registry storage; one with its own keeps it', async (t) => {
  const chat = await startMockProvider({ fallback: { text: 'ok' } })
  t.teardown(() => chat.close())
  const model = { id: 'openai/gpt-4o-mini', url: chat.url, apiKey: 'k' }
  const shared = new LibSQLStore({ id: 'shared', url: ':memory:' })
  const own = new LibSQLStore({ id: 'own', url: ':memory:' })
  const bare = new Memory()
  const owned = new Memory({ storage: own })
  const dynamic = new Memory()
  const mastra = new Mastra({
    storage: shared,
    agents: {
      a: new Agent({ id: 'a', name: 'a', instructions: 'sys', model, memory: bare }),
      b: new Agent({ id: 'b', name: 'b', instructions: 'sys', model, memory: owned }),
      c: new Agent({ id: 'c', name: 'c', instructions: 'sys', model, memory: () => dynamic }),
    },
  })
  t.is(mastra.getStorage(), shared)
  // Static memory gets it at registration, before any run.
  t.is(bare.storage, shared)
  t.false(bare.hasOwnStorage)
  t.is(owned.storage, own)
  t.true(owned.hasOwnStorage)
  await mastra.getAgent('a').generate('hi', on('ta'))
  await mastra.getAgent('b').generate('hi', on('tb'))
  await mastra.getAgent('c').generate('hi', on('tc'))
  t.is(dynamic.storage, shared)
  t.is((await mastra.getAgent('c').getMemory()) as Memory, dynamic)
  // What the runs wrote is where the rule says.
  const viaShared = new Memory({ storage: shared })
  const viaOwn = new Memory({ storage: own })
  t.truthy(await viaShared.getThreadById({ threadId: 'ta' }))
  t.truthy(await viaShared.getThreadById({ threadId: 'tc' }))
  t.is(await viaShared.getThreadById({ threadId: 'tb' }), null)
  t.truthy(await viaOwn.getThreadById({ threadId: 'tb' }))
  t.deepEqual((await viaShared.recall({ threadId: 'ta' })).messages.map((m) => m.role), ['user', 'assistant'])
})

test('without a registry storage a Memory uses the embedded default store; registry vectors are listed', (t) => {
  const memory = new Memory()
  const vectors = new LibSQLVector({ id: 'v', url: ':memory:' })
  const mastra = new Mastra({ vectors: { main: vectors }, agents: { a: new Agent({ id: 'a', name: 'a', model: 'openai/gpt-4o-mini', memory }) } })
  t.is(mastra.getStorage(), undefined)
  t.is(memory.storage.id, 'lumos-default')
  t.true(memory.storage instanceof LibSQLStore)
  t.is(mastra.getVector('main'), vectors)
  t.deepEqual(Object.keys(mastra.listVectors()), ['main'])
})
