// Shared tail of the S3/S4 reports: the targets table, and writing the report (+ raw JSON).
import { mkdirSync, writeFileSync } from 'node:fs'
import { dirname, join, relative } from 'node:path'

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
