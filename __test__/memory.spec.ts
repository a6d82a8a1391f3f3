// Memory's thread, message and working-memory API on the native SQLite store (LibSQLStore).
// PostgreSQL semantics are covered by the store crate's suite (cargo test -p lumos-store).
import test from 'ava'
import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LibSQLStore, Memory, PostgresStore } from '../index.js'

const fileUrl = () => `file:${join(mkdtempSync(join(tmpdir(), 'lumos-mem-')), 'lumos.db')}`
const memory = (url = ':memory:', options = {}) => new Memory({ storage: new LibSQLStore({ id: 's', url }), options })
const msg = (threadId: string, text: string, role = 'user', createdAt?: Date) => ({ threadId, resourceId: 'r1', role, createdAt, content: { format: 2 as const, parts: [{ type: 'text', text }] } })

test('threads: create, get (unknown → null), list by resource newest first, update merges metadata, delete', async (t) => {
  const m = memory()
  const a = await m.createThread({ resourceId: 'r1', threadId: 'a', title: 'A' })
  t.is(a.id, 'a')
  t.true(a.createdAt instanceof Date)
  t.false('metadata' in a)
  await new Promise((r) => setTimeout(r, 5))
  await m.createThread({ resourceId: 'r1', threadId: 'b', metadata: { x: 1 } })
  await m.createThread({ resourceId: 'r2', threadId: 'c' })
  t.is(await m.getThreadById({ threadId: 'nope' }), null)
  const list = await m.listThreads({ filter: { resourceId: 'r1' } })
  t.deepEqual(list.threads.map((x) => x.id), ['b', 'a'])
  t.is(list.total, 2)
  t.false(list.hasMore)
  const updated = await m.updateThread({ id: 'b', title: 'B', metadata: { y: 2 } })
  t.deepEqual(updated.metadata, { x: 1, y: 2 })
  await m.deleteThread('b')
  t.is(await m.getThreadById({ threadId: 'b' }), null)
})

test('messages: saveMessages then recall returns the last lastMessages oldest-first, pages from the newest', async (t) => {
  const m = memory(':memory:', { lastMessages: 3 })
  await m.createThread({ resourceId: 'r1', threadId: 't' })
  const base = Date.now()
  const saved = await m.saveMessages({ messages: Array.from({ length: 7 }, (_, i) => msg('t', `m${i}`, i % 2 ? 'assistant' : 'user', new Date(base + i))) })
  t.is(saved.messages.length, 7)
  const recent = await m.recall({ threadId: 't' })
  t.deepEqual(recent.messages.map((x) => x.content.parts[0].text), ['m4', 'm5', 'm6'])
  t.is(recent.total, 7)
  t.true(recent.hasMore)
  const older = await m.recall({ threadId: 't', page: 1 })
  t.deepEqual(older.messages.map((x) => x.content.parts[0].text), ['m1', 'm2', 'm3'])
  const all = await m.recall({ threadId: 't', perPage: false })
  t.is(all.messages.length, 7)
  await m.deleteMessages([saved.messages[0].id])
  t.is((await m.recall({ threadId: 't', perPage: false })).messages.length, 6)
})

test('saving to an unknown thread fails with STORE_NOT_FOUND and writes nothing; bad input is rejected', async (t) => {
  const m = memory()
  await m.createThread({ resourceId: 'r1', threadId: 't' })
  const err = await t.throwsAsync(m.saveMessages({ messages: [msg('t', 'ok'), msg('missing', 'x')] }))
  t.is((err as any).code, 'STORE_NOT_FOUND')
  t.is((await m.recall({ threadId: 't' })).messages.length, 0)
  await t.throwsAsync(m.saveMessages({ messages: [{ role: 'user', content: 'no thread' }] }), { message: /threadId/ })
})

test('cloneThread copies messages under new ids', async (t) => {
  const m = memory()
  await m.createThread({ resourceId: 'r1', threadId: 'src' })
  await m.saveMessages({ messages: [msg('src', 'one'), msg('src', 'two')] })
  const { thread, clonedMessages } = await m.cloneThread({ sourceThreadId: 'src', newThreadId: 'copy' })
  t.is(thread.id, 'copy')
  t.is(clonedMessages.length, 2)
  const copied = await m.recall({ threadId: 'copy' })
  t.deepEqual(copied.messages.map((x) => x.content.parts[0].text), ['one', 'two'])
})

test('working memory is resource-scoped by default and thread-scoped on request', async (t) => {
  const m = memory()
  await m.createThread({ resourceId: 'r1', threadId: 't1' })
  await m.createThread({ resourceId: 'r1', threadId: 't2' })
  t.is(await m.getWorkingMemory({ threadId: 't1' }), null)
  await m.updateWorkingMemory({ threadId: 't1', workingMemory: '# User\n- name: Ada' })
  t.is(await m.getWorkingMemory({ threadId: 't2' }), '# User\n- name: Ada')
  const scoped = memory(':memory:', { workingMemory: { enabled: true, scope: 'thread' } })
  await scoped.createThread({ resourceId: 'r1', threadId: 'x' })
  await scoped.createThread({ resourceId: 'r1', threadId: 'y' })
  await scoped.updateWorkingMemory({ threadId: 'x', workingMemory: 'only x' })
  t.is(await scoped.getWorkingMemory({ threadId: 'x' }), 'only x')
  t.is(await scoped.getWorkingMemory({ threadId: 'y' }), null)
})

test('a file: store survives a new instance (restart)', async (t) => {
  const url = fileUrl()
  const a = memory(url)
  await a.createThread({ resourceId: 'r1', threadId: 'p' })
  await a.saveMessages({ messages: [msg('p', 'persisted')] })
  const b = memory(url)
  t.deepEqual((await b.recall({ threadId: 'p' })).messages.map((x) => x.content.parts[0].text), ['persisted'])
})

test('unsupported URLs and options fail clearly', (t) => {
  t.throws(() => new LibSQLStore({ id: 's', url: 'libsql://db.example' }), { message: /remote libsql/ })
  t.throws(() => new PostgresStore({ id: 'p', connectionString: 'mysql://x' }), { message: /postgres:\/\// })
  const err = t.throws(() => new Memory({ options: { semanticRecall: true } }))
  t.regex(err?.message ?? '', /needs `vector`/)
})

test('messages saved with equal timestamps come back in the order they were saved', async (t) => {
  const m = memory()
  await m.createThread({ resourceId: 'r1', threadId: 'same' })
  const at = new Date(1_700_000_000_000)
  await m.saveMessages({ messages: ['first', 'second', 'third'].map((x) => msg('same', x, 'user', at)) })
  t.deepEqual((await m.recall({ threadId: 'same' })).messages.map((x) => x.content.parts[0].text), ['first', 'second', 'third'])
})
