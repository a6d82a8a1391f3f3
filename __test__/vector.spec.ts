// LibSQLVector (Mastra's MastraVector interface) on the native index: CRUD, filters, persistence
// across instances, and bad input → coded errors with nothing written.
import test from 'ava'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LibSQLVector, Mastra } from '../index.js'

const tmpUrl = () => `file:${join(mkdtempSync(join(tmpdir(), 'lumos-vec-')), 'lumos.db')}`

test('create, upsert (number[][] and flat Float32Array), query with scores, describe, list', async (t) => {
  const v = new LibSQLVector({ id: 'v', url: ':memory:' })
  await v.createIndex({ indexName: 'docs', dimension: 3 })
  await v.createIndex({ indexName: 'docs', dimension: 3 }) // same config: idempotent
  const ids = await v.upsert({ indexName: 'docs', vectors: [[1, 0, 0], [0, 1, 0]], metadata: [{ k: 'a' }, { k: 'b' }], ids: ['a', 'b'] })
  t.deepEqual(ids, ['a', 'b'])
  const generated = await v.upsert({ indexName: 'docs', vectors: new Float32Array([0, 0, 1, 0.9, 0.1, 0]), metadata: [{ k: 'c' }, { k: 'd', n: 5 }] })
  t.is(generated.length, 2)
  t.regex(generated[0], /^[0-9a-f-]{36}$/)
  const hits = await v.query({ indexName: 'docs', queryVector: [1, 0, 0], topK: 2 })
  t.is(hits[0].id, 'a')
  t.true(Math.abs(hits[0].score - 1) < 1e-6)
  t.deepEqual(hits[0].metadata, { k: 'a' })
  t.is(hits[0].vector, undefined)
  const withVec = await v.query({ indexName: 'docs', queryVector: [0, 1, 0], topK: 1, includeVector: true })
  t.deepEqual(withVec[0].vector, [0, 1, 0])
  const orthogonal = await v.query({ indexName: 'docs', queryVector: [0, 0, 1], topK: 4 })
  t.is(orthogonal.find((h) => h.id === 'a')?.score, 0)
  t.like(await v.describeIndex({ indexName: 'docs' }), { dimension: 3, count: 4, metric: 'cosine' })
  t.deepEqual(await v.listIndexes(), ['docs'])
})

test('Mongo-style filters are applied during the search', async (t) => {
  const v = new LibSQLVector({ id: 'v', url: ':memory:' })
  await v.createIndex({ indexName: 'f', dimension: 2, metric: 'euclidean' })
  const metadata = Array.from({ length: 50 }, (_, i) => ({ i, parity: i % 2 ? 'odd' : 'even', tags: i % 5 === 0 ? ['five'] : [] }))
  await v.upsert({ indexName: 'f', vectors: metadata.map(({ i }) => [i, 0]), metadata })
  const even = await v.query({ indexName: 'f', queryVector: [0, 0], topK: 5, filter: { parity: 'even' } })
  t.deepEqual(even.map((h) => h.metadata?.i), [0, 2, 4, 6, 8])
  const range = await v.query({ indexName: 'f', queryVector: [0, 0], topK: 50, filter: { $and: [{ i: { $gte: 10 } }, { i: { $lt: 13 } }] } })
  t.deepEqual(range.map((h) => h.metadata?.i), [10, 11, 12])
  const tagged = await v.query({ indexName: 'f', queryVector: [49, 0], topK: 2, filter: { tags: { $in: ['five'] } } })
  t.deepEqual(tagged.map((h) => h.metadata?.i), [45, 40])
  const ored = await v.query({ indexName: 'f', queryVector: [0, 0], topK: 3, filter: { $or: [{ i: 7 }, { i: { $nin: [0, 1, 2, 3, 4, 5, 6, 7] } }] } })
  t.deepEqual(ored.map((h) => h.metadata?.i), [7, 8, 9])
})

test('update and delete vectors; delete an index', async (t) => {
  const v = new LibSQLVector({ id: 'v', url: ':memory:' })
  await v.createIndex({ indexName: 'u', dimension: 2 })
  await v.upsert({ indexName: 'u', vectors: [[1, 0], [0, 1]], ids: ['x', 'y'], metadata: [{ a: 1 }, { a: 2 }] })
  await v.updateVector({ indexName: 'u', id: 'x', update: { vector: [0, 1], metadata: { a: 9 } } })
  const hits = await v.query({ indexName: 'u', queryVector: [0, 1], topK: 2 })
  t.deepEqual(hits.map((h) => h.metadata?.a).sort(), [2, 9])
  await v.deleteVector({ indexName: 'u', id: 'y' })
  t.is((await v.describeIndex({ indexName: 'u' })).count, 1)
  await v.deleteIndex({ indexName: 'u' })
  t.deepEqual(await v.listIndexes(), [])
})

test('a file: URL persists across instances (restart)', async (t) => {
  const url = tmpUrl()
  const a = new LibSQLVector({ id: 'a', url })
  await a.createIndex({ indexName: 'p', dimension: 2, metric: 'dotproduct' })
  await a.upsert({ indexName: 'p', vectors: [[1, 2], [3, 4]], ids: ['one', 'two'], metadata: [{ n: 1 }, { n: 2 }] })
  const b = new LibSQLVector({ id: 'b', url })
  t.like(await b.describeIndex({ indexName: 'p' }), { dimension: 2, count: 2, metric: 'dotproduct' })
  const hits = await b.query({ indexName: 'p', queryVector: [1, 1], topK: 1 })
  t.is(hits[0].id, 'two')
  t.is(hits[0].score, 7)
})

test('bad input: coded errors and nothing written', async (t) => {
  const v = new LibSQLVector({ id: 'v', url: ':memory:' })
  await v.createIndex({ indexName: 'b', dimension: 3 })
  await v.upsert({ indexName: 'b', vectors: [[1, 2, 3]], ids: ['keep'] })
  const code = async (p: Promise<unknown>) => ((await t.throwsAsync(p)) as any)?.code
  t.is(await code(v.upsert({ indexName: 'b', vectors: [[1, 2, 3], [1, 2]] })), 'VECTOR_DIMENSION_MISMATCH')
  t.is(await code(v.upsert({ indexName: 'b', vectors: [[1, 2, 3, 4]] })), 'VECTOR_DIMENSION_MISMATCH')
  t.is(await code(v.upsert({ indexName: 'b', vectors: [[1, 2, 3], [NaN, 0, 0]] })), 'VECTOR_INVALID_VALUE')
  t.is(await code(v.query({ indexName: 'nope', queryVector: [1, 2, 3] })), 'VECTOR_INDEX_NOT_FOUND')
  t.is(await code(v.query({ indexName: 'b', queryVector: [1, 2, 3], filter: { a: { $regexp: 'x' } } })), 'VECTOR_INVALID_FILTER')
  t.is(await code(v.createIndex({ indexName: 'b', dimension: 4 })), 'VECTOR_INDEX_EXISTS')
  t.is(await code(v.query({ indexName: 'b', queryVector: [1, 2] })), 'VECTOR_DIMENSION_MISMATCH')
  t.is((await v.describeIndex({ indexName: 'b' })).count, 1, 'no bad batch wrote anything')
  t.throws(() => new LibSQLVector({ id: 'r', url: 'libsql://remote.example' }), { message: /remote libsql/ })
})

test('Mastra registry: vectors, getVector, listVectors', (t) => {
  const v = new LibSQLVector({ id: 'v', url: ':memory:' })
  const mastra = new Mastra({ vectors: { main: v } })
  t.is(mastra.getVector('main'), v)
  t.deepEqual(Object.keys(mastra.listVectors()), ['main'])
  t.throws(() => mastra.getVector('other'), { message: /not found/ })
})

test('describeIndex reports pending graph work; waitIndexed resolves when the graph is built, and aborts', async (t) => {
  const v = new LibSQLVector({ id: 'v', url: ':memory:' })
  await v.createIndex({ indexName: 'big', dimension: 16 })
  const n = 20_000
  const flat = new Float32Array(n * 16)
  for (let i = 0; i < flat.length; i++) flat[i] = Math.sin(i * 12.9898) * 43758.5453 % 1
  await v.upsert({ indexName: 'big', vectors: flat })
  const before = await v.describeIndex({ indexName: 'big' })
  t.is(before.count, n)
  t.true(typeof before.pending === 'number' && before.pending >= 0 && before.pending <= n)

  const aborted = new AbortController()
  aborted.abort()
  await t.throwsAsync(v.waitIndexed({ indexName: 'big', abortSignal: aborted.signal }), { code: 'ABORTED' } as any)

  await v.waitIndexed({ indexName: 'big' })
  t.is((await v.describeIndex({ indexName: 'big' })).pending, 0)
  const hits = await v.query({ indexName: 'big', queryVector: flat.subarray(16 * 123, 16 * 124), topK: 1 })
  t.is(hits.length, 1)
  await t.throwsAsync(v.waitIndexed({ indexName: 'missing' }), { code: 'VECTOR_INDEX_NOT_FOUND' } as any)
})
