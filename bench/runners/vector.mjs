// S4 runner (vector store): one implementation per child process. The parent (run.mjs) passes one
// JSON argument:
//   { impl: 'lumos' | 'mastra' | 'usearch' | 'exact', n, q, topK, dim, clusters, sigma, seed,
//     quantization: 'f32' | 'int8', truthFile, querySeconds?, waitMaxS? }
// and reads the last stdout line starting with "BENCH_RESULT ".
//
// 'exact' computes the brute-force top-k (lib/vector-data.mjs, plain JS loops) and writes it to
// truthFile (Int32Array, q × topK vector indices); the others upsert the n vectors, then run the q
// queries at concurrency 1 and 8 and score recall@topK against that file.
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { exactTopK, queryVectors, vectorChunks } from '../lib/vector-data.mjs'
import { lumosEntry, lumosOverride, repoRoot } from '../lib/lumos-entry.mjs'

const benchDir = fileURLToPath(new URL('../', import.meta.url))
const cfg = JSON.parse(process.argv[2] ?? '{}')
const d = { dim: cfg.dim, clusters: cfg.clusters, sigma: cfg.sigma, seed: cfg.seed }
const topK = cfg.topK ?? 10
const now = () => Number(process.hrtime.bigint()) / 1e6
const rssMB = () => process.memoryUsage().rss / 1048576
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function finish(obj, code = 0) {
  process.stdout.write(`BENCH_RESULT ${JSON.stringify(obj)}\n`)
  process.exitCode = code
  setImmediate(() => process.exit(code))
}

// ------------------------------------------------------------------ implementations
// Each: { upsert(chunk), query(vec: Float32Array) → Promise<number[]> (vector indices),
//         batch?(vecs: Float32Array[]) → number[][] (sync libraries at "concurrency 8") }
const IMPLS = {
  async lumos() {
    const { LibSQLVector } = await import(lumosEntry)
    const v = new LibSQLVector({ id: 'bench', url: ':memory:' })
    await v.createIndex({ indexName: 's4', dimension: d.dim, metric: 'cosine', quantization: cfg.quantization })
    return {
      upsert: ({ start, count, data }) => v.upsert({ indexName: 's4', vectors: data, ids: Array.from({ length: count }, (_, i) => String(start + i)) }),
      query: async (q) => (await v.query({ indexName: 's4', queryVector: q, topK })).map((r) => Number(r.id)),
      // Builds before cf0446c have no waitIndexed: the probe below stands in for it.
      waitIndexed: typeof v.waitIndexed === 'function' ? () => v.waitIndexed({ indexName: 's4' }) : undefined,
    }
  },
  async mastra() {
    const { LibSQLVector } = await import('@mastra/libsql')
    const dir = join(benchDir, '.results', 'tmp')
    mkdirSync(dir, { recursive: true })
    const file = join(dir, `s4-mastra-${process.pid}.db`)
    process.on('exit', () => {
      for (const f of [file, `${file}-wal`, `${file}-shm`]) rmSync(f, { force: true })
    })
    const v = new LibSQLVector({ id: 'bench', url: `file:${file}` })
    await v.createIndex({ indexName: 's4', dimension: d.dim, metric: 'cosine' })
    return {
      upsertBatch: 500,
      upsert: ({ start, count, data }) => {
        const rows = Array.from({ length: count }, (_, i) => Array.from(data.subarray(i * d.dim, (i + 1) * d.dim)))
        return v.upsert({ indexName: 's4', vectors: rows, ids: rows.map((_, i) => String(start + i)) })
      },
      query: async (q) => (await v.query({ indexName: 's4', queryVector: Array.from(q), topK })).map((r) => Number(r.id)),
    }
  },
  async usearch() {
    const { Index } = (await import('usearch')).default
    // Defaults of usearch's own benchmarks: M 16, ef_construction 128, ef_search 64.
    const idx = new Index({ dimensions: d.dim, metric: 'cos', quantization: cfg.quantization === 'int8' ? 'i8' : 'f32', connectivity: 16, expansion_add: 128, expansion_search: 64 })
    const keysOf = (m) => Array.from(m.keys, Number)
    return {
      upsert: ({ start, count, data }) => idx.add(BigUint64Array.from({ length: count }, (_, i) => BigInt(start + i)), data, 0),
      query: async (q) => keysOf(idx.search(q, topK, 1)),
      // usearch is synchronous: "concurrency 8" = batches of 8 queries, searched on all cores.
      batch: (qs) => {
        const flat = new Float32Array(qs.length * d.dim)
        qs.forEach((q, i) => flat.set(q, i * d.dim))
        const r = idx.search(flat, topK, 0)
        return qs.map((_, i) => keysOf(r.get(i)))
      },
    }
  },
}

// ------------------------------------------------------------------ measuring
function recallOf(results, truth) {
  let hit = 0
  for (let qi = 0; qi < results.length; qi++) {
    const want = new Set(truth.subarray(qi * topK, (qi + 1) * topK))
    for (const id of results[qi].slice(0, topK)) if (want.has(id)) hit++
  }
  return hit / (results.length * topK)
}

async function runQueries(impl, qs, concurrency) {
  const results = new Array(qs.length)
  const lat = []
  const cpu0 = process.cpuUsage()
  const t0 = now()
  if (concurrency > 1 && impl.batch) {
    for (let i = 0; i < qs.length; i += concurrency) {
      const s = now()
      const r = impl.batch(qs.slice(i, i + concurrency))
      lat.push(now() - s)
      r.forEach((ids, j) => (results[i + j] = ids))
    }
  } else {
    let next = 0
    const worker = async () => {
      while (next < qs.length) {
        const i = next++
        const s = now()
        results[i] = await impl.query(qs[i])
        lat.push(now() - s)
      }
    }
    await Promise.all(Array.from({ length: concurrency }, worker))
  }
  const wall = now() - t0
  const cpu = process.cpuUsage(cpu0)
  lat.sort((a, b) => a - b)
  const pct = (p) => lat[Math.min(lat.length - 1, Math.floor(p * lat.length))]
  return { concurrency, queries: qs.length, qps: (qs.length * 1000) / wall, p50Ms: pct(0.5), p99Ms: pct(0.99), cpuMsPerQuery: (cpu.user + cpu.system) / 1000 / qs.length, results }
}

async function main() {
  if (cfg.impl === 'exact') {
    const t0 = now()
    const ids = exactTopK(d, cfg.n, cfg.q, topK)
    mkdirSync(dirname(cfg.truthFile), { recursive: true })
    writeFileSync(cfg.truthFile, Buffer.from(ids.buffer))
    return finish({ impl: 'exact', n: cfg.n, q: cfg.q, seconds: (now() - t0) / 1000, qps: (cfg.q * 1000) / (now() - t0) })
  }
  if (cfg.impl === 'lumos' && !lumosOverride && !existsSync(`${repoRoot}index.js`)) {
    return finish({ impl: 'lumos', skipped: 'Lumos is not built: index.js is missing at the repository root' })
  }
  const truth = new Int32Array(new Uint8Array(readFileSync(cfg.truthFile)).buffer)
  const qflat = queryVectors(d, cfg.q)
  const qs = Array.from({ length: cfg.q }, (_, i) => qflat.slice(i * d.dim, (i + 1) * d.dim))
  const impl = await IMPLS[cfg.impl]()
  const rssBefore = rssMB()

  // Upsert: the data arrive in chunks (10,000 rows; Mastra 500 rows as number[][]). Generating a
  // chunk is not timed.
  let upsertMs = 0
  for (const chunk of vectorChunks(d, cfg.n, impl.upsertBatch ?? 10_000)) {
    const s = now()
    await impl.upsert(chunk)
    upsertMs += now() - s
  }
  const rssAfterUpsert = rssMB()

  // Lumos builds its HNSW graph in background threads after the upserts (above 2,000 vectors it
  // answers from it; 10,000 before 2e3dd8a) and answers from the graph for the vectors it already
  // covers plus an exact scan of the rest, so query latency falls as the build proceeds.
  // `waitIndexed` resolves when the builders are done (builtSeconds: from the last upsert's return).
  // Older builds lack it: then poll a fixed probe (the first 20 queries, sequential) every 250 ms
  // until its mean latency is ≤ 1/5 of the first poll's and has not improved by more than 15 % over
  // the last 8 polls — or waitMaxS passes; builtSeconds is then the first poll within 15 % of the
  // lowest probe latency.
  let indexWait
  if (cfg.impl === 'lumos' && impl.waitIndexed) {
    const t0 = now()
    await impl.waitIndexed()
    const seconds = (now() - t0) / 1000
    indexWait = { builtSeconds: seconds, seconds, polls: 0, timedOut: false, method: 'waitIndexed' }
  } else if (cfg.impl === 'lumos' && cfg.n > 10_000) {
    const t0 = now()
    const polls = []
    const at = []
    const probe = qs.slice(0, 20)
    for (;;) {
      const s = now()
      for (const q of probe) await impl.query(q)
      polls.push((now() - s) / probe.length)
      at.push((now() - t0) / 1000)
      const best = Math.min(...polls)
      const recentBest = Math.min(...polls.slice(-8))
      const earlierBest = polls.length > 8 ? Math.min(...polls.slice(0, -8)) : Infinity
      const settled = best <= polls[0] / 5 && polls.length > 8 && recentBest >= earlierBest * 0.85
      const timedOut = (now() - t0) / 1000 >= (cfg.waitMaxS ?? 300)
      if (settled || timedOut) {
        // builtSeconds: the first poll within 15 % of the lowest probe latency seen.
        indexWait = { builtSeconds: at[polls.findIndex((p) => p <= best * 1.15)], seconds: (now() - t0) / 1000, polls: polls.length, firstProbeMs: polls[0], settledProbeMs: best, timedOut: !settled }
        break
      }
      await sleep(250)
    }
  }
  const rssIndexed = rssMB()

  const runs = []
  for (const c of [1, 8]) {
    const r = await runQueries(impl, qs, c)
    r.recall = recallOf(r.results, truth)
    delete r.results
    runs.push(r)
  }
  finish({
    impl: cfg.impl,
    n: cfg.n,
    q: cfg.q,
    quantization: cfg.quantization,
    upsertSeconds: upsertMs / 1000,
    upsertPerSec: (cfg.n * 1000) / upsertMs,
    indexWait,
    runs,
    rssMB: { beforeUpsert: rssBefore, afterUpsert: rssAfterUpsert, indexed: rssIndexed, end: rssMB(), peak: process.resourceUsage().maxRSS / 1024 },
  })
}

main().catch((err) => finish({ impl: cfg.impl, error: String(err?.stack ?? err) }, 1))
