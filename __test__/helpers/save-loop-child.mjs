// Child for the kill -9 durability spec: saves messages one batch at a time and prints each
// acknowledged id; the parent kills it with SIGKILL mid-loop.
import { LibSQLStore, Memory } from '../../index.js'

const [url] = process.argv.slice(2)
const memory = new Memory({ storage: new LibSQLStore({ id: 's', url }) })
await memory.createThread({ resourceId: 'r', threadId: 't' }).catch(() => {})
for (let i = 0; ; i++) {
  const batch = Array.from({ length: 5 }, (_, j) => ({ id: `m-${i}-${j}`, threadId: 't', resourceId: 'r', role: 'user', content: `message ${i}.${j}` }))
  await memory.saveMessages({ messages: batch })
  process.stdout.write(batch.map((m) => m.id).join('\n') + '\n')
}
