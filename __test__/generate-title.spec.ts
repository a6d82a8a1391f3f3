// Mastra's `generateTitle`: after the first successful exchange of a thread without a title, the
// model (the agent's, or generateTitle.model) is asked for a short title from the transcript and
// the thread is renamed, in the background; later runs leave a titled thread alone, and a failing
// title call never fails the run.
import test from 'ava'
import { Agent, LibSQLStore, Memory } from '../index.js'
import { sleep } from './helpers/agent-utils.js'
import { type RecordedRequest, startMockProvider } from './helpers/mock-provider.js'

const isTitleCall = (r: RecordedRequest) => /title/i.test(String(r.body?.messages?.[0]?.content ?? ''))

/** Chat mock answering title calls with `title` (or an error turn) and everything else with `reply`. */
async function chatMock(title: string | { status: number }, reply = 'Hello Ada') {
  return startMockProvider({ fallback: (req) => (isTitleCall(req) ? (typeof title === 'string' ? { text: title } : title) : { text: reply }) })
}

async function waitForTitle(memory: Memory, threadId: string, ms = 5000): Promise<string | undefined> {
  const until = Date.now() + ms
  for (;;) {
    const t = await memory.getThreadById({ threadId })
    if (t?.title || Date.now() > until) return t?.title
    await sleep(20)
  }
}

const model = (url: string) => ({ id: 'openai/gpt-4o-mini', url, apiKey: 'k' })
const on = (thread: string, extra: object = {}) => ({ memory: { thread, resource: 'user-1', ...extra } })

test('generateTitle: true titles a new thread after its first exchange, with the agent model and Mastra prompt; not again later', async (t) => {
  const chat = await chatMock('<think>short one</think> Ada introduces herself ')
  t.teardown(() => chat.close())
  const memory = new Memory({ storage: new LibSQLStore({ id: 's', url: ':memory:' }), options: { generateTitle: true } })
  const agent = new Agent({ id: 'a', name: 'a', instructions: 'sys', model: model(chat.url), memory })
  const titles: string[] = []
  const r = await agent.generate('hi, I am Ada', on('t1', { onTitleGenerated: (title: string) => titles.push(title) }))
  t.is(r.text, 'Hello Ada')
  t.is(await waitForTitle(memory, 't1'), 'Ada introduces herself')
  const calls = chat.requests.filter(isTitleCall)
  t.is(calls.length, 1)
  const [system, user] = calls[0]!.body.messages
  t.regex(system.content, /you will generate a short title based on a conversation transcript/)
  t.is(user.content, 'User: hi, I am Ada\nAssistant: Hello Ada')
  t.deepEqual(titles, ['Ada introduces herself'])
  // A titled thread is not titled again.
  await agent.generate('what is my name?', on('t1'))
  await sleep(300)
  t.is(chat.requests.filter(isTitleCall).length, 1)
  t.is((await memory.getThreadById({ threadId: 't1' }))?.title, 'Ada introduces herself')
  // Nor is a thread created with a title, or given one in the call (Mastra's `thread: { id, title }`).
  await memory.createThread({ resourceId: 'user-1', threadId: 't2', title: 'Given' })
  await agent.generate('hello again', on('t2'))
  await agent.generate('hello again', { memory: { thread: { id: 't4', title: 'From the call', metadata: { k: 1 } }, resource: 'user-1' } })
  await sleep(300)
  t.is(chat.requests.filter(isTitleCall).length, 1)
  t.is((await memory.getThreadById({ threadId: 't2' }))?.title, 'Given')
  const t4 = await memory.getThreadById({ threadId: 't4' })
  t.is(t4?.title, 'From the call')
  t.deepEqual(t4?.metadata, { k: 1 })
})

test('generateTitle: { model, instructions } uses that model and those instructions (stream too)', async (t) => {
  const chat = await chatMock('wrong model')
  const titleModel = await startMockProvider({ fallback: { text: 'Titre: Ada' } })
  t.teardown(() => Promise.all([chat.close(), titleModel.close()]))
  const memory = new Memory({
    storage: new LibSQLStore({ id: 's', url: ':memory:' }),
    options: { generateTitle: { model: model(titleModel.url), instructions: 'Write a title in French.' } },
  })
  const agent = new Agent({ id: 'a', name: 'a', instructions: 'sys', model: model(chat.url), memory })
  const s = await agent.stream('hi, I am Ada', on('t1'))
  t.is(await s.text, 'Hello Ada')
  t.is(await waitForTitle(memory, 't1'), 'Titre: Ada')
  t.is(chat.requests.filter(isTitleCall).length, 0)
  t.is(titleModel.requests.length, 1)
  t.is(titleModel.requests[0]!.body.messages[0].content, 'Write a title in French.')
  // Per-call memory options override the Memory's: off for this run.
  await agent.generate('hi', on('t3', { options: { generateTitle: false } }))
  await sleep(300)
  t.is(titleModel.requests.length, 1)
  t.is((await memory.getThreadById({ threadId: 't3' }))?.title, undefined)
})

test('a failing title call does not fail the run; the thread keeps no title and the next run tries again', async (t) => {
  const chat = await chatMock({ status: 400 })
  t.teardown(() => chat.close())
  const memory = new Memory({ storage: new LibSQLStore({ id: 's', url: ':memory:' }), options: { generateTitle: true } })
  const agent = new Agent({ id: 'a', name: 'a', instructions: 'sys', model: model(chat.url), memory })
  const r = await agent.generate('hi, I am Ada', on('t1'))
  t.is(r.text, 'Hello Ada')
  for (let i = 0; i < 100 && chat.requests.filter(isTitleCall).length < 1; i++) await sleep(20)
  await sleep(100)
  t.is(chat.requests.filter(isTitleCall).length, 1)
  t.falsy((await memory.getThreadById({ threadId: 't1' }))?.title)
  const again = await agent.generate('still there?', on('t1'))
  t.is(again.text, 'Hello Ada')
  for (let i = 0; i < 100 && chat.requests.filter(isTitleCall).length < 2; i++) await sleep(20)
  t.is(chat.requests.filter(isTitleCall).length, 2)
})

test('readOnly memory and runs without generateTitle make no title call', async (t) => {
  const chat = await chatMock('A title')
  t.teardown(() => chat.close())
  const storage = new LibSQLStore({ id: 's', url: ':memory:' })
  const titled = new Agent({ id: 'a', name: 'a', instructions: 'sys', model: model(chat.url), memory: new Memory({ storage, options: { generateTitle: true } }) })
  const plain = new Agent({ id: 'b', name: 'b', instructions: 'sys', model: model(chat.url), memory: new Memory({ storage }) })
  await titled.generate('hi', on('ro', { readOnly: true }))
  await plain.generate('hi', on('plain'))
  await sleep(300)
  t.is(chat.requests.filter(isTitleCall).length, 0)
})

test('generateTitle.emitEvent: stream() waits for the title and carries it as a data-thread-title chunk before finish', async (t) => {
  const chat = await chatMock('Ada says hi')
  t.teardown(() => chat.close())
  const memory = new Memory({ storage: new LibSQLStore({ id: 's', url: ':memory:' }), options: { generateTitle: { emitEvent: true } } })
  const agent = new Agent({ id: 'a', name: 'a', instructions: 'sys', model: model(chat.url), memory })
  const titles: string[] = []
  const s = await agent.stream('hi, I am Ada', on('t1', { onTitleGenerated: (title: string) => titles.push(title) }))
  const chunks: any[] = []
  for await (const c of s.fullStream) chunks.push(c)
  const types = chunks.map((c) => c.type)
  t.deepEqual(types.slice(-2), ['data-thread-title', 'finish'])
  t.deepEqual(chunks.at(-2), { type: 'data-thread-title', data: { threadId: 't1', title: 'Ada says hi' }, transient: true })
  // Stored before the chunk was emitted: no waiting needed.
  t.is((await memory.getThreadById({ threadId: 't1' }))?.title, 'Ada says hi')
  t.is(await s.text, 'Hello Ada')
  for (let i = 0; i < 50 && !titles.length; i++) await sleep(10)
  t.deepEqual(titles, ['Ada says hi'])
  // A titled thread gets no second title, so no chunk either; generate() never emits one.
  const again = await agent.stream('more', on('t1'))
  const later: string[] = []
  for await (const c of again.fullStream) later.push(c.type)
  t.false(later.includes('data-thread-title'))
  t.is(chat.requests.filter(isTitleCall).length, 1)
})

test('generateTitle.emitEvent: a failing title call ends the stream without a title chunk', async (t) => {
  const chat = await chatMock({ status: 400 })
  t.teardown(() => chat.close())
  const memory = new Memory({ storage: new LibSQLStore({ id: 's', url: ':memory:' }), options: { generateTitle: { emitEvent: true } } })
  const agent = new Agent({ id: 'a', name: 'a', instructions: 'sys', model: model(chat.url), memory })
  const s = await agent.stream('hi', on('t1'))
  const types: string[] = []
  for await (const c of s.fullStream) types.push(c.type)
  t.is(types.at(-1), 'finish')
  t.false(types.includes('data-thread-title'))
  t.is(await s.text, 'Hello Ada')
  t.falsy((await memory.getThreadById({ threadId: 't1' }))?.title)
})
