// Connect and read timeouts: a provider that never answers fails the run with PROVIDER_TIMEOUT
// instead of hanging; an unreachable one fails with PROVIDER_CONNECTION_FAILED after retries.
import test from 'ava'
import net from 'node:net'
import { Agent, ProviderError } from '../index.js'
import { startMockProvider } from './helpers/mock-provider.js'

test('a hanging provider fails the run with PROVIDER_TIMEOUT after readTimeoutMs', async (t) => {
  const mock = await startMockProvider()
  t.teardown(() => mock.close())
  mock.enqueue({ hang: true })
  const agent = new Agent({ id: 'a', name: 'a', instructions: 'x', model: { id: 'openai/gpt-4o-mini', url: mock.url, apiKey: 'k', readTimeoutMs: 300 } })
  const started = Date.now()
  const err = await t.throwsAsync(agent.generate('hi'), { instanceOf: ProviderError })
  t.is(err?.code, 'PROVIDER_TIMEOUT')
  t.true(Date.now() - started < 5000)
})

test('an unreachable provider fails with PROVIDER_CONNECTION_FAILED (retried first)', async (t) => {
  // A port that was free a moment ago: connection refused.
  const port = await new Promise<number>((resolve) => {
    const s = net.createServer().listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port
      s.close(() => resolve(p))
    })
  })
  const agent = new Agent({ id: 'a', name: 'a', instructions: 'x', maxRetries: 1, model: { id: 'openai/gpt-4o-mini', url: `http://127.0.0.1:${port}/v1`, apiKey: 'k' } })
  const err = await t.throwsAsync(agent.generate('hi'), { instanceOf: ProviderError })
  t.is(err?.code, 'PROVIDER_CONNECTION_FAILED')
  t.regex(err?.message ?? '', /127\.0\.0\.1/)
})
