// S3 — agent memory, driven by run.mjs (`--scenarios s3`). Every (N, implementation) pair runs
// runners/memory.mjs in a fresh child process, one at a time, against the mock server (chat
// completions + embeddings). Results: RESULTS-S3.md (full) or .results/RESULTS-S3-quick.md, raw
// JSON under .results/.
import os from 'node:os'
import { join } from 'node:path'
import { f, g, runRunner, targetsSection, writeReport } from './report.mjs'
import { S3_DATA, describeS3Data } from './memory-data.mjs'

const NAMES = { lumos: 'Lumos', mastra: 'Mastra (@mastra/memory + @mastra/libsql)' }

/**
 * @param {{ benchDir: string, quick: boolean, frameworks: string[], port: number, noWrite: boolean,
 *           header: string[], log: (...a: any[]) => void, n?: number, nSmall?: number,
 *           generates?: number, batch?: number }} o
 */
export async function runS3(o) {
  const nMain = o.n ?? (o.quick ? 10_000 : 100_000)
  const nSmall = o.nSmall ?? (o.quick ? 200 : 1_000)
  const generates = o.generates ?? (o.quick ? 40 : 200)
  const batch = o.batch ?? 100
  const base = { port: o.port, batches: [batch, 1000], generates, warmup: o.quick ? 5 : 20, block: o.quick ? 10 : 25, dir: join(o.benchDir, '.results', 'tmp'), waitMaxS: 300 }
  const impls = (list) => list.filter((i) => o.frameworks.includes(i))
  const configs = [
    { key: 'small', n: nSmall, impls: impls(['lumos', 'mastra']), title: `${f(nSmall)} messages — equal N (Mastra's saveMessages runs at tens of messages/s with recall on, so ${f(nMain)} would take hours)` },
    { key: 'main', n: nMain, impls: impls(['lumos']), title: `${f(nMain)} messages — Lumos` },
    // The same with no vector file at all (the log is written without fsync since d705faa; before,
    // the fsync cost a few ms per saved message here): what the file costs on the memory path.
    !o.noMemVec && { key: 'main-memvec', n: nMain, impls: impls(['lumos']), vectorInMemory: true, title: `${f(nMain)} messages — Lumos, vectors in memory (\`LibSQLVector({ url: ':memory:' })\`: no vector log file; storage still on a file)` },
  ].filter(Boolean)
  const results = { machine: { loadBefore: os.loadavg() } }
  for (const c of configs) {
    results[c.key] = { config: c }
    for (const impl of c.impls) {
      o.log(`s3 ${c.key} (${f(c.n)} messages${c.vectorInMemory ? ', vectors in memory' : ''}) ${impl} …`)
      const r = await runRunner(o.benchDir, 'memory.mjs', { ...base, impl, n: c.n, vectorInMemory: c.vectorInMemory }, 3_600_000, { echoStderr: true })
      r.loadAfter = os.loadavg()
      results[c.key][impl] = r
      if (r.error) o.log(`  ${impl} FAILED: ${r.error.split('\n')[0]}`)
      else if (r.skipped) o.log(`  ${impl} skipped: ${r.skipped}`)
      else o.log(`  ${impl}: fill off ${f(r.fillOff[0].perSec)}/s, on ${f(r.fillOn.perSec)}/s; generate p50 off ${g(r.generate.off.p50Ms)} ms, on ${g(r.generate.on.p50Ms)} ms; load ${r.loadAfter.map((x) => x.toFixed(2)).join(' ')}`)
    }
  }
  // Diagnosis: the pieces of a memory-on generate, timed alone on a thread of nMain messages.
  if (o.frameworks.includes('lumos') && !o.noProbe) {
    o.log(`s3 probe (${f(nMain)} messages, Lumos) …`)
    const r = await runRunner(o.benchDir, 'memory-probe.mjs', { impl: 'lumos-probe' }, 900_000, { args: [String(nMain)], echoStderr: true })
    r.loadAfter = os.loadavg()
    results.probe = r
    if (r.error) o.log(`  probe FAILED: ${r.error.split('\n')[0]}`)
  }
  results.machine.loadAfter = os.loadavg()

  // ---------------------------------------------------------------- report
  const ok = (r) => r && !r.error && !r.skipped
  const md = [...o.header]
  md.push('')
  md.push(`**Data**: ${describeS3Data(S3_DATA)}. One thread, one resource. Embeddings come from the mock server's \`/v1/embeddings\` (a hashed bag of words, 384 dimensions, L2-normalised; batches answered in one response; base64 or float as asked), so the nearest messages really share words with the query.`)
  md.push('')
  md.push(`**Configuration** (the same source for both, \`runners/memory.mjs\`; only the imports differ): \`new Memory({ storage: new LibSQLStore({ url: 'file:…' }), vector: new LibSQLVector({ url: 'file:…' }), embedder: new ModelRouterEmbeddingModel({ id: 'openai/text-embedding-3-small', url: <mock>, apiKey }), options: { lastMessages: 20, semanticRecall: { topK: 5, messageRange: 2 } } })\` (recall off: no vector, no embedder, \`semanticRecall: false\`); agent \`new Agent({ instructions, model: <mock>, memory })\`, no tools, called as \`generate(prompt, { memory: { thread, resource } })\`; "without memory" is the same agent config without \`memory\`, called as \`generate(prompt)\`. Every generate is one model request; every answer is checked.`)
  md.push('')
  md.push(`**Procedure** (each implementation and N in a fresh child process, one at a time; everything on files in \`bench/.results/tmp\`): (1) fill rate with semantic recall **off**: \`saveMessages\` of the N messages into a fresh database, ${batch} messages per call, then again with 1,000 per call (building the message objects is not timed; \`saveMessages\` calls are); (2) fill rate with recall **on**: the same N messages, ${batch} per call, into a fresh database + vector store — this thread is the one the memory-on generates use; (3) Lumos: wait until its HNSW graph is built (\`LibSQLVector.waitIndexed\`, as in S4); (4) ${base.warmup} warm-up generates per side, then ${generates} generates per side in interleaved blocks of ${base.block} (${base.block} without memory, ${base.block} with memory, …) with a new prompt every generate (8 words of one topic, so the embedding cache never answers a query). Latency = one \`generate\` call; CPU/generate = \`process.cpuUsage()\` over the blocks (all threads of the process) / generates. **Overhead = with memory − without memory** (p50 latency; CPU per generate). RSS = process RSS (Node included). Lumos at ${f(nMain)} runs twice: with the vectors in a file (as configured above; the vector store appends to its log file on every write, without fsync) and with \`LibSQLVector({ url: ':memory:' })\`, to separate that file from the rest of the memory path.`)
  md.push('')

  const fillRows = [
    ['saveMessages, recall off, ' + batch + '/call (messages/s)', (r) => f(r.fillOff[0].perSec)],
    ['saveMessages, recall off, 1,000/call (messages/s)', (r) => f(r.fillOff[1]?.perSec)],
    ['saveMessages, recall on, ' + batch + '/call (messages/s)', (r) => f(r.fillOn.perSec)],
    ['… wall time, recall off / on (s)', (r) => `${g(r.fillOff[0].seconds)} / ${g(r.fillOn.seconds)}`],
    ['… CPU per message, recall off / on (µs)', (r) => `${g((r.fillOff[0].cpuMs * 1000) / r.n)} / ${g((r.fillOn.cpuMs * 1000) / r.n)}`],
    ['… embedding requests for N messages (texts)', (r) => `${f(r.fillOn.embeddingRequests)} (${f(r.fillOn.embeddedTexts)})`],
    ['vector index built after the fill (s)', (r) => (r.indexWait ? `${g(r.indexWait.builtSeconds)}${r.indexWait.timedOut ? ' (timed out)' : ''}` : '–')],
    ['generate p50 without memory (ms)', (r) => g(r.generate.off.p50Ms)],
    ['generate p50 with memory (ms)', (r) => g(r.generate.on.p50Ms)],
    ['**memory overhead, p50 (ms)**', (r) => g(r.generate.on.p50Ms - r.generate.off.p50Ms)],
    ['generate p99 without / with memory (ms)', (r) => `${g(r.generate.off.p99Ms)} / ${g(r.generate.on.p99Ms)}`],
    ['CPU per generate without memory (ms)', (r) => g(r.generate.off.cpuMsPerOp)],
    ['CPU per generate with memory (ms)', (r) => g(r.generate.on.cpuMsPerOp)],
    ['**memory overhead, CPU per generate (ms)**', (r) => g(r.generate.on.cpuMsPerOp - r.generate.off.cpuMsPerOp)],
    ['messages in a model request without / with memory', (r) => `${r.generate.requestOff.messages} / ${r.generate.requestOn.messages}`],
    ['embedding requests per generate with memory', (r) => g(r.generate.mock.embeddings / r.generate.on.ops)],
    ['generates measured (per side)', (r) => f(r.generate.on.ops)],
    ['RSS after the fills (MB)', (r) => f(r.rssMB.afterFillOn)],
    ['RSS after the generates (MB)', (r) => f(r.rssMB.afterGenerates)],
    ['peak RSS (MB)', (r) => f(r.rssMB.peak)],
    ['load average after the child (1 min)', (r) => r.loadAfter?.[0]?.toFixed(2) ?? '–'],
  ]
  for (const c of configs) {
    const R = results[c.key]
    if (!c.impls.length) continue
    md.push(`## S3 — ${c.title}`)
    md.push('')
    md.push(`| | ${c.impls.map((i) => NAMES[i]).join(' | ')} |`)
    md.push(`| --- |${c.impls.map(() => ' ---: |').join('')}`)
    for (const [label, fn] of fillRows) {
      md.push(`| ${label} | ${c.impls.map((i) => { const r = R[i]; if (!r) return '–'; if (r.error) return 'failed'; if (r.skipped) return 'skipped'; try { return fn(r) } catch { return '–' } }).join(' | ')} |`)
    }
    md.push('')
    for (const i of c.impls.filter((i) => R[i]?.error)) md.push(`${NAMES[i]} failed:`, '', '```', String(R[i].error).slice(0, 3000), '```', '')
  }

  const P = results.probe
  if (P && !P.error) {
    md.push(`## S3 — where a memory-on generate spends its time (Lumos, ${f(P.n)} messages, each piece timed alone)`)
    md.push('')
    md.push(`\`runners/memory-probe.mjs\`, in its own child after the runs above: one thread of ${f(P.n)} messages on a file database, an in-memory vector index of ${f(P.n)} random 384-d vectors with the metadata recall writes (\`message_id\`, \`thread_id\`, \`resource_id\`; one thread, one resource, so the recall filter matches every vector); after the HNSW graph was built (~${f(P.graphSeconds)} s), each call 50 times in a row. A memory-on generate runs one filtered vector query (\`resource_id\`, Mastra's default scope), one include-windows read for the hits (\`perPage: 0\`, which does not count the thread), the history read, the embedding of the prompt (one request to the mock) and the saves of the new messages. Load average after: ${P.loadAfter?.map((x) => x.toFixed(2)).join(' / ')}.`)
    md.push('')
    md.push('| call | p50 (ms) | min (ms) |')
    md.push('| --- | ---: | ---: |')
    for (const row of P.rows) md.push(`| ${row.label} | ${g(row.p50Ms)} | ${g(row.minMs)} |`)
    md.push('')
  } else if (P?.error) md.push('Probe failed:', '', '```', String(P.error).slice(0, 2000), '```', '')

  // Targets (reported, not asserted)
  const L = results.main?.lumos
  const Ls = results.small?.lumos
  const M = results.small?.mastra
  const t = []
  const yes = (b) => b
  if (ok(L)) {
    const ov = L.generate.on.p50Ms - L.generate.off.p50Ms
    t.push([`memory-on overhead per generate ≤ 2 ms (Lumos, ${f(nMain)} messages, p50)`, `${g(ov)} ms (${g(L.generate.on.p50Ms)} vs ${g(L.generate.off.p50Ms)}); CPU ${g(L.generate.on.cpuMsPerOp - L.generate.off.cpuMsPerOp)} ms`, '≤ 2 ms', yes(ov <= 2)])
    t.push([`saveMessages ≥ 50,000 messages/s, recall off (Lumos, ${f(nMain)}, ${batch}/call)`, f(L.fillOff[0].perSec), '≥ 50,000', L.fillOff[0].perSec >= 50_000])
    if (L.fillOff[1]) t.push([`saveMessages ≥ 50,000 messages/s, recall off (Lumos, ${f(nMain)}, 1,000/call)`, f(L.fillOff[1].perSec), '≥ 50,000', L.fillOff[1].perSec >= 50_000])
  }
  const Lm = results['main-memvec']?.lumos
  if (ok(Lm)) {
    const ov = Lm.generate.on.p50Ms - Lm.generate.off.p50Ms
    t.push([`memory-on overhead per generate ≤ 2 ms (Lumos, ${f(nMain)} messages, p50), vectors in memory`, `${g(ov)} ms (${g(Lm.generate.on.p50Ms)} vs ${g(Lm.generate.off.p50Ms)}); CPU ${g(Lm.generate.on.cpuMsPerOp - Lm.generate.off.cpuMsPerOp)} ms`, '≤ 2 ms', ov <= 2])
  }
  if (ok(Ls) && ok(M)) {
    t.push([`saveMessages with recall on ≥ 50× Mastra's (${f(nSmall)} messages, equal N)`, `${f(Ls.fillOn.perSec)} vs ${g(M.fillOn.perSec)} (${f(Ls.fillOn.perSec / M.fillOn.perSec)}×)`, `≥ ${f(50 * M.fillOn.perSec)}`, Ls.fillOn.perSec >= 50 * M.fillOn.perSec])
    if (ok(L)) t.push([`saveMessages with recall on: Lumos at ${f(nMain)} vs Mastra at ${f(nSmall)}`, `${f(L.fillOn.perSec)} vs ${g(M.fillOn.perSec)} (${f(L.fillOn.perSec / M.fillOn.perSec)}×)`, `≥ ${f(50 * M.fillOn.perSec)}`, L.fillOn.perSec >= 50 * M.fillOn.perSec])
    t.push([`memory-on overhead per generate, equal N (${f(nSmall)} messages; no target)`, `Lumos ${g(Ls.generate.on.p50Ms - Ls.generate.off.p50Ms)} ms vs Mastra ${g(M.generate.on.p50Ms - M.generate.off.p50Ms)} ms`, '–', undefined])
    t.push([`saveMessages recall off, equal N (${f(nSmall)}, ${batch}/call; no target)`, `${f(Ls.fillOff[0].perSec)} vs ${g(M.fillOff[0].perSec)} (${f(Ls.fillOff[0].perSec / M.fillOff[0].perSec)}×)`, '–', undefined])
  }
  md.splice(o.header.length, 0, ...targetsSection('S3', t))
  md.splice(o.header.length, 0, `| load average after (1/5/15 min) | ${results.machine.loadAfter.map((x) => x.toFixed(2)).join(' / ')} |`)

  writeReport(o, 'S3', md, results)
  return results
}
