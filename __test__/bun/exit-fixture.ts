// Child process for smoke.test.ts: one tool-using run, one stream and one workflow run, then nothing — no
// process.exit(). Bun must exit on its own once the mock server is closed.
import { z } from 'zod'

import { Agent, createStep, createTool, createWorkflow } from '../../index.js'
import { startMockProvider } from '../helpers/mock-provider.ts'

const mock = await startMockProvider()
try {
  const echo = createTool({
    id: 'echo',
    description: 'Echo the input',
    inputSchema: z.object({ value: z.string() }),
    execute: async ({ value }: { value: string }) => ({ value }),
  })
  mock.enqueue({ toolCalls: [{ name: 'echo', args: { value: 'x' } }] }, { text: 'done' }, { text: 'streamed text' })
  const agent = new Agent({
    id: 'exit',
    name: 'exit',
    instructions: 'x',
    model: { id: 'openai/gpt-4o-mini', url: mock.url, apiKey: 'k' },
    tools: { echo },
  })
  const result = await agent.generate('hi', { maxSteps: 3 })
  if (result.text !== 'done') throw new Error(`unexpected text: ${result.text}`)
  const stream = await agent.stream('again')
  let streamed = ''
  for await (const chunk of stream.textStream) streamed += chunk
  if (streamed !== 'streamed text') throw new Error(`unexpected stream: ${streamed}`)
  const n = z.object({ n: z.number() })
  const wf = createWorkflow({ id: 'exit-wf', inputSchema: n, outputSchema: n })
    .then(createStep({ id: 'inc', inputSchema: n, outputSchema: n, execute: async ({ inputData }: any) => ({ n: inputData.n + 1 }) }))
    .commit()
  const ran = await (await wf.createRun()).start({ inputData: { n: 1 } })
  if (ran.status !== 'success' || ran.result?.n !== 2) throw new Error(`unexpected workflow result: ${JSON.stringify(ran)}`)
  console.log('exit-fixture ok')
} finally {
  await mock.close()
}
