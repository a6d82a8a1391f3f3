// Every message that saveMessages acknowledged survives a SIGKILL of the process, and the
// database opens cleanly afterwards.
import test from 'ava'
import { spawn } from 'node:child_process'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { LibSQLStore, Memory } from '../index.js'

const child = fileURLToPath(new URL('./helpers/save-loop-child.mjs', import.meta.url))

test('kill -9 while saving in a loop loses no acknowledged message', async (t) => {
  const url = `file:${join(mkdtempSync(join(tmpdir(), 'lumos-kill-')), 'lumos.db')}`
  const acknowledged: string[] = []
  for (let round = 0; round < 3; round++) {
    const p = spawn(process.execPath, [child, url], { stdio: ['ignore', 'pipe', 'inherit'] })
    let buffered = ''
    p.stdout.on('data', (d) => {
      buffered += d
      const lines = buffered.split('\n')
      buffered = lines.pop() ?? ''
      acknowledged.push(...lines.filter(Boolean))
    })
    // Let it write for a while, then kill it mid-loop.
    const before = acknowledged.length
    await new Promise<void>((resolve) => {
      const timer = setInterval(() => {
        if (acknowledged.length >= before + 200) {
          clearInterval(timer)
          resolve()
        }
      }, 10)
    })
    p.kill('SIGKILL')
    await new Promise((r) => p.once('exit', r))
  }
  const memory = new Memory({ storage: new LibSQLStore({ id: 's', url }) })
  const { messages } = await memory.recall({ threadId: 't', perPage: false })
  const stored = new Set(messages.map((m) => m.id))
  const lost = acknowledged.filter((id) => !stored.has(id))
  t.true(acknowledged.length >= 600)
  t.deepEqual(lost, [], `${lost.length} of ${acknowledged.length} acknowledged messages were lost`)
})
