// Semantic recall through an agent: messages are embedded (natively, via the embeddings endpoint
// of a local server) as they are saved, and an earlier message similar to the new question comes
// back into the prompt even when it is outside lastMessages.
import test from 'ava'
import { Agent, LibSQLStore, LibSQLVector, Memory } from '../index.js'
import { startMockProvider } from './helpers/mock-provider.js'

test('an old, relevant message is recalled into the prompt; recall is resource-scoped by default', async (t) => {
  const chat = await startMockProvider({ fallback: { text: 'noted' } })
  const embeddings = await startMockProvider({ fallback: { embeddings: 'auto', dimensions: 128 } })
  t.teardown(() => Promise.all([chat.close(), embeddings.close()]))
  const memory = new Memory({
    storage: new LibSQLStore({ id: 's', url: ':memory:' }),
    vector: new LibSQLVector({ id: 'v', url: ':memory:' }),
    embedder: { id: 'openai/text-embedding-3-small', url: embeddings.url, apiKey: 'k' },
    options: { lastMessages: 2, semanticRecall: { topK: 1, messageRange: 0 } },
  })
  const agent = new Agent({ id: 'r', name: 'r', instructions: 'sys', model: { id: 'openai/gpt-4o-mini', url: chat.url, apiKey: 'k' }, memory })
  const on = (thread: string) => ({ memory: { thread, resource: 'user-1' } })
  await agent.generate('my sister lives in Porto', on('t1'))
  for (const q of ['tell me about rockets', 'how do bees fly', 'what is jazz']) await agent.generate(q, on('t1'))
  // A new thread of the same resource still finds it.
  await agent.generate('where does my sister live?', on('t2'))
  const prompt = chat.requests.at(-1)!.body.messages.map((m: any) => m.content)
  t.deepEqual(prompt, ['sys', 'my sister lives in Porto', 'where does my sister live?'])
  t.true(embeddings.requests.length >= 5, 'messages were embedded through the embeddings endpoint')
  // Every text is embedded once: the repeated "noted" answers are not re-sent.
  const sent = embeddings.requests.flatMap((r: any) => r.body.input)
  t.is(sent.filter((x: string) => x === 'noted').length, 1)
  // The same search through Memory.recall({ vectorSearchString }).
  const { messages } = await memory.recall({ threadId: 't2', resourceId: 'user-1', vectorSearchString: 'sister Porto' })
  t.deepEqual(messages.map((m) => m.content.parts[0].text), ['my sister lives in Porto'])
})

test('Memory.saveMessages with semantic recall embeds the saved messages (batched) so recall finds them', async (t) => {
  const embeddings = await startMockProvider({ fallback: { embeddings: 'auto', dimensions: 128 } })
  t.teardown(() => embeddings.close())
  const memory = new Memory({
    storage: new LibSQLStore({ id: 's', url: ':memory:' }),
    vector: new LibSQLVector({ id: 'v', url: ':memory:' }),
    embedder: { id: 'openai/text-embedding-3-small', url: embeddings.url, apiKey: 'k' },
    options: { lastMessages: 2, semanticRecall: { topK: 1, messageRange: 0 } },
  })
  await memory.createThread({ resourceId: 'user-1', threadId: 't1' })
  const texts = ['my sister lives in Porto', 'tell me about rockets', 'how do bees fly', 'what is jazz']
  await memory.saveMessages({ messages: texts.map((content, i) => ({ threadId: 't1', resourceId: 'user-1', role: i % 2 ? 'assistant' : 'user', content })) })
  t.is(embeddings.requests.length, 1, 'one embeddings request for the whole batch')
  const { messages } = await memory.recall({ threadId: 't1', resourceId: 'user-1', vectorSearchString: 'sister Porto' })
  t.deepEqual(messages.map((m) => m.content.parts[0].text), ['my sister lives in Porto'])
})
