// S3 runner (agent memory): one implementation per child process. The parent (lib/memory-bench.mjs)
// passes one JSON argument:
//   { impl: 'lumos' | 'mastra', n, port, batches: number[], generates, warmup, block, dir, waitMaxS,
//     vectorInMemory? }
// and reads the last stdout line starting with "BENCH_RESULT ".
//
// Lumos and Mastra run the same code below; they differ only in where Agent, Memory, LibSQLStore,
// LibSQLVector and ModelRouterEmbeddingModel are imported from. Steps (all in this process):
//   1. fill rate, semantic recall OFF: saveMessages of the n messages, `batch` per call, into a
//      fresh database (once per batch size in `batches`; those databases are then dropped);
//   2. fill rate, semantic recall ON: the same n messages, batches[0] per call, into another fresh
//      database + vector store (every message embedded through the mock's /v1/embeddings);
//   3. (Lumos) wait until the vector index is built (waitIndexed; older builds: a probe, as in S4);
//   4. generates, interleaved in blocks: `block` on the agent WITHOUT memory, then `block` on the
//      same agent WITH memory (lastMessages 20, semanticRecall topK 5 messageRange 2) on the
//      pre-filled thread, until each side has `generates` — latency per generate, CPU per block.
import { mkdirSync, rmSync } from 'node:fs'
import { join } from 'node:path'
import { S3_DATA, prompts, textChunks } from '../lib/memory-data.mjs'
import { API_KEY, MODEL_ID, TEXT_ONLY_ANSWER } from '../lib/scenarios.mjs'
import { lumosEntry, lumosOverride, repoRoot } from '../lib/lumos-entry.mjs'

const cfg = JSON.parse(process.argv[2] ?? '{}')
const now = () => Number(process.hrtime.bigint()) / 1e6
const rssMB = () => process.memoryUsage().rss / 1048576
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))
const cpuMs = (c) => (c.user + c.system) / 1000
const THREAD = 's3-thread'
const RESOURCE = 's3-user'
const EMBED_MODEL = 'openai/text-embedding-3-small'

function finish(obj, code = 0) {
  process.stdout.write(`BENCH_RESULT ${JSON.stringify(obj)}\n`)
  process.exitCode = code
  setImmediate(() => process.exit(code))
}

const IMPORTS = {
  async lumos() {
    return import(lumosEntry)
  },
  async mastra() {
    const [{ Agent }, { Memory }, { LibSQLStore, LibSQLVector }, { ModelRouterEmbeddingModel }] = await Promise.all([
      import('@mastra/core/agent'),
      import('@mastra/memory'),
      import('@mastra/libsql'),
      import('@mastra/core/llm'),
    ])
    return { Agent, Memory, LibSQLStore, LibSQLVector, ModelRouterEmbeddingModel }
  },
}

async function mockStats() {
  const r = await fetch(`http://127.0.0.1:${cfg.port}/__stats`)
  return r.json()
}

// MastraDBMessage (format 2) — the shape both Memory.saveMessages accept.
const T0 = Date.UTC(2026, 0, 1)
function messagesOf({ start, texts }) {
  return texts.map((text, k) => {
    const i = start + k
    return {
      id: `s3-m${i}`,
      role: i % 2 === 0 ? 'user' : 'assistant',
      createdAt: new Date(T0 + i * 1000),
      threadId: THREAD,
      resourceId: RESOURCE,
      type: 'v2',
      content: { format: 2, parts: [{ type: 'text', text }], content: text },
    }
  })
}

async function fill(memory, batch) {
  await memory.createThread({ resourceId: RESOURCE, threadId: THREAD, title: 'S3 bench thread' })
  const stats0 = await mockStats()
  const cpu0 = process.cpuUsage()
  let ms = 0
  for (const chunk of textChunks(S3_DATA, cfg.n, batch)) {
    // Building the message objects is not timed; saveMessages is.
    const messages = messagesOf(chunk)
    const s = now()
    await memory.saveMessages({ messages })
    ms += now() - s
  }
  const cpu = process.cpuUsage(cpu0)
  const stats1 = await mockStats()
  const req = (st) => st.requests['POST /v1/embeddings'] ?? 0
  return {
    batch,
    seconds: ms / 1000,
    perSec: (cfg.n * 1000) / ms,
    cpuMs: cpuMs(cpu),
    embeddingRequests: req(stats1) - req(stats0),
    embeddedTexts: stats1.embeddedTexts - stats0.embeddedTexts,
    mockCpuMs: cpuMs(stats1.cpu) - cpuMs(stats0.cpu),
  }
}

function pct(sorted, p) {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}
const summary = (lat, cpu, ops) => {
  const s = [...lat].sort((a, b) => a - b)
  return { ops, p50Ms: pct(s, 50), p90Ms: pct(s, 90), p99Ms: pct(s, 99), meanMs: lat.reduce((a, b) => a + b, 0) / lat.length, cpuMsPerOp: cpu / ops }
}

async function main() {
  if (cfg.impl === 'lumos' && !lumosOverride) {
    const { existsSync } = await import('node:fs')
    if (!existsSync(`${repoRoot}index.js`)) return finish({ impl: 'lumos', skipped: 'Lumos is not built: index.js is missing at the repository root' })
  }
  const { Agent, Memory, LibSQLStore, LibSQLVector, ModelRouterEmbeddingModel } = await IMPORTS[cfg.impl]()
  const dir = join(cfg.dir, `${cfg.impl}-${process.pid}`)
  rmSync(dir, { recursive: true, force: true })
  mkdirSync(dir, { recursive: true })
  process.on('exit', () => rmSync(dir, { recursive: true, force: true }))
  const url = `http://127.0.0.1:${cfg.port}/v1`
  const embedder = () => new ModelRouterEmbeddingModel({ id: EMBED_MODEL, url, apiKey: API_KEY })
  const rss = { start: rssMB() }

  // 1. fill, semantic recall off (fresh database per batch size).
  const fillOff = []
  for (const batch of cfg.batches) {
    const memory = new Memory({ storage: new LibSQLStore({ id: `s3-off-${batch}`, url: `file:${join(dir, `off-${batch}.db`)}` }), options: { lastMessages: 20, semanticRecall: false } })
    fillOff.push(await fill(memory, batch))
    process.stderr.write(`[s3 ${cfg.impl}] fill recall off, ${batch}/call: ${Math.round(fillOff.at(-1).perSec)} msg/s\n`)
  }
  rss.afterFillOff = rssMB()

  // 2. fill, semantic recall on: this is the thread the memory-on generates use.
  // vectorInMemory: the same, with the vectors in memory (no file behind the index).
  const vector = new LibSQLVector({ id: 's3-vectors', url: cfg.vectorInMemory ? ':memory:' : `file:${join(dir, 'on-vectors.db')}` })
  const memory = new Memory({
    storage: new LibSQLStore({ id: 's3-on', url: `file:${join(dir, 'on.db')}` }),
    vector,
    embedder: embedder(),
    options: { lastMessages: 20, semanticRecall: { topK: 5, messageRange: 2 } },
  })
  const fillOn = await fill(memory, cfg.batches[0])
  process.stderr.write(`[s3 ${cfg.impl}] fill recall on, ${cfg.batches[0]}/call: ${Math.round(fillOn.perSec)} msg/s (${fillOn.embeddingRequests} embedding requests for ${fillOn.embeddedTexts} texts)\n`)
  rss.afterFillOn = rssMB()

  const qs = prompts(S3_DATA, cfg.warmup + cfg.generates + 20)
  // 3. Lumos builds its HNSW graph in background threads above 10,000 vectors and scans until then
  // (see S4): poll 20 sequential searches every 250 ms until their mean latency has stopped
  // falling (≤ 1/3 of the first poll's, no > 15 % improvement over the last 8 polls) or waitMaxS.
  // Builds with LibSQLVector.waitIndexed wait for the builders directly (the probe can settle on a
  // half-built graph on a loaded machine).
  let indexWait
  if (cfg.impl === 'lumos' && typeof vector.waitIndexed === 'function') {
    const t0 = now()
    for (const indexName of await vector.listIndexes()) await vector.waitIndexed({ indexName })
    const seconds = (now() - t0) / 1000
    indexWait = { builtSeconds: seconds, seconds, polls: 0, timedOut: false, method: 'waitIndexed' }
    process.stderr.write(`[s3 lumos] vector index built ${seconds.toFixed(1)} s after the fill (waitIndexed)\n`)
  } else if (cfg.impl === 'lumos' && cfg.n > 10_000) {
    const t0 = now()
    const polls = []
    const at = []
    const probe = qs.slice(-20)
    for (;;) {
      const s = now()
      for (const q of probe) await memory.recall({ threadId: THREAD, resourceId: RESOURCE, vectorSearchString: q })
      polls.push((now() - s) / probe.length)
      at.push((now() - t0) / 1000)
      const best = Math.min(...polls)
      const recentBest = Math.min(...polls.slice(-8))
      const earlierBest = polls.length > 8 ? Math.min(...polls.slice(0, -8)) : Infinity
      const settled = best <= polls[0] / 3 && polls.length > 8 && recentBest >= earlierBest * 0.85
      const timedOut = (now() - t0) / 1000 >= (cfg.waitMaxS ?? 300)
      if (settled || timedOut) {
        indexWait = { builtSeconds: at[polls.findIndex((p) => p <= best * 1.15)], seconds: (now() - t0) / 1000, polls: polls.length, firstProbeMs: polls[0], settledProbeMs: best, timedOut: !settled }
        break
      }
      await sleep(250)
    }
    process.stderr.write(`[s3 lumos] vector index ready after ${indexWait.builtSeconds?.toFixed(1)} s (probe ${indexWait.firstProbeMs.toFixed(2)} → ${indexWait.settledProbeMs.toFixed(2)} ms)\n`)
  }

  // 4. generates: the same agent without and with memory, interleaved in blocks.
  const base = { id: 's3-agent', name: 'S3 Agent', instructions: 'You are a concise assistant.', model: { id: MODEL_ID, url, apiKey: API_KEY } }
  const agentOff = new Agent(base)
  const agentOn = new Agent({ ...base, memory })
  const lastChat = async () => (await mockStats()).bodies['/v1/chat/completions']
  const check = (r, where) => {
    if (r?.text !== TEXT_ONLY_ANSWER) throw new Error(`${where}: expected ${JSON.stringify(TEXT_ONLY_ANSWER)}, got ${JSON.stringify(r?.text)?.slice(0, 300)}`)
  }
  const gen = {
    off: (q) => agentOff.generate(q),
    on: (q) => agentOn.generate(q, { memory: { thread: THREAD, resource: RESOURCE } }),
  }
  let next = 0
  for (let i = 0; i < cfg.warmup; i++) {
    const q = qs[next++]
    check(await gen.off(q), 'warm-up without memory')
    check(await gen.on(q), 'warm-up with memory')
  }
  // What one model request carries (from the last request the mock saw), for each side.
  check(await gen.off(qs[next]), 'generate without memory')
  const reqOff = await lastChat()
  check(await gen.on(qs[next++]), 'generate with memory')
  const reqOn = await lastChat()
  if (globalThis.gc) globalThis.gc()

  const lat = { off: [], on: [] }
  const cpu = { off: 0, on: 0 }
  const mock0 = await mockStats()
  while (lat.on.length < cfg.generates) {
    const block = qs.slice(next, next + cfg.block)
    next += block.length
    for (const side of ['off', 'on']) {
      const c0 = process.cpuUsage()
      for (const q of block) {
        const s = now()
        const r = await gen[side](q)
        lat[side].push(now() - s)
        check(r, `generate ${side === 'on' ? 'with' : 'without'} memory`)
      }
      cpu[side] += cpuMs(process.cpuUsage(c0))
    }
  }
  const mock1 = await mockStats()
  rss.afterGenerates = rssMB()
  const describe = (body) => ({ messages: body?.messages?.length, chars: body ? JSON.stringify(body).length : undefined })
  finish({
    impl: cfg.impl,
    n: cfg.n,
    fillOff,
    fillOn,
    indexWait,
    generate: {
      off: summary(lat.off, cpu.off, lat.off.length),
      on: summary(lat.on, cpu.on, lat.on.length),
      requestOff: describe(reqOff),
      requestOn: describe(reqOn),
      // During the measured generates (both sides): what the mock served.
      mock: { chat: (mock1.requests['POST /v1/chat/completions'] ?? 0) - (mock0.requests['POST /v1/chat/completions'] ?? 0), embeddings: (mock1.requests['POST /v1/embeddings'] ?? 0) - (mock0.requests['POST /v1/embeddings'] ?? 0), cpuMs: cpuMs(mock1.cpu) - cpuMs(mock0.cpu) },
    },
    rssMB: { ...rss, end: rssMB(), peak: process.resourceUsage().maxRSS / 1024 },
  })
}

main().catch((err) => finish({ impl: cfg.impl, error: String(err?.stack ?? err), cause: err?.cause ? String(err.cause?.stack ?? err.cause) : undefined }, 1))
