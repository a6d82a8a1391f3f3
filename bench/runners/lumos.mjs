// Lumos runner: the shared agent scenario code, with Agent/createTool from the built root package
// (@lumosai/core = index.js at the repository root, imported by path so bench/ does not need the
// package linked into its node_modules). zod is taken from the root's node_modules — the copy the
// Lumos facade itself loads — so the process holds one zod, as it would in a user's install.
import { existsSync, readFileSync, readdirSync } from 'node:fs'
import { pathToFileURL } from 'node:url'
import { agentImpl } from '../lib/agent-scenarios.mjs'
import { runChild } from '../lib/child.mjs'
import { lumosEntry, lumosOverride, repoRoot } from '../lib/lumos-entry.mjs'

// LUMOS_BENCH_ENTRY=<file or specifier> benchmarks another build of the package instead.

function notBuilt() {
  if (lumosOverride) return undefined
  if (!existsSync(`${repoRoot}index.js`)) return 'Lumos is not built: index.js is missing at the repository root (run `node scripts/setup.mjs` there)'
  const addons = (dir) => (existsSync(dir) ? readdirSync(dir).some((f) => f.endsWith('.node')) : false)
  const npmDirs = existsSync(`${repoRoot}npm`) ? readdirSync(`${repoRoot}npm`).map((d) => `${repoRoot}npm/${d}`) : []
  if (!addons(repoRoot) && !npmDirs.some(addons)) return 'Lumos is not built: no native addon (*.node) at the repository root (run `node scripts/setup.mjs` there)'
  return undefined
}

function zodEntry() {
  const dir = `${repoRoot}node_modules/zod/`
  if (!existsSync(`${dir}package.json`)) return 'zod'
  const pkg = JSON.parse(readFileSync(`${dir}package.json`, 'utf8'))
  const dot = pkg.exports?.['.']
  const rel = typeof dot === 'string' ? dot : (dot?.import?.default ?? dot?.import ?? dot?.default ?? pkg.module ?? pkg.main)
  return typeof rel === 'string' ? pathToFileURL(dir + rel).href : 'zod'
}

runChild(
  'lumos',
  agentImpl({
    framework: () => import(lumosEntry),
    zod: () => import(zodEntry()),
  }),
  { skip: notBuilt() },
)
