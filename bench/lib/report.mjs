// Shared by the opt-in scenarios' drivers (S3, S4, S6): running a runner in a child process,
// number formatting, the targets table, and writing the report (+ raw JSON).
import { spawn } from 'node:child_process'
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'

/**
 * Runs `runners/<script>` in a fresh child process and resolves with the object on its last
 * "BENCH_RESULT " line (or `{ impl, error }` when it died without one). `echoStderr` copies the
 * child's stderr to ours as it arrives.
 */
export function runRunner(benchDir, script, cfg, timeoutMs, { args = [JSON.stringify(cfg)], echoStderr = false } = {}) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(benchDir, 'runners', script), ...args], { cwd: benchDir, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d) => (out += d))
    child.stderr.on('data', (d) => {
      err += d
      if (echoStderr) process.stderr.write(d)
    })
    const timer = setTimeout(() => {
      err += `\n[bench] child timed out after ${timeoutMs} ms; killed`
      child.kill('SIGKILL')
    }, timeoutMs)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      const line = out.split('\n').reverse().find((l) => l.startsWith('BENCH_RESULT '))
      let result
      try {
        result = line ? JSON.parse(line.slice('BENCH_RESULT '.length)) : undefined
      } catch {}
      if (result?.error) result.error += `\n${err.slice(-2000)}`
      resolve(result ?? { impl: cfg.impl, error: `child exited (code ${code}, signal ${signal}) without a result\n${err.slice(-3000)}` })
    })
  })
}

/** A number with thousands separators and `digits` decimals ('–' when missing). */
export const f = (x, digits = 0) => (x === undefined || !Number.isFinite(x) ? '–' : x.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits }))
/** A number with about three significant digits. */
export const g = (x) => (x === undefined || !Number.isFinite(x) ? '–' : Math.abs(x) >= 100 ? f(x) : Math.abs(x) >= 10 ? f(x, 1) : Math.abs(x) >= 1 ? f(x, 2) : f(x, 3))

/** Markdown lines of a "targets" section: rows are [target, measured, limit, met?]. */
export function targetsSection(title, rows) {
  return ['', `## ${title} targets (reported, not asserted)`, '', '| target | measured | limit | met |', '| --- | ---: | ---: | :---: |', ...rows.map(([a, b, c, m]) => `| ${a} | ${b} | ${c} | ${m === undefined ? '–' : m ? 'yes' : '**no**'} |`)]
}

/** Prints the report, keeps the raw results in .results/, writes RESULTS-<NAME>.md (quick: under .results/). */
export function writeReport(o, name, md, results) {
  const report = md.join('\n')
  console.log('\n' + report)
  mkdirSync(join(o.benchDir, '.results'), { recursive: true })
  const stamp = new Date().toISOString().replace(/[:.]/g, '-')
  writeFileSync(join(o.benchDir, '.results', `${stamp}-${name.toLowerCase()}${o.quick ? '-quick' : ''}.json`), JSON.stringify(results, null, 2))
  const out = o.quick ? join(o.benchDir, '.results', `RESULTS-${name}-quick.md`) : join(o.benchDir, `RESULTS-${name}.md`)
  if (!o.noWrite) {
    mkdirSync(dirname(out), { recursive: true })
    writeFileSync(out, report + '\n')
    o.log(`wrote ${relative(process.cwd(), out) || out}`)
  }
}
