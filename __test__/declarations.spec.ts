// The committed public declarations (index.d.ts, ts/*.d.ts) must match what the facade emits.
import test from 'ava'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = fileURLToPath(new URL('..', import.meta.url))

test('index.d.ts and ts/*.d.ts are up to date with the facade source', (t) => {
  const out = mkdtempSync(join(tmpdir(), 'lumos-dts-'))
  execFileSync(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', join(root, 'tsconfig.json'), '--emitDeclarationOnly', '--outDir', out], { cwd: root })
  const files = ['index.d.ts', ...readdirSync(join(out, 'ts')).filter((f) => f.endsWith('.d.ts')).map((f) => `ts/${f}`)]
  for (const f of files) {
    t.is(readFileSync(join(out, f), 'utf8'), readFileSync(join(root, f), 'utf8'), `${f} is stale: run \`npm run build:ts\` and commit it`)
  }
})
