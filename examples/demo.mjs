// The demo agent: a weather assistant with one tool. Uses a real provider when an API key is set
// (OPENAI_API_KEY, else ANTHROPIC_API_KEY), otherwise a local scripted OpenAI-compatible server.
import { z } from 'zod'
import { Agent, createTool } from '../index.js'
import { startLocalModelServer } from './local-model-server.mjs'

let local
let model
if (process.env.OPENAI_API_KEY) {
  model = process.env.LUMOS_DEMO_MODEL ?? 'openai/gpt-4o-mini'
  console.log(`Using the real provider: ${model} (OPENAI_API_KEY is set).`)
} else if (process.env.ANTHROPIC_API_KEY) {
  model = process.env.LUMOS_DEMO_MODEL ?? 'anthropic/claude-haiku-4-5'
  console.log(`Using the real provider: ${model} (ANTHROPIC_API_KEY is set).`)
} else {
  local = await startLocalModelServer()
  model = { id: 'openai/demo-model', url: local.url, apiKey: 'local' }
  console.log(`No OPENAI_API_KEY or ANTHROPIC_API_KEY set: using a local scripted OpenAI-compatible server at ${local.url}.`)
}

const weather = createTool({
  id: 'get-weather',
  description: 'Current weather for a city',
  inputSchema: z.object({ city: z.string().describe('City name') }),
  outputSchema: z.object({ city: z.string(), tempC: z.number(), conditions: z.string() }),
  execute: async ({ city }) => ({ city, tempC: 18, conditions: 'partly cloudy' }),
})

const agent = new Agent({
  id: 'weather-agent',
  name: 'Weather Agent',
  instructions: 'You are a concise weather assistant. Use the get-weather tool for weather questions.',
  model,
  tools: { weather },
})

const result = await agent.generate('What is the weather in Paris?')
console.log('\ngenerate():', result.text)
console.log(`  steps: ${result.steps.length}, tool calls: ${result.toolCalls.map((c) => c.payload.toolName).join(', ') || 'none'}, usage: ${JSON.stringify(result.usage)}`)

process.stdout.write('\nstream():   ')
const stream = await agent.stream('And in Berlin?')
for await (const delta of stream.textStream) process.stdout.write(delta)
console.log(`\n  finishReason: ${await stream.finishReason}, usage: ${JSON.stringify(await stream.usage)}`)

await local?.close()
