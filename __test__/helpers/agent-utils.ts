// Shared helpers for the agent specs (model configs pointed at the mock, stream collection,
// request-body readers). Everything talks to 127.0.0.1 only.
import { startMockProvider, type MockProvider, type MockProviderOptions } from './mock-provider.js'

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** OpenAI-compatible model config pointed at the mock. */
export const openaiModel = (mock: MockProvider, id = 'openai/gpt-4o-mini') => ({ id, url: mock.url, apiKey: 'test-key' })
/** Anthropic model config pointed at the mock. */
export const anthropicModel = (mock: MockProvider, id = 'anthropic/claude-sonnet-4-5') => ({ id, url: mock.url, apiKey: 'k' })

export interface ProviderCase {
  name: 'openai' | 'anthropic'
  model: (mock: MockProvider) => { id: string; url: string; apiKey: string }
  /** model name expected in the request body */
  wireModel: string
}
export const PROVIDERS: ProviderCase[] = [
  { name: 'openai', model: (m) => openaiModel(m), wireModel: 'gpt-4o-mini' },
  { name: 'anthropic', model: (m) => anthropicModel(m), wireModel: 'claude-sonnet-4-5' },
]

/** Run `fn` with a fresh mock server that is always closed afterwards. */
export const withMock =
  <T>(fn: (t: T, mock: MockProvider) => Promise<void>, options?: MockProviderOptions) =>
  async (t: T) => {
    const mock = await startMockProvider(options)
    try {
      await fn(t, mock)
    } finally {
      await mock.close()
    }
  }

/** Read a ReadableStream / async iterable to the end. */
export async function collect<T>(stream: AsyncIterable<T> | ReadableStream<T>): Promise<T[]> {
  const out: T[] = []
  for await (const x of stream as AsyncIterable<T>) out.push(x)
  return out
}

const partsText = (content: any): string =>
  typeof content === 'string'
    ? content
    : Array.isArray(content)
      ? content
          .filter((p: any) => p?.type === 'text')
          .map((p: any) => p.text)
          .join('')
      : ''

/** Non-system messages of a request body as `{ role, text }` (text parts joined). */
export function chatTurns(body: any): { role: string; text: string }[] {
  return (body?.messages ?? [])
    .filter((m: any) => m.role !== 'system' && m.role !== 'developer')
    .map((m: any) => ({ role: m.role, text: partsText(m.content) }))
}

/** The system prompts of a request body, one entry per system message / Anthropic system block. */
export function systemPrompts(body: any): string[] {
  if (typeof body?.system === 'string') return [body.system]
  if (Array.isArray(body?.system)) return body.system.map((b: any) => b.text)
  return (body?.messages ?? []).filter((m: any) => m.role === 'system' || m.role === 'developer').map((m: any) => partsText(m.content))
}

/** Tool names offered in a request body (OpenAI `tools[].function.name`, Anthropic `tools[].name`). */
export function toolNames(body: any): string[] {
  return (body?.tools ?? []).map((t: any) => t.function?.name ?? t.name).sort()
}

/** Tool definition (name, description, JSON-schema parameters) offered in a request body. */
export function toolDef(body: any, name: string): { name: string; description?: string; parameters: any } | undefined {
  for (const t of body?.tools ?? []) {
    if (t.function?.name === name) return { name, description: t.function.description, parameters: t.function.parameters }
    if (t.name === name) return { name, description: t.description, parameters: t.input_schema }
  }
  return undefined
}

/** Tool calls the assistant made, as replayed in a follow-up request (both wire formats). */
export function assistantToolCalls(body: any): { id: string; name: string; args: any }[] {
  const out: { id: string; name: string; args: any }[] = []
  for (const m of body?.messages ?? []) {
    if (m.role !== 'assistant') continue
    for (const tc of m.tool_calls ?? []) {
      let args: any = tc.function.arguments
      try {
        args = JSON.parse(args)
      } catch {
        // keep the string
      }
      out.push({ id: tc.id, name: tc.function.name, args })
    }
    if (Array.isArray(m.content)) {
      for (const p of m.content) if (p.type === 'tool_use') out.push({ id: p.id, name: p.name, args: p.input })
    }
  }
  return out
}

/** Parse a tool-result content string as JSON when possible. */
export function parseMaybe(s: string): any {
  try {
    return JSON.parse(s)
  } catch {
    return s
  }
}

/** Types of a list of chunks, without the optional AI-SDK-style chunks that the contract does
 *  not order (response metadata, raw, tool-input streaming). */
export const OPTIONAL_CHUNKS = new Set([
  'response-metadata',
  'raw',
  'tool-call-input-streaming-start',
  'tool-call-delta',
  'tool-call-input-streaming-end',
])
export const coreTypes = (chunks: { type: string }[]) => chunks.map((c) => c.type).filter((t) => !OPTIONAL_CHUNKS.has(t))

/** Collapse runs of the same chunk type: ['a','b','b','c'] → ['a','b','c'] (for order checks). */
export function collapse(types: string[]): string[] {
  return types.filter((t, i) => i === 0 || types[i - 1] !== t)
}

/** A `requests` filter on the model endpoints only. */
export const modelRequests = (mock: MockProvider) => mock.requests.filter((r) => r.api !== 'unknown')
