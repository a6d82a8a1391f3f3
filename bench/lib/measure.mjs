// Measurement harness used inside every framework's child process (raw, Lumos, Mastra alike).
//
// An "op" is one async function call (one generate, one consumed stream). The harness warms up,
// then runs ops with `concurrency` in flight until both `minOps` ops and `seconds` of wall time
// are done (capped at `maxOps`), recording per-op latency with hrtime, the process's CPU time
// (process.cpuUsage(): user + system of every thread, so native worker threads count too) and RSS
// (sampled every 20 ms, plus the kernel's lifetime peak from process.resourceUsage().maxRSS).

const now = () => process.hrtime.bigint()

export function percentile(sorted, p) {
  if (sorted.length === 0) return NaN
  const idx = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))
  return sorted[idx]
}

async function drive(op, { concurrency, minOps, seconds, maxOps }, onOp) {
  const deadline = now() + BigInt(Math.round(seconds * 1e9))
  let started = 0
  let failure
  const worker = async () => {
    while (!failure) {
      if (started >= maxOps) return
      if (started >= minOps && now() >= deadline) return
      const i = started++
      const t0 = now()
      let r
      try {
        r = await op(i)
      } catch (err) {
        failure = err
        return
      }
      onOp(t0, now(), r)
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  if (failure) throw failure
}

/**
 * @param {(i: number) => Promise<any>} op  one operation; may return { ttft: bigint } (absolute
 *   hrtime of the first text chunk) to get a time-to-first-chunk distribution as well.
 */
export async function measure(op, opts) {
  const { concurrency = 1, warmup = { minOps: 50, seconds: 0.5 }, minOps = 200, seconds = 2, maxOps = 1e6 } = opts
  // Warm-up: same concurrency, results discarded.
  let warmupOps = 0
  await drive(op, { concurrency, minOps: warmup.minOps, seconds: warmup.seconds, maxOps: 1e6 }, () => {
    warmupOps++
  })
  if (globalThis.gc) globalThis.gc()

  const lat = []
  const ttft = []
  let rssPeakSampled = process.memoryUsage().rss
  const sampler = setInterval(() => {
    const r = process.memoryUsage.rss()
    if (r > rssPeakSampled) rssPeakSampled = r
  }, 20)
  sampler.unref?.()

  const cpu0 = process.cpuUsage()
  const t0 = now()
  await drive(op, { concurrency, minOps, seconds, maxOps }, (s, e, r) => {
    lat.push(Number(e - s) / 1e6)
    if (r && typeof r.ttft === 'bigint') ttft.push(Number(r.ttft - s) / 1e6)
  })
  const wallMs = Number(now() - t0) / 1e6
  const cpu = process.cpuUsage(cpu0)
  clearInterval(sampler)
  const rssEnd = process.memoryUsage().rss
  if (rssEnd > rssPeakSampled) rssPeakSampled = rssEnd

  const ops = lat.length
  lat.sort((a, b) => a - b)
  ttft.sort((a, b) => a - b)
  const out = {
    ops,
    warmupOps,
    concurrency,
    wallMs,
    throughput: (ops / wallMs) * 1000,
    latencyMs: { p50: percentile(lat, 50), p90: percentile(lat, 90), p99: percentile(lat, 99), min: lat[0], max: lat[lat.length - 1], mean: lat.reduce((a, b) => a + b, 0) / ops },
    cpuMsPerOp: (cpu.user + cpu.system) / 1000 / ops,
    cpuUserMsPerOp: cpu.user / 1000 / ops,
    cpuSystemMsPerOp: cpu.system / 1000 / ops,
    rssPeakSampledMB: rssPeakSampled / 1048576,
    rssEndMB: rssEnd / 1048576,
    maxRSSMB: process.resourceUsage().maxRSS / 1024,
  }
  if (ttft.length) out.ttftMs = { p50: percentile(ttft, 50), p90: percentile(ttft, 90), p99: percentile(ttft, 99), min: ttft[0], max: ttft[ttft.length - 1] }
  return out
}
