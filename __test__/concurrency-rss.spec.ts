// 500 concurrent generates against the mock all succeed with their own answer, and memory
// returns near its baseline after GC (measured in a `node --expose-gc` child unless this
// process already exposes `global.gc`).
import test from 'ava'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

import { Agent } from '../index.js'
import { withMock } from './helpers/agent-utils.js'
import { lastUserText } from './helpers/mock-provider.js'
import type { RssReport } from './helpers/rss-probe.js'

const MB = 1024 * 1024
const repoRoot = fileURLToPath(new URL('..', import.meta.url))

test(
  '500 concurrent generates all succeed, each with its own answer',
  withMock(
    async (t: any, mock) => {
      const agent = new Agent({
        id: 'many',
        name: 'many',
        instructions: 'Echo.',
        model: { id: 'openai/gpt-4o-mini', url: mock.url, apiKey: 'k' },
      })
      const N = 500
      const results: any[] = await Promise.all(Array.from({ length: N }, (_, i) => agent.generate(`question ${i}`)))
      t.is(results.length, N)
      const wrong = results.filter((r, i) => r.text !== `echo: question ${i}`)
      t.is(wrong.length, 0, `${wrong.length} results were wrong, e.g. ${JSON.stringify(wrong[0]?.text)}`)
      t.is(new Set(results.map((r) => r.runId)).size, N, 'every run has its own runId')
      t.true(results.every((r) => r.usage.totalTokens === 8))
      t.is(mock.requests.length, N)
    },
    { fallback: (req) => ({ text: `echo: ${lastUserText(req.body)}`, usage: { input: 5, output: 3 } }) },
  ),
)

test(
  '500 concurrent streams all complete',
  withMock(
    async (t: any, mock) => {
      const agent = new Agent({
        id: 'many-streams',
        name: 'many',
        instructions: 'Echo.',
        model: { id: 'openai/gpt-4o-mini', url: mock.url, apiKey: 'k' },
      })
      const N = 500
      const texts = await Promise.all(
        Array.from({ length: N }, async (_, i) => {
          const s: any = await agent.stream(`stream ${i}`)
          let text = ''
          for await (const piece of s.textStream) text += piece
          return text
        }),
      )
      t.is(texts.filter((x, i) => x !== `echo: stream ${i}`).length, 0)
    },
    { fallback: (req) => ({ text: `echo: ${lastUserText(req.body)}` }) },
  ),
)

function runProbeInChild(): Promise<RssReport> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--expose-gc', '--import', 'tsx', '__test__/helpers/rss-probe.ts'], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, RSS_ROUNDS: '4', RSS_PER_ROUND: '500' },
    })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => (err += d))
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`rss probe timed out\nstdout: ${out}\nstderr: ${err}`))
    }, 100_000)
    child.on('exit', (code) => {
      clearTimeout(timer)
      const line = out.split('\n').find((l) => l.startsWith('RSS_REPORT '))
      if (code !== 0 || !line) return reject(new Error(`rss probe exited ${code}\nstdout: ${out}\nstderr: ${err}`))
      resolve(JSON.parse(line.slice('RSS_REPORT '.length)))
    })
  })
}

test('RSS returns near baseline after 2000 generates and GC (growth < 60 MB)', async (t) => {
  t.timeout(120_000)
  let report: RssReport
  if (typeof (globalThis as any).gc === 'function') {
    const { rssProbe } = await import('./helpers/rss-probe.js')
    report = await rssProbe({ rounds: 4, perRound: 500 })
  } else {
    report = await runProbeInChild()
  }
  const growth = report.finalRss - report.baselineRss
  t.log(
    `baseline ${(report.baselineRss / MB).toFixed(1)} MB, peak ${(report.peakRss / MB).toFixed(1)} MB, ` +
      `final ${(report.finalRss / MB).toFixed(1)} MB (growth ${(growth / MB).toFixed(1)} MB); ` +
      `heap ${(report.baselineHeap / MB).toFixed(1)} → ${(report.finalHeap / MB).toFixed(1)} MB`,
  )
  t.is(report.failures, 0)
  t.true(growth < 60 * MB, `RSS grew by ${(growth / MB).toFixed(1)} MB`)
  t.true(report.finalHeap - report.baselineHeap < 30 * MB, 'JS heap returns near baseline')
})
