// Memory probe for concurrency-rss.spec.ts. Runs rounds of concurrent generates against a mock
// server in this process and reports RSS after GC. Needs `global.gc` (node --expose-gc); when run
// as a script it prints one JSON line with the measurements.
import { fileURLToPath } from 'node:url'

import { Agent } from '../../index.js'
import { lastUserText, startMockProvider } from './mock-provider.js'

export interface RssReport {
  baselineRss: number
  finalRss: number
  peakRss: number
  baselineHeap: number
  finalHeap: number
  rounds: number
  perRound: number
  failures: number
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

async function settle() {
  const gc = (globalThis as any).gc as (() => void) | undefined
  if (!gc) throw new Error('rss-probe needs global.gc (run node with --expose-gc)')
  for (let i = 0; i < 4; i++) {
    gc()
    await sleep(150)
  }
  await sleep(500)
  gc()
}

export async function rssProbe({ rounds = 4, perRound = 500 } = {}): Promise<RssReport> {
  const mock = await startMockProvider({
    fallback: (req) => ({ text: `echo:${lastUserText(req.body)}`, usage: { input: 5, output: 3 } }),
  })
  let failures = 0
  try {
    const agent = new Agent({
      id: 'rss-agent',
      name: 'rss',
      instructions: 'Echo the user.',
      model: { id: 'openai/gpt-4o-mini', url: mock.url, apiKey: 'k' },
    })
    const round = async (tag: string) => {
      const results = await Promise.allSettled(
        Array.from({ length: perRound }, (_, i) => agent.generate(`${tag}-${i}`) as Promise<any>),
      )
      results.forEach((r, i) => {
        if (r.status !== 'fulfilled' || r.value.text !== `echo:${tag}-${i}`) failures++
      })
      mock.requests.length = 0
    }
    await round('warmup')
    await settle()
    const baselineRss = process.memoryUsage().rss
    const baselineHeap = process.memoryUsage().heapUsed
    let peakRss = baselineRss
    for (let r = 0; r < rounds; r++) {
      await round(`r${r}`)
      peakRss = Math.max(peakRss, process.memoryUsage().rss)
    }
    await settle()
    const finalRss = process.memoryUsage().rss
    const finalHeap = process.memoryUsage().heapUsed
    return { baselineRss, finalRss, peakRss, baselineHeap, finalHeap, rounds, perRound, failures }
  } finally {
    await mock.close()
  }
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const rounds = Number(process.env.RSS_ROUNDS ?? 4)
  const perRound = Number(process.env.RSS_PER_ROUND ?? 500)
  rssProbe({ rounds, perRound }).then(
    (report) => {
      // exit explicitly: whether the process exits on its own is process-exit.spec.ts's business
      process.stdout.write(`RSS_REPORT ${JSON.stringify(report)}\n`, () => process.exit(0))
    },
    (err) => {
      process.stderr.write(`rss-probe failed: ${err?.stack ?? err}\n`)
      process.exit(1)
    },
  )
}
