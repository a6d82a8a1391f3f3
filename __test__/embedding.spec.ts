// ModelRouterEmbeddingModel: native embeddings (batched in Rust) behind the AI SDK v2 shape.
import test from 'ava'
import { LibSQLVector, ModelRouterEmbeddingModel } from '../index.js'
import { startMockProvider } from './helpers/mock-provider.js'

test('doEmbed returns one vector per value in order, with usage; the wire request is base64', async (t) => {
  const mock = await startMockProvider()
  t.teardown(() => mock.close())
  mock.enqueue({ embeddings: [[1, 0, 0], [0, 1, 0]], usage: { input: 7 } })
  const model = new ModelRouterEmbeddingModel({ id: 'openai/text-embedding-3-small', url: mock.url, apiKey: 'k' })
  t.is(model.specificationVersion, 'v2')
  t.is(model.modelId, 'text-embedding-3-small')
  const { embeddings, usage } = await model.doEmbed({ values: ['a', 'b'] })
  t.deepEqual(embeddings, [[1, 0, 0], [0, 1, 0]])
  t.is(usage.tokens, 7)
  t.like(mock.requests[0].body, { model: 'text-embedding-3-small', input: ['a', 'b'], encoding_format: 'base64' })
})

test('embedFlat feeds a vector store directly; similar texts come back first', async (t) => {
  const mock = await startMockProvider()
  t.teardown(() => mock.close())
  mock.enqueue({ embeddings: 'auto', dimensions: 64 }, { embeddings: 'auto', dimensions: 64 })
  const model = new ModelRouterEmbeddingModel({ id: 'openai/text-embedding-3-small', url: mock.url, apiKey: 'k' })
  const docs = ['the cat sat on the mat', 'stock prices fell sharply', 'a cat chased the mouse']
  const { vectors, dimension } = await model.embedFlat(docs)
  t.is(dimension, 64)
  const store = new LibSQLVector({ id: 'v', url: ':memory:' })
  await store.createIndex({ indexName: 'docs', dimension })
  await store.upsert({ indexName: 'docs', vectors, metadata: docs.map((text) => ({ text })) })
  const q = await model.embedFlat(['cat'])
  const hits = await store.query({ indexName: 'docs', queryVector: q.vectors, topK: 2 })
  t.true(hits.every((h) => String(h.metadata?.text).includes('cat')))
})

test('provider errors arrive coded; anthropic has no embeddings', async (t) => {
  const mock = await startMockProvider()
  t.teardown(() => mock.close())
  mock.enqueue({ status: 400, body: { error: { message: 'bad input' } } })
  const model = new ModelRouterEmbeddingModel({ id: 'openai/text-embedding-3-small', url: mock.url, apiKey: 'k' })
  const err = await t.throwsAsync(model.doEmbed({ values: ['x'] }))
  t.is((err as any).code, 'PROVIDER_HTTP_ERROR')
  t.is((err as any).status, 400)
  t.throws(() => new ModelRouterEmbeddingModel({ id: 'anthropic/claude', apiKey: 'k' }), { message: /embedding/i })
})
