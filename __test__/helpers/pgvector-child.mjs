// Second process for the PgVector spec: one write into a shared index, then "done" (the write is
// committed when it prints). It exits without disconnect(): the background sync must not keep
// the process alive.
import { PgVector } from '../../index.js'

const [connectionString, action] = process.argv.slice(2)
const v = new PgVector({ id: 'child', connectionString })
if (action === 'upsert') await v.upsert({ indexName: 'shared', vectors: [[0, 1]], ids: ['from-child'], metadata: [{ by: 'child' }] })
else if (action === 'delete') await v.deleteVector({ indexName: 'shared', id: 'from-child' })
else if (action === 'deleteIndex') await v.deleteIndex({ indexName: 'shared' })
else throw new Error(`unknown action ${action}`)
console.log('done')
