// S3 diagnosis (Lumos only; run.mjs --scenarios s3 runs it last unless --s3-no-probe): where a memory-on generate spends its time on a
// big thread. Fills one thread with N messages (default 100,000) and an in-memory vector index with
// N random 384-d vectors carrying the metadata semantic recall writes, waits for the HNSW graph,
// then times the pieces a memory-on generate runs: the vector query (with and without the
// resource/thread filter recall uses) and the storage reads (history page; include windows with
// perPage 0, as recall fetches its hits' neighbours — both count the thread's messages).
//
//   node runners/memory-probe.mjs [N]     (NAPI_RS_NATIVE_LIBRARY_PATH / LUMOS_BENCH_ENTRY as in run.mjs)
// Prints one "BENCH_RESULT {…}" line on stdout; progress on stderr.
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { S3_DATA, textChunks } from '../lib/memory-data.mjs'
import { lumosEntry } from '../lib/lumos-entry.mjs'

const { Memory, LibSQLStore, LibSQLVector } = await import(lumosEntry)
const N = Number(process.argv[2] ?? 100_000)
const dir = join(fileURLToPath(new URL('../.results/tmp/', import.meta.url)), `probe-${process.pid}`)
rmSync(dir, { recursive: true, force: true })
mkdirSync(dir, { recursive: true })
process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
const now = () => performance.now()

const mem = new Memory({ storage: new LibSQLStore({ id: 'probe', url: `file:${join(dir, 'probe.db')}` }), options: { lastMessages: 20 } })
await mem.createThread({ resourceId: 'u', threadId: 't' })
const v = new LibSQLVector({ id: 'probe', url: ':memory:' })
await v.createIndex({ indexName: 'i', dimension: 384, metric: 'cosine' })
let seed = 1
const rnd = () => (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 4294967296 - 0.5
for (const { start, texts } of textChunks(S3_DATA, N, 1000)) {
  await mem.saveMessages({ messages: texts.map((text, k) => ({ id: `m${start + k}`, threadId: 't', resourceId: 'u', role: 'user', createdAt: new Date(1e12 + (start + k) * 1000), content: text })) })
  const flat = new Float32Array(texts.length * 384).map(rnd)
  const ids = texts.map((_, k) => `m${start + k}`)
  await v.upsert({ indexName: 'i', vectors: flat, ids, metadata: ids.map((id) => ({ message_id: id, thread_id: 't', resource_id: 'u' })) })
}
const q = new Float32Array(384).map(rnd)
const rows = []
async function time(label, f, n = 50) {
  const xs = []
  for (let i = 0; i < n; i++) {
    const s = now()
    await f(i)
    xs.push(now() - s)
  }
  xs.sort((a, b) => a - b)
  rows.push({ label, p50Ms: xs[n >> 1], minMs: xs[0] })
  console.error(`${label}: p50 ${xs[n >> 1].toFixed(3)} ms, min ${xs[0].toFixed(3)} ms`)
}
// The graph is built in the background (queries scan until then): wait until the unfiltered
// query is ≤ 1/3 of the first poll's time and has not improved by > 15 % over 8 polls (as S4).
const t0 = now()
const polls = []
if (typeof v.waitIndexed === 'function') await v.waitIndexed({ indexName: 'i' })
else for (;;) {
  const s = now()
  for (let j = 0; j < 5; j++) await v.query({ indexName: 'i', queryVector: q, topK: 5 })
  polls.push((now() - s) / 5)
  const best = Math.min(...polls)
  const earlier = polls.length > 8 ? Math.min(...polls.slice(0, -8)) : Infinity
  if ((best <= polls[0] / 3 && polls.length > 8 && Math.min(...polls.slice(-8)) >= earlier * 0.85) || now() - t0 > 300_000) break
  await new Promise((r) => setTimeout(r, 250))
}
const graphSeconds = (now() - t0) / 1000
console.error(`N = ${N}; graph settled after ~${graphSeconds.toFixed(0)} s`)
await time('vector query topK 5, no filter', () => v.query({ indexName: 'i', queryVector: q, topK: 5 }))
await time('vector query topK 5, filter { resource_id } (matches every vector)', () => v.query({ indexName: 'i', queryVector: q, topK: 5, filter: { resource_id: 'u' } }))
await time('vector query topK 5, filter { thread_id } (matches every vector)', () => v.query({ indexName: 'i', queryVector: q, topK: 5, filter: { thread_id: 't' } }))
const hits = (i) => [1, 2, 3, 4, 5].map((k) => `m${(i * 7919 + k * 15401) % N}`)
await time('storage: recall({ perPage: 20 }) (page + COUNT of the thread)', () => mem.recall({ threadId: 't', perPage: 20 }))
await time('storage: recall({ perPage: 0, include: 5 ids ±2 }) (windows only, no COUNT)', (i) => mem.recall({ threadId: 't', perPage: 0, include: hits(i).map((id) => ({ id, withPreviousMessages: 2, withNextMessages: 2 })) }))
await time('storage: getThreadById', () => mem.getThreadById({ threadId: 't' }))
process.stdout.write(`BENCH_RESULT ${JSON.stringify({ impl: 'lumos-probe', n: N, graphSeconds, rows })}\n`)
process.exit(0)
