// Child process for embedding-bridge.spec.ts: an agent whose Memory embeds through a hand-written
// AI SDK embedding model (bridged to the native embedder) runs twice against the parent's mock
// (MOCK_URL), prints "DONE <json>" and then does nothing. The parent checks that it exits.
import { Agent, LibSQLStore, LibSQLVector, Memory } from '@lumosai/core'

const words = (text) => text.toLowerCase().match(/[a-z]+/g) ?? []
let calls = 0
const embedder = {
  specificationVersion: 'v2',
  provider: 'hand',
  modelId: 'bow',
  maxEmbeddingsPerCall: 8,
  supportsParallelCalls: true,
  async doEmbed({ values }) {
    calls++
    const embeddings = values.map((text) => {
      const v = new Array(256).fill(0)
      for (const w of words(text)) v[[...w].reduce((h, c) => (h * 31 + c.charCodeAt(0)) % 256, 7)] += 1
      const n = Math.hypot(...v) || 1
      return v.map((x) => x / n)
    })
    return { embeddings }
  },
}
const memory = new Memory({
  storage: new LibSQLStore({ id: 's', url: ':memory:' }),
  vector: new LibSQLVector({ id: 'v', url: ':memory:' }),
  embedder,
  options: { lastMessages: 1, semanticRecall: { topK: 1, messageRange: 0 } },
})
const agent = new Agent({ id: 'x', name: 'x', instructions: 'sys', model: { id: 'openai/gpt-4o-mini', url: process.env.MOCK_URL, apiKey: 'k' }, memory })
await agent.generate('my sister lives in Porto', { memory: { thread: 't1', resource: 'u' } })
await agent.generate('where does my sister live?', { memory: { thread: 't2', resource: 'u' } })
const { messages } = await memory.recall({ threadId: 't2', resourceId: 'u', vectorSearchString: 'sister Porto' })
process.stdout.write(`DONE ${JSON.stringify({ recalled: messages.map((m) => m.content.parts[0].text), calls: calls > 0 })}\n`)
