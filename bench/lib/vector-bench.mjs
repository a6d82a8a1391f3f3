// S4 — vector store, driven by run.mjs (`--scenarios s4`). Every (configuration, implementation)
// pair runs runners/vector.mjs in a fresh child process, one at a time. The exact top-10 (the
// recall oracle) is computed once per data set by an 'exact' child and cached under .results/.
// Results: RESULTS-S4.md (full) or .results/RESULTS-S4-quick.md, raw JSON under .results/.
import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { f, g, runRunner, targetsSection, writeReport } from './report.mjs'
import { DATA_DEFAULTS, describeData } from './vector-data.mjs'

const NAMES = { lumos: 'Lumos', mastra: 'Mastra (@mastra/libsql)', usearch: 'usearch (npm)' }

/**
 * @param {{ benchDir: string, quick: boolean, frameworks: string[], million: boolean, onlyMillion?: boolean, noWrite: boolean,
 *           header: string[], log: (...a: any[]) => void }} o
 */
export async function runS4(o) {
  const d = { ...DATA_DEFAULTS }
  const q = o.queries ?? (o.quick ? 200 : 1000)
  const nMain = o.n ?? (o.quick ? 20_000 : 100_000)
  const nSmall = o.nSmall ?? (o.quick ? 500 : 3_000)
  const impls = (list) => list.filter((i) => i === 'usearch' || o.frameworks.includes(i))
  const configs = [
    { key: 'main-f32', title: `${f(nMain)} × ${d.dim}, f32 storage`, n: nMain, q, quantization: 'f32', impls: impls(['lumos', 'usearch']) },
    !o.noInt8 && { key: 'main-int8', title: `${f(nMain)} × ${d.dim}, int8 storage`, n: nMain, q, quantization: 'int8', impls: impls(['lumos', 'usearch']) },
    { key: 'small', title: `${f(nSmall)} × ${d.dim}, f32 — equal N with Mastra (its upsert runs at ~50–70 vectors/s, so 100,000 would take ~30 min)`, n: nSmall, q, quantization: 'f32', impls: impls(['lumos', 'mastra', 'usearch']) },
  ].filter(Boolean)
  if (o.million) configs.push({ key: '1m-int8', title: `1,000,000 × ${d.dim}, int8 storage — Lumos alone (recall on ${o.quick ? 50 : 100} queries)`, n: 1_000_000, q: o.quick ? 50 : 100, quantization: 'int8', impls: impls(['lumos']) })

  // --s4-only-1m: the 1M run alone (about 15 min of graph build on 2 cores), in its own report.
  if (o.onlyMillion) configs.splice(0, configs.length, ...configs.filter((c) => c.key === '1m-int8'))
  const results = {}
  for (const c of configs) {
    if (!c.impls.length) continue
    const truthFile = join(o.benchDir, '.results', 'vector-truth', `n${c.n}-q${c.q}-d${d.dim}-k${d.clusters}-s${d.sigma}-seed${d.seed}.i32`)
    const base = { ...d, n: c.n, q: c.q, topK: 10, quantization: c.quantization, truthFile, waitMaxS: 300 }
    results[c.key] = { config: c }
    if (!existsSync(truthFile)) {
      o.log(`s4 ${c.key}: exact top-10 for ${c.q} queries over ${c.n} vectors (brute force, JS) …`)
      const r = await runRunner(o.benchDir, 'vector.mjs', { ...base, impl: 'exact' }, 900_000)
      results[c.key].exact = r
      if (r.error) {
        o.log(`  exact FAILED: ${r.error.split('\n')[0]}`)
        continue
      }
      o.log(`  exact: ${g(r.seconds)} s (${g(r.qps)} queries/s)`)
    }
    for (const impl of c.impls) {
      o.log(`s4 ${c.key} ${impl} …`)
      // The 1M graph takes ~15 min to build on 2 cores.
      const r = await runRunner(o.benchDir, 'vector.mjs', { ...base, impl }, c.n >= 1_000_000 ? 3_600_000 : 900_000)
      results[c.key][impl] = r
      if (r.error) o.log(`  ${impl} FAILED: ${r.error.split('\n')[0]}`)
      else if (r.skipped) o.log(`  ${impl} skipped: ${r.skipped}`)
      else o.log(`  ${impl}: upsert ${f(r.upsertPerSec)}/s; QPS c=1 ${f(r.runs[0].qps)} (recall ${r.runs[0].recall.toFixed(3)}), c=8 ${f(r.runs[1].qps)}; RSS ${f(r.rssMB.indexed)} MB${r.indexWait ? `; graph built ~${g(r.indexWait.builtSeconds)} s after the last upsert` : ''}`)
    }
  }

  // ---------------------------------------------------------------- report
  const md = [...o.header]
  md.push('')
  md.push(`**Data**: ${describeData(d)}. Cosine metric, topK 10, ${f(q)} queries (the same for every implementation). Recall@10 = share of the exact top-10 (brute-force cosine in plain JS Float32Array loops over the same vectors) found in the returned 10, averaged over the queries.`)
  md.push('')
  md.push('**Implementations**: Lumos `LibSQLVector({ url: ":memory:" })` from the root build; Mastra `@mastra/libsql` LibSQLVector on a `file:` database (its libsql vector index, default settings); usearch `Index({ metric: "cos", connectivity: 16, expansion_add: 128, expansion_search: 64 })` — usearch is synchronous, so its "c=8" row is batches of 8 queries searched on all cores (`search(batch, 10, 0)`), and its c=1 row is one query at a time on one thread.')
  md.push('')
  md.push('**Procedure** (each in a fresh child): upsert in chunks (10,000 vectors per call as one flat Float32Array with string ids; Mastra 500 per call as number[][]; generating the data is not timed) → (Lumos, which answers from its HNSW graph above 2,000 vectors — 10,000 before c81338b) wait until the graph is built (`waitIndexed`, which polls `describeIndex().pending` until 0; builds without it: a probe of 20 sequential queries every 250 ms until its latency stops falling) → the queries at concurrency 1, then at concurrency 8. QPS = queries / wall time; CPU/query counts every thread of the process. RSS: after the index is ready (process RSS, Node included; the data are produced in 10,000-row chunks, never held whole).')
  md.push('')
  const rows = [
    ['upsert (vectors/s)', (r) => f(r.upsertPerSec)],
    ['upsert wall time (s)', (r) => g(r.upsertSeconds)],
    ['graph built after the last upsert (s)', (r) => (r.indexWait ? `${g(r.indexWait.builtSeconds)}${r.indexWait.timedOut ? ' (timed out)' : ''}` : '–')],
    ['probe latency: first → built (ms/query)', (r) => (r.indexWait?.firstProbeMs != null ? `${g(r.indexWait.firstProbeMs)} → ${g(r.indexWait.settledProbeMs)}` : '–')],
    ['recall@10, c=1', (r) => r.runs[0].recall.toFixed(4)],
    ['QPS, c=1', (r) => f(r.runs[0].qps)],
    ['latency p50 / p99, c=1 (ms)', (r) => `${g(r.runs[0].p50Ms)} / ${g(r.runs[0].p99Ms)}`],
    ['CPU per query, c=1 (ms)', (r) => g(r.runs[0].cpuMsPerQuery)],
    ['recall@10, c=8', (r) => r.runs[1].recall.toFixed(4)],
    ['QPS, c=8', (r) => f(r.runs[1].qps)],
    ['latency p50 / p99, c=8 (ms)', (r) => `${g(r.runs[1].p50Ms)} / ${g(r.runs[1].p99Ms)}`],
    ['RSS before upsert (MB)', (r) => f(r.rssMB.beforeUpsert)],
    ['RSS with the index ready (MB)', (r) => f(r.rssMB.indexed)],
    ['peak RSS (MB)', (r) => f(r.rssMB.peak)],
  ]
  for (const c of configs) {
    const R = results[c.key]
    if (!R) continue
    md.push(`## S4 — ${c.title}`)
    md.push('')
    if (R.exact?.error) {
      md.push(`exact oracle failed: \`${R.exact.error.split('\n')[0]}\``)
      md.push('')
      continue
    }
    md.push(`| | ${c.impls.map((i) => NAMES[i]).join(' | ')} |`)
    md.push(`| --- |${c.impls.map(() => ' ---: |').join('')}`)
    for (const [label, fn] of rows) {
      md.push(`| ${label} | ${c.impls.map((i) => { const r = R[i]; if (!r) return '–'; if (r.error) return 'failed'; if (r.skipped) return 'skipped'; try { return fn(r) } catch { return '–' } }).join(' | ')} |`)
    }
    md.push('')
    if (R.exact && !R.exact.error) md.push(`Exact oracle (brute force in JS, one thread): ${g(R.exact.seconds)} s for ${f(c.q)} queries (${g(R.exact.qps)} queries/s).`, '')
    const errs = c.impls.filter((i) => R[i]?.error)
    for (const i of errs) md.push(`${NAMES[i]} failed:`, '', '```', String(R[i].error).slice(0, 3000), '```', '')
  }

  // Targets
  const L = results['main-f32']?.lumos
  const U = results['main-f32']?.usearch
  const Ls = results.small?.lumos
  const M = results.small?.mastra
  const L1m = results['1m-int8']?.lumos
  const ok = (r) => r && !r.error && !r.skipped
  const t = []
  if (ok(L)) t.push([`upsert ≥ 20,000 vectors/s (Lumos, ${f(nMain)} f32)`, f(L.upsertPerSec), '≥ 20,000', L.upsertPerSec >= 20_000])
  for (const ci of [0, 1]) {
    if (ok(L) && ok(U)) {
      const lr = L.runs[ci]
      const ur = U.runs[ci]
      t.push([`c=${ci ? 8 : 1}: Lumos QPS within 1.5× of usearch's, at recall@10 ≥ 0.95 (${f(nMain)} f32)`, `${f(lr.qps)} vs ${f(ur.qps)} (recall ${lr.recall.toFixed(3)} vs ${ur.recall.toFixed(3)})`, `≥ ${f(ur.qps / 1.5)}, recall ≥ 0.95`, lr.qps >= ur.qps / 1.5 && lr.recall >= 0.95])
    }
  }
  for (const ci of [0, 1]) {
    if (ok(Ls) && ok(M)) t.push([`c=${ci ? 8 : 1}: Lumos QPS ≥ 30× Mastra's (${f(nSmall)} vectors, equal N)`, `${f(Ls.runs[ci].qps)} vs ${f(M.runs[ci].qps)} (${g(Ls.runs[ci].qps / M.runs[ci].qps)}×)`, `≥ ${f(M.runs[ci].qps * 30)}`, Ls.runs[ci].qps >= 30 * M.runs[ci].qps && Ls.runs[ci].recall >= 0.95])
  }
  if (ok(Ls) && ok(M)) t.push([`upsert vs Mastra (${f(nSmall)} vectors; no target)`, `${f(Ls.upsertPerSec)} vs ${f(M.upsertPerSec)} (${f(Ls.upsertPerSec / M.upsertPerSec)}×)`, '–', undefined])
  if (ok(L1m)) t.push(['1M × 384 int8 index in ≤ 700 MB RSS (Lumos)', `${f(L1m.rssMB.indexed)} MB (peak ${f(L1m.rssMB.peak)})`, '≤ 700 MB', L1m.rssMB.indexed <= 700])
  else if (!o.million) t.push(['1M × 384 int8 index in ≤ 700 MB RSS (Lumos)', 'not run here (`--s4-1m`; `--s4-only-1m` runs it alone into RESULTS-S4-1M.md)', '≤ 700 MB', undefined])
  md.splice(o.header.length, 0, ...targetsSection('S4', t))

  writeReport(o, o.onlyMillion ? 'S4-1M' : 'S4', md, results)
  return results
}
