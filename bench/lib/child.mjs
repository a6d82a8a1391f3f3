// Child-process entry shared by every runner. The parent (run.mjs) passes one JSON argument:
//   { scenario: 's1' | 's2' | 's5' | 'empty', port, concurrency?, withTools?, minOps?, seconds?, warmup? }
// and reads the last stdout line starting with "BENCH_RESULT ".
//
// 's5' (cold start) records process.hrtime.bigint() marks — CLOCK_MONOTONIC, the same clock in
// every process on the machine — so the parent can subtract its own spawn time from them.
import { measure } from './measure.mjs'

const tStart = process.hrtime.bigint()

function emit(obj) {
  process.stdout.write(`BENCH_RESULT ${JSON.stringify(obj, (_, v) => (typeof v === 'bigint' ? v.toString() : v))}\n`)
}

function finish(obj, code = 0) {
  emit(obj)
  // Exit explicitly: keep-alive sockets or native worker threads must not keep a child alive.
  process.exitCode = code
  setImmediate(() => process.exit(code))
}

/**
 * @param {string} name
 * @param {{ load(): Promise<any>, construct(mod, o): any, generate(agent): Promise<any>, stream(agent, o): Promise<any> } | null} impl
 *   null = the empty baseline (only reports its start mark and RSS).
 * @param {{ skip?: string }} [status]
 */
export async function runChild(name, impl, status = {}) {
  const cfg = JSON.parse(process.argv[2] ?? '{}')
  if (status.skip) return finish({ framework: name, skipped: status.skip })
  try {
    if (cfg.scenario === 'empty' || impl === null) {
      return finish({ framework: name, scenario: 'empty', marks: { start: tStart }, rssMB: process.memoryUsage().rss / 1048576, sinceTimeOriginMs: performance.now() })
    }
    if (cfg.scenario === 's5') {
      const loadMarks = {}
      const mod = await impl.load(loadMarks)
      const tImported = process.hrtime.bigint()
      const agent = impl.construct(mod, { port: cfg.port, withTools: true })
      const tConstructed = process.hrtime.bigint()
      await impl.generate(agent)
      const tFirst = process.hrtime.bigint()
      const rss = process.memoryUsage().rss
      return finish({
        framework: name,
        scenario: 's5',
        marks: { start: tStart, frameworkImported: loadMarks.frameworkImported ?? tImported, imported: tImported, constructed: tConstructed, firstGenerate: tFirst },
        rssMB: rss / 1048576,
        maxRSSMB: process.resourceUsage().maxRSS / 1024,
      })
    }
    const loadT0 = process.hrtime.bigint()
    const mod = await impl.load()
    const importMs = Number(process.hrtime.bigint() - loadT0) / 1e6
    const withTools = cfg.scenario === 's1' ? true : Boolean(cfg.withTools)
    const agent = impl.construct(mod, { port: cfg.port, withTools })
    const op = cfg.scenario === 's1' ? () => impl.generate(agent) : () => impl.stream(agent, { withTools })
    const result = await measure(op, {
      concurrency: cfg.concurrency ?? 1,
      warmup: cfg.warmup ?? { minOps: 50, seconds: 0.5 },
      minOps: cfg.minOps ?? 200,
      seconds: cfg.seconds ?? 2,
      maxOps: cfg.maxOps ?? 1e6,
    })
    return finish({ framework: name, scenario: cfg.scenario, withTools, importMs, ...result })
  } catch (err) {
    return finish({ framework: name, scenario: cfg.scenario, error: String(err?.stack ?? err), cause: err?.cause ? String(err.cause?.stack ?? err.cause) : undefined }, 1)
  }
}
