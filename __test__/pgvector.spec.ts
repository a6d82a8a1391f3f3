// PgVector (Mastra's @mastra/pg class) on a throwaway PostgreSQL server: the vector interface,
// filters, bad input writing nothing, two processes seeing each other's writes within 1 s, and
// Memory's semantic recall on PostgresStore + PgVector. Skipped (saying so) without PostgreSQL.
import test from 'ava'
import { execFile, spawn } from 'node:child_process'
import { promisify } from 'node:util'
import { fileURLToPath } from 'node:url'
import { Agent, Mastra, Memory, PgVector, PostgresStore } from '../index.js'
import { startMockProvider } from './helpers/mock-provider.js'
import { postgresTests } from './helpers/postgres.js'

const pgTest = postgresTests()

const open = (t: any, connectionString: string) => {
  const v = new PgVector({ id: 'pg', connectionString })
  t.teardown(() => v.disconnect())
  return v
}

pgTest('create, upsert (number[][] and flat Float32Array), query with scores, describe, list', async (t, url) => {
  const v = open(t, url)
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
  t.deepEqual((await v.query({ indexName: 'docs', queryVector: [1, 0, 0], topK: 4, minScore: 0.5 })).map((h) => h.id), ['a', generated[1]])
  t.like(await v.describeIndex({ indexName: 'docs' }), { dimension: 3, count: 4, metric: 'cosine' })
  await v.createIndex({ indexName: 'alt', dimension: 2, metric: 'dotproduct', indexConfig: { type: 'hnsw' } } as any)
  t.deepEqual(await v.listIndexes(), ['alt', 'docs'])
  // A second instance (as after a restart) reads everything back from the tables.
  const again = open(t, url)
  t.like(await again.describeIndex({ indexName: 'docs' }), { dimension: 3, count: 4, metric: 'cosine' })
  t.deepEqual((await again.query({ indexName: 'docs', queryVector: [1, 0, 0], topK: 1 }))[0].metadata, { k: 'a' })
})

pgTest('host/port/user/database options instead of a connection string', async (t, url) => {
  const { hostname, port, username, pathname } = new URL(url)
  const v = new PgVector({ id: 'pg', host: hostname, port: Number(port), user: username, database: pathname.slice(1) })
  t.teardown(() => v.disconnect())
  await v.createIndex({ indexName: 'x', dimension: 2 })
  t.deepEqual(await v.listIndexes(), ['x'])
  t.throws(() => new PgVector({ id: 'pg' }), { code: 'INVALID_INPUT' } as any)
})

pgTest('Mongo-style filters', async (t, url) => {
  const v = open(t, url)
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

pgTest('update and delete vectors; delete an index', async (t, url) => {
  const v = open(t, url)
  await v.createIndex({ indexName: 'u', dimension: 2 })
  await v.upsert({ indexName: 'u', vectors: [[1, 0], [0, 1]], ids: ['x', 'y'], metadata: [{ a: 1 }, { a: 2 }] })
  await v.updateVector({ indexName: 'u', id: 'x', update: { vector: [0, 1], metadata: { a: 9 } } })
  const hits = await v.query({ indexName: 'u', queryVector: [0, 1], topK: 2 })
  t.deepEqual(hits.map((h) => h.metadata?.a).sort(), [2, 9])
  await v.updateVector({ indexName: 'u', id: 'y', update: { metadata: { a: 3 } } })
  t.deepEqual((await v.query({ indexName: 'u', queryVector: [0, 1], topK: 2, filter: { a: 3 } })).map((h) => h.id), ['y'])
  await v.deleteVector({ indexName: 'u', id: 'y' })
  t.is((await v.describeIndex({ indexName: 'u' })).count, 1)
  await v.deleteIndex({ indexName: 'u' })
  t.deepEqual(await v.listIndexes(), [])
})

pgTest('bad input: coded errors and nothing written', async (t, url) => {
  const v = open(t, url)
  await v.createIndex({ indexName: 'b', dimension: 3 })
  await v.upsert({ indexName: 'b', vectors: [[1, 2, 3]], ids: ['keep'] })
  const code = async (p: Promise<unknown>) => ((await t.throwsAsync(p)) as any)?.code
  t.is(await code(v.upsert({ indexName: 'b', vectors: [[1, 2, 3], [1, 2]] })), 'VECTOR_DIMENSION_MISMATCH')
  t.is(await code(v.upsert({ indexName: 'b', vectors: [[1, 2, 3, 4]] })), 'VECTOR_DIMENSION_MISMATCH')
  t.is(await code(v.upsert({ indexName: 'b', vectors: [[1, 2, 3], [NaN, 0, 0]] })), 'VECTOR_INVALID_VALUE')
  t.is(await code(v.upsert({ indexName: 'b', vectors: [[1, 2, 3]], metadata: ['nope' as any] })), 'VECTOR_INVALID_INPUT')
  t.is(await code(v.upsert({ indexName: 'nope', vectors: [[1, 2, 3]] })), 'VECTOR_INDEX_NOT_FOUND')
  t.is(await code(v.query({ indexName: 'nope', queryVector: [1, 2, 3] })), 'VECTOR_INDEX_NOT_FOUND')
  t.is(await code(v.query({ indexName: 'b', queryVector: [1, 2, 3], filter: { a: { $regexp: 'x' } } })), 'VECTOR_INVALID_FILTER')
  t.is(await code(v.createIndex({ indexName: 'b', dimension: 4 })), 'VECTOR_INDEX_EXISTS')
  t.is(await code(v.createIndex({ indexName: 'bad name', dimension: 4 })), 'VECTOR_INVALID_INPUT')
  t.is(await code(v.createIndex({ indexName: 'm', dimension: 4, metric: 'manhattan' as any })), 'VECTOR_INVALID_INPUT')
  t.is(await code(v.query({ indexName: 'b', queryVector: [1, 2] })), 'VECTOR_DIMENSION_MISMATCH')
  t.is(await code(v.updateVector({ indexName: 'b', id: 'keep', update: { vector: [Infinity, 0, 0] } })), 'VECTOR_INVALID_VALUE')
  t.is((await v.describeIndex({ indexName: 'b' })).count, 1, 'no bad batch wrote anything')
  const fresh = open(t, url)
  t.deepEqual((await fresh.query({ indexName: 'b', queryVector: [1, 2, 3], topK: 5, includeVector: true })).map((h) => h.vector), [[1, 2, 3]], 'nor reached the table')
  t.deepEqual(await fresh.listIndexes(), ['b'])
  t.throws(() => new PgVector({ id: 'x', connectionString: 'mysql://x' }), { code: 'INVALID_INPUT' } as any)
})

test('an unreachable server is a coded error, not a hang', async (t) => {
  const v = new PgVector({ id: 'pg', connectionString: 'postgres://postgres@127.0.0.1:1/none' })
  const err: any = await t.throwsAsync(v.listIndexes())
  t.is(err.code, 'STORE_IO')
  await v.disconnect()
})

test('Mastra registry holds a PgVector (connecting lazily)', (t) => {
  const v = new PgVector({ id: 'pg', connectionString: 'postgres://postgres@127.0.0.1:1/none' })
  const mastra = new Mastra({ vectors: { pg: v } })
  t.is(mastra.getVector('pg'), v)
  // TLS is supported (postgres-tls.spec.ts); client certificates are not.
  t.throws(() => new PgVector({ id: 'pg', connectionString: 'postgres://x@h/db', ssl: { key: 'k' } }), { code: 'NOT_SUPPORTED' } as any)
})

/** Runs the child writer; resolves with the time its write was committed (when it printed "done"). */
function child(url: string, action: string): Promise<number> {
  const script = fileURLToPath(new URL('./helpers/pgvector-child.mjs', import.meta.url))
  return new Promise((resolve, reject) => {
    const p = spawn(process.execPath, [script, url, action], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    let at = 0
    p.stdout.on('data', (d) => {
      out += d
      if (!at && out.includes('done')) at = performance.now()
    })
    p.stderr.on('data', (d) => (err += d))
    p.on('exit', (code) => (code === 0 && at ? resolve(at) : reject(new Error(`child ${action} exited ${code}: ${err}`))))
  })
}

async function until(f: () => Promise<boolean>, limitMs = 5000): Promise<number> {
  const start = performance.now()
  while (!(await f())) {
    if (performance.now() - start > limitMs) throw new Error('not seen')
    await new Promise((r) => setTimeout(r, 2))
  }
  return performance.now()
}

pgTest('two processes: a vector upserted or deleted by one is seen by the other within 1 s', async (t, url) => {
  const v = open(t, url)
  await v.createIndex({ indexName: 'shared', dimension: 2 })
  await v.upsert({ indexName: 'shared', vectors: [[1, 0]], ids: ['from-parent'] })
  t.deepEqual((await v.query({ indexName: 'shared', queryVector: [0, 1], topK: 5 })).map((h) => h.id), ['from-parent'])
  const ids = async () => (await v.query({ indexName: 'shared', queryVector: [0, 1], topK: 5 })).map((h) => h.id)

  const committed = await child(url, 'upsert')
  const seen = await until(async () => (await ids()).includes('from-child'))
  t.log(`upsert in the child → query in the parent: ${(seen - committed).toFixed(1)} ms after the child printed "done"`)
  t.true(seen - committed < 1000)
  t.deepEqual((await v.query({ indexName: 'shared', queryVector: [0, 1], topK: 1 }))[0].metadata, { by: 'child' })

  const deleted = await child(url, 'delete')
  const gone = await until(async () => !(await ids()).includes('from-child'))
  t.log(`deleteVector in the child → gone in the parent: ${(gone - deleted).toFixed(1)} ms`)
  t.true(gone - deleted < 1000)

  const dropped = await child(url, 'deleteIndex')
  const missing = await until(async () => (await v.query({ indexName: 'shared', queryVector: [0, 1] }).then(() => false, (e) => e.code === 'VECTOR_INDEX_NOT_FOUND')))
  t.log(`deleteIndex in the child → VECTOR_INDEX_NOT_FOUND in the parent: ${(missing - dropped).toFixed(1)} ms`)
  t.true(missing - dropped < 1000)
})

pgTest('Memory semantic recall on PostgresStore + PgVector through an agent', async (t, url) => {
  const chat = await startMockProvider({ fallback: { text: 'noted' } })
  const embeddings = await startMockProvider({ fallback: { embeddings: 'auto', dimensions: 128 } })
  t.teardown(() => Promise.all([chat.close(), embeddings.close()]))
  const vector = open(t, url)
  const memory = new Memory({
    storage: new PostgresStore({ id: 's', connectionString: url }),
    vector,
    embedder: { id: 'openai/text-embedding-3-small', url: embeddings.url, apiKey: 'k' },
    options: { lastMessages: 2, semanticRecall: { topK: 1, messageRange: 0 } },
  })
  const agent = new Agent({ id: 'r', name: 'r', instructions: 'sys', model: { id: 'openai/gpt-4o-mini', url: chat.url, apiKey: 'k' }, memory })
  const on = (thread: string) => ({ memory: { thread, resource: 'user-1' } })
  await agent.generate('my sister lives in Porto', on('t1'))
  for (const q of ['tell me about rockets', 'how do bees fly', 'what is jazz']) await agent.generate(q, on('t1'))
  await agent.generate('where does my sister live?', on('t2'))
  const prompt = chat.requests.at(-1)!.body.messages.map((m: any) => m.content)
  t.deepEqual(prompt, ['sys', 'my sister lives in Porto', 'where does my sister live?'])
  // The vectors are in PostgreSQL: another PgVector (another process) sees the memory index.
  const other = open(t, url)
  t.deepEqual(await other.listIndexes(), ['memory_messages_128'])
  t.true((await other.describeIndex({ indexName: 'memory_messages_128' })).count >= 10)
  const { messages } = await memory.recall({ threadId: 't2', resourceId: 'user-1', vectorSearchString: 'sister Porto' })
  t.deepEqual(messages.map((m) => m.content.parts[0].text), ['my sister lives in Porto'])
})

pgTest('two app processes share semantic recall: a message one process saved is recalled in the other', async (t, url) => {
  const chat = await startMockProvider({ fallback: { text: 'noted' } })
  const embeddings = await startMockProvider({ fallback: { embeddings: 'auto', dimensions: 128 } })
  t.teardown(() => Promise.all([chat.close(), embeddings.close()]))
  const memory = new Memory({
    storage: new PostgresStore({ id: 's', connectionString: url }),
    vector: open(t, url),
    embedder: { id: 'openai/text-embedding-3-small', url: embeddings.url, apiKey: 'k' },
    options: { lastMessages: 2, semanticRecall: { topK: 1, messageRange: 0 } },
  })
  const agent = new Agent({ id: 'r', name: 'r', instructions: 'sys', model: { id: 'openai/gpt-4o-mini', url: chat.url, apiKey: 'k' }, memory })
  const on = { memory: { thread: 'here', resource: 'user-1' } }
  // This process has the memory index loaded before the other process writes to it.
  await agent.generate('what is jazz', on)
  const child = fileURLToPath(new URL('./helpers/pgvector-memory-child.mjs', import.meta.url))
  // Asynchronously: the child talks to the mock servers running in this process.
  const { stdout } = await promisify(execFile)(process.execPath, [child, url, chat.url, embeddings.url])
  t.is(stdout.trim(), 'done')
  await new Promise((r) => setTimeout(r, 1000))
  await agent.generate('where does my sister live?', on)
  const prompt = chat.requests.at(-1)!.body.messages.map((m: any) => m.content)
  t.deepEqual(prompt, ['sys', 'my sister lives in Porto', 'what is jazz', 'noted', 'where does my sister live?'])
})
