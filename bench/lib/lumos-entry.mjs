// Where runners import Lumos from: the built root package (index.js at the repository root, by
// path, so bench/ does not need the package linked into its node_modules), or
// LUMOS_BENCH_ENTRY=<absolute file or package specifier> to benchmark another build.
import { fileURLToPath, pathToFileURL } from 'node:url'

export const repoRoot = fileURLToPath(new URL('../../', import.meta.url))
export const lumosOverride = process.env.LUMOS_BENCH_ENTRY
export const lumosEntry = lumosOverride ? (lumosOverride.startsWith('/') ? pathToFileURL(lumosOverride).href : lumosOverride) : pathToFileURL(`${repoRoot}index.js`).href
