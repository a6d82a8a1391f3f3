// Child process for process-exit.spec.ts: imports the package by name, runs one scenario against
// the mock server started by the parent (MOCK_URL), prints "DONE <json>" and then does nothing.
// The parent checks that the process exits by itself.
import { Agent, createStep, createTool, createWorkflow } from '@lumosai/core'
import { z } from 'zod'

const mode = process.argv[2] ?? 'generate'
const url = process.env.MOCK_URL

const add = createTool({
  id: 'add',
  description: 'Add two numbers',
  inputSchema: z.object({ a: z.number(), b: z.number() }),
  execute: async ({ a, b }) => ({ sum: a + b }),
})
const agent = new Agent({
  id: 'exit-agent',
  name: 'exit',
  instructions: 'Use the tool.',
  model: { id: 'openai/gpt-4o-mini', url, apiKey: 'k' },
  tools: { add },
})

const done = (info) => process.stdout.write(`DONE ${JSON.stringify(info)}\n`)

if (mode === 'idle') {
  done({ mode })
} else if (mode === 'generate') {
  const r = await agent.generate('add 1 and 2')
  done({ mode, text: r.text, results: r.toolResults.map((x) => x.payload.result) })
} else if (mode === 'stream') {
  const s = await agent.stream('add 1 and 2')
  let text = ''
  for await (const piece of s.textStream) text += piece
  done({ mode, text, usage: await s.usage })
} else if (mode === 'error') {
  try {
    await agent.generate('fail please', { modelSettings: { maxRetries: 0 } })
    done({ mode, unexpected: 'resolved' })
  } catch (e) {
    done({ mode, code: e.code })
  }
} else if (mode === 'abort') {
  const controller = new AbortController()
  setTimeout(() => controller.abort(), 200)
  try {
    await agent.generate('hang', { abortSignal: controller.signal })
    done({ mode, unexpected: 'resolved' })
  } catch (e) {
    done({ mode, code: e.code })
  }
} else if (mode === 'workflow') {
  // The run waits 300 ms on tokio (the sleep) with nothing else pending in JS: awaiting it must
  // keep the process alive, and once it has ended nothing may.
  const n = z.object({ n: z.number() })
  const inc = createStep({ id: 'inc', inputSchema: n, outputSchema: n, execute: async ({ inputData }) => ({ n: inputData.n + 1 }) })
  const wf = createWorkflow({ id: 'exit-wf', inputSchema: n, outputSchema: n }).then(inc).sleep(300).then(createStep({ ...inc, id: 'inc2' })).commit()
  const r = await (await wf.createRun()).start({ inputData: { n: 1 } })
  done({ mode, status: r.status, result: r.result })
}
