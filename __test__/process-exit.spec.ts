// A process that imports the package, registers an agent with a tool and runs it, then does
// nothing, must exit by itself (nothing in the native addon may keep the event loop alive).
import test from 'ava'
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'

import { withMock } from './helpers/agent-utils.js'
import type { MockTurn } from './helpers/mock-provider.js'

const repoRoot = fileURLToPath(new URL('..', import.meta.url))
const CHILD = fileURLToPath(new URL('./helpers/exit-child.mjs', import.meta.url))

interface ChildRun {
  code: number | null
  signal: NodeJS.Signals | null
  done: any
  exitAfterDoneMs: number
  stdout: string
  stderr: string
}

function runChild(mode: string, mockUrl: string, killAfterMs = 20_000): Promise<ChildRun> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [CHILD, mode], {
      cwd: repoRoot,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, MOCK_URL: mockUrl },
    })
    let stdout = ''
    let stderr = ''
    let doneAt = 0
    let done: any
    child.stdout.on('data', (d) => {
      stdout += d
      const line = stdout.split('\n').find((l) => l.startsWith('DONE '))
      if (line && !doneAt) {
        doneAt = Date.now()
        done = JSON.parse(line.slice(5))
      }
    })
    child.stderr.on('data', (d) => (stderr += d))
    const killer = setTimeout(() => child.kill('SIGKILL'), killAfterMs)
    child.on('exit', (code, signal) => {
      clearTimeout(killer)
      resolve({ code, signal, done, exitAfterDoneMs: doneAt ? Date.now() - doneAt : Infinity, stdout, stderr })
    })
  })
}

const cases: { mode: string; turns: MockTurn[]; check: (t: any, done: any) => void }[] = [
  { mode: 'idle', turns: [], check: (t, d) => t.is(d.mode, 'idle') },
  {
    mode: 'generate',
    turns: [{ toolCalls: [{ name: 'add', args: { a: 1, b: 2 } }] }, { text: 'The sum is 3.' }],
    check: (t, d) => {
      t.is(d.text, 'The sum is 3.')
      t.deepEqual(d.results, [{ sum: 3 }])
    },
  },
  {
    mode: 'stream',
    turns: [{ toolCalls: [{ name: 'add', args: { a: 1, b: 2 } }] }, { text: 'The sum is 3.', usage: { input: 5, output: 4 } }],
    check: (t, d) => t.is(d.text, 'The sum is 3.'),
  },
  { mode: 'error', turns: [{ status: 500 }], check: (t, d) => t.is(d.code, 'PROVIDER_HTTP_ERROR') },
  { mode: 'abort', turns: [{ hang: true }], check: (t, d) => t.is(d.code, 'ABORTED') },
  { mode: 'workflow', turns: [], check: (t, d) => t.deepEqual([d.status, d.result], ['success', { n: 3 }]) },
]

for (const c of cases) {
  test(
    `child process exits by itself within 5 s after: ${c.mode}`,
    withMock(async (t: any, mock) => {
      mock.enqueue(...c.turns)
      const run = await runChild(c.mode, mock.url)
      t.truthy(run.done, `child never finished its scenario\nstdout: ${run.stdout}\nstderr: ${run.stderr}`)
      if (run.done) c.check(t, run.done)
      t.is(run.signal, null, `child had to be killed (did not exit by itself)\nstderr: ${run.stderr}`)
      t.is(run.code, 0, run.stderr)
      t.true(run.exitAfterDoneMs < 5000, `exited ${run.exitAfterDoneMs} ms after finishing`)
    }),
  )
}
