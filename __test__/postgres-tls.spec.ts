// PostgresStore and PgVector over TLS, against a throwaway server that refuses plain TCP (skipped,
// logged, without PostgreSQL): the connection string's sslmode/sslrootcert and Mastra's
// (node-postgres') `ssl` option, trusted and untrusted certificates.
import test from 'ava'
import { readFileSync } from 'node:fs'
import { Memory, PgVector, PostgresStore } from '../index.js'
import { postgresTests } from './helpers/postgres.js'

const pgTest = postgresTests({ tls: true })
const localhost = (url: string) => url.replace('127.0.0.1', 'localhost')

async function roundTrip(storage: PostgresStore, threadId: string) {
  const memory = new Memory({ storage })
  await memory.createThread({ resourceId: 'r', threadId })
  return (await memory.getThreadById({ threadId }))?.id
}

pgTest('PostgresStore: sslmode=verify-full with sslrootcert, and ssl: { ca }, connect over TLS', async (t, url, pg) => {
  const viaUrl = new PostgresStore({ id: 's1', connectionString: `${localhost(url)}?sslmode=verify-full&sslrootcert=${pg.caFile}` })
  t.is(await roundTrip(viaUrl, 't1'), 't1')
  const viaOption = new PostgresStore({ id: 's2', connectionString: localhost(url), ssl: { ca: readFileSync(pg.caFile!) } })
  t.is(await roundTrip(viaOption, 't2'), 't2')
  // Encrypted without checking the certificate: the default (prefer) and rejectUnauthorized: false.
  t.is(await roundTrip(new PostgresStore({ id: 's3', connectionString: url }), 't3'), 't3')
  t.is(await roundTrip(new PostgresStore({ id: 's4', connectionString: url, ssl: { rejectUnauthorized: false } }), 't4'), 't4')
})

pgTest('PostgresStore: an untrusted certificate, or no TLS where the server demands it, fail with coded errors that say what to do', async (t, url) => {
  // ssl: true checks against the bundled public roots, which do not know the test CA.
  const untrusted = await t.throwsAsync(roundTrip(new PostgresStore({ id: 's', connectionString: localhost(url), ssl: true }), 'x'))
  t.is((untrusted as any).code, 'STORE_IO')
  t.regex(untrusted!.message, /not trusted.*sslrootcert/)
  const plain = await t.throwsAsync(roundTrip(new PostgresStore({ id: 's', connectionString: url, ssl: false }), 'x'))
  t.regex(plain!.message, /no encryption/)
  const badMode = await t.throwsAsync(roundTrip(new PostgresStore({ id: 's', connectionString: `${url}?sslmode=sometimes` }), 'x'))
  t.is((badMode as any).code, 'STORE_INVALID_INPUT')
  t.throws(() => new PostgresStore({ id: 's', connectionString: url, ssl: { cert: 'x', key: 'y' } }), { code: 'NOT_SUPPORTED', message: /client certificates/ })
})

pgTest('PgVector over TLS: ssl: { ca } — index, upsert, query', async (t, url, pg) => {
  const v = new PgVector({ id: 'v', connectionString: localhost(url), ssl: { ca: readFileSync(pg.caFile!, 'utf8') } })
  await v.createIndex({ indexName: 'docs', dimension: 3 })
  await v.upsert({ indexName: 'docs', vectors: [[1, 0, 0], [0, 1, 0]], ids: ['a', 'b'] })
  const hits = await v.query({ indexName: 'docs', queryVector: [1, 0, 0], topK: 1 })
  t.is(hits[0]?.id, 'a')
  await v.disconnect()
})
