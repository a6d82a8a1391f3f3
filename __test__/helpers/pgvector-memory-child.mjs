// Another app process for the PgVector memory spec: one agent turn on a thread, with memory on
// PostgresStore + PgVector (its messages are embedded and indexed), then "done".
import { Agent, Memory, PgVector, PostgresStore } from '../../index.js'

const [connectionString, chatUrl, embeddingsUrl] = process.argv.slice(2)
const memory = new Memory({
  storage: new PostgresStore({ id: 's', connectionString }),
  vector: new PgVector({ id: 'v', connectionString }),
  embedder: { id: 'openai/text-embedding-3-small', url: embeddingsUrl, apiKey: 'k' },
  options: { lastMessages: 2, semanticRecall: { topK: 1, messageRange: 0 } },
})
const agent = new Agent({ id: 'r', name: 'r', instructions: 'sys', model: { id: 'openai/gpt-4o-mini', url: chatUrl, apiKey: 'k' }, memory })
await agent.generate('my sister lives in Porto', { memory: { thread: 'from-child', resource: 'user-1' } })
console.log('done')
