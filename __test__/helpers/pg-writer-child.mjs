// Second process for the shared-PostgreSQL spec: writes into a thread, prints "done".
import { Memory, PostgresStore } from '../../index.js'

const [connectionString] = process.argv.slice(2)
const memory = new Memory({ storage: new PostgresStore({ id: 'pg', connectionString }) })
await memory.saveMessages({ messages: [{ id: 'from-child', threadId: 'shared', resourceId: 'r', role: 'user', content: 'written by another process' }] })
console.log('done')
