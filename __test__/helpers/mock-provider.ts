// Local model servers for the specs: one node:http server on 127.0.0.1 speaking the real wire
// formats of OpenAI Chat Completions (`POST /v1/chat/completions`, JSON and SSE), OpenAI Embeddings
// (`POST /v1/embeddings`) and Anthropic Messages (`POST /v1/messages`, JSON and SSE).
//
// A test scripts *semantic* turns (`mock.enqueue({ text: 'hi' })`, `{ toolCalls: [...] }`,
// `{ status: 429 }`, ...). Each incoming request consumes the next turn (FIFO) and the turn is
// rendered for that request: OpenAI or Anthropic depending on the path, JSON or SSE depending on
// the request's `stream` flag. Rendered bodies have the same fields, framing and fragmenting as the
// recorded bodies in /work/shared/fixtures/providers/ (ids, created, system_fingerprint,
// service_tier, usage details, obfuscation, tool-call argument fragments, ping events, ...).
//
// Fixtures themselves can be replayed with `fixtureSse(name)` / `fixtureJson(name)` /
// `fixtureExchanges(name)`; they are read from the shared folder, never copied into the repo.

import { randomBytes } from 'node:crypto'
import { readFileSync } from 'node:fs'
import http from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

export interface MockUsage {
  input: number
  output: number
  /** cached prompt tokens (OpenAI `prompt_tokens_details.cached_tokens`, Anthropic `cache_read_input_tokens`) */
  cachedInput?: number
  /** OpenAI `completion_tokens_details.reasoning_tokens` */
  reasoning?: number
}

export interface MockToolCall {
  /** provider tool-call id; generated in the provider's format (`call_…` / `toolu_01…`) when absent */
  id?: string
  name: string
  /** an object is JSON-encoded; a string is sent verbatim (may be invalid JSON) */
  args: unknown
}

export interface FaultModifiers {
  /** streaming: send part of the stream then destroy the socket (no [DONE] / message_stop);
   *  non-streaming: announce the full Content-Length, send half of the body, destroy the socket */
  truncate?: boolean
  /** streaming: one `data:` line that is not JSON (the rest of the stream follows);
   *  non-streaming: a complete HTTP 200 whose body is not valid JSON */
  malformedJson?: boolean
  /** wait this long before sending the status line and headers */
  delayMs?: number
  /** wait this long between SSE events (streaming) */
  chunkDelayMs?: number
  /** never answer; the socket stays open until the client gives up or `mock.close()` */
  hang?: boolean
}

export interface TextTurn extends FaultModifiers {
  text: string
  usage?: MockUsage
  /** provider-native finish reason override (OpenAI `finish_reason`, Anthropic `stop_reason`) */
  finishReason?: string
  /** model name in the response (default: the request's `model`) */
  model?: string
}

export interface ToolCallsTurn extends FaultModifiers {
  toolCalls: MockToolCall[]
  text?: string
  usage?: MockUsage
  finishReason?: string
  model?: string
}

export interface ErrorTurn {
  status: number
  headers?: Record<string, string>
  /** object → JSON; string → sent verbatim. Default: the provider's error envelope. */
  body?: unknown
  delayMs?: number
  hang?: boolean
}

export interface RawTurn {
  raw: { status?: number; headers?: Record<string, string>; body: string }
  delayMs?: number
  /** for SSE bodies: wait between events */
  chunkDelayMs?: number
  /** send half of the body then destroy the socket */
  truncate?: boolean
  hang?: boolean
}

export interface EmbeddingsTurn {
  /** explicit vectors (one per input), or 'auto': deterministic bag-of-words vectors (unit norm),
   *  so texts sharing words are similar. Dimension: the request's `dimensions`, else `dimensions`
   *  here, else 1536. `encoding_format: 'base64'` is honoured. */
  embeddings: number[][] | 'auto'
  dimensions?: number
  usage?: { input: number }
  delayMs?: number
  hang?: boolean
}

export interface HangTurn {
  hang: true
}

export type MockTurn = TextTurn | ToolCallsTurn | ErrorTurn | RawTurn | EmbeddingsTurn | HangTurn

export interface RecordedRequest {
  method: string
  path: string
  /** lower-cased header names, as node parses them */
  headers: http.IncomingHttpHeaders
  /** parsed JSON body (the raw string if it was not JSON) */
  body: any
  /** which wire format the path selected */
  api: 'openai-chat' | 'openai-embeddings' | 'anthropic-messages' | 'unknown'
  /** set to true when the client closed the connection before the response was complete */
  aborted: boolean
  /** Date.now() when the request body was complete */
  receivedAt: number
}

/** A turn, or a function computing one from the request (evaluated when the request arrives). */
export type TurnInput = MockTurn | ((req: RecordedRequest) => MockTurn)

export interface MockProvider {
  /** `http://127.0.0.1:PORT/v1` */
  url: string
  /** `http://127.0.0.1:PORT` */
  origin: string
  port: number
  requests: RecordedRequest[]
  enqueue(...turns: TurnInput[]): void
  /** number of scripted turns not yet consumed */
  remaining(): number
  close(): Promise<void>
}

export interface MockProviderOptions {
  /** answered when the queue is empty instead of the HTTP 500 "no scripted response left" */
  fallback?: TurnInput
}

// ---------------------------------------------------------------------------------------------
// Small utilities
// ---------------------------------------------------------------------------------------------

const B62 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789'
const rand = (n: number) => {
  const bytes = randomBytes(n)
  let s = ''
  for (let i = 0; i < n; i++) s += B62[bytes[i] % 62]
  return s
}
const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms))

/** Split text into several pieces the way a tokenizer would (words keep their leading space).
 *  Always several pieces when the text has at least 2 characters. */
export function splitText(text: string): string[] {
  if (text === '') return []
  const words = text.match(/\s*\S+|\s+$/gu) ?? [text]
  if (words.length >= 2) return words
  const chars = Array.from(text)
  if (chars.length < 2) return [text]
  const parts = Math.min(3, chars.length)
  const size = Math.ceil(chars.length / parts)
  const out: string[] = []
  for (let i = 0; i < chars.length; i += size) out.push(chars.slice(i, i + size).join(''))
  return out
}

/** Split a JSON argument string into small fragments (like the recorded streams: `{"ci`, `ty": `, …). */
export function splitArgs(args: string, size = 5): string[] {
  const chars = Array.from(args)
  const out: string[] = []
  for (let i = 0; i < chars.length; i += size) out.push(chars.slice(i, i + size).join(''))
  return out
}

const argsString = (args: unknown) => (typeof args === 'string' ? args : JSON.stringify(args ?? {}))

/** Text of the last user message of an OpenAI or Anthropic request body ('' if none). */
export function lastUserText(body: any): string {
  const msgs: any[] = Array.isArray(body?.messages) ? body.messages : []
  for (let i = msgs.length - 1; i >= 0; i--) {
    const m = msgs[i]
    if (m?.role !== 'user') continue
    if (typeof m.content === 'string') return m.content
    if (Array.isArray(m.content)) {
      const texts = m.content.filter((p: any) => p?.type === 'text').map((p: any) => p.text)
      if (texts.length) return texts.join('')
    }
  }
  return ''
}

/** Tool results sent back to the model in a request body, normalised across both wire formats:
 *  OpenAI `role: 'tool'` messages and Anthropic `tool_result` blocks. `content` is the string sent. */
export function toolResultsIn(body: any): { toolCallId: string; content: string; isError?: boolean }[] {
  const out: { toolCallId: string; content: string; isError?: boolean }[] = []
  for (const m of Array.isArray(body?.messages) ? body.messages : []) {
    if (m?.role === 'tool') {
      const content = typeof m.content === 'string' ? m.content : (m.content ?? []).map((p: any) => p.text ?? '').join('')
      out.push({ toolCallId: m.tool_call_id, content })
    } else if (m?.role === 'user' && Array.isArray(m.content)) {
      for (const p of m.content) {
        if (p?.type !== 'tool_result') continue
        const content =
          typeof p.content === 'string' ? p.content : (p.content ?? []).map((c: any) => c.text ?? '').join('')
        out.push({ toolCallId: p.tool_use_id, content, ...(p.is_error !== undefined ? { isError: p.is_error } : {}) })
      }
    }
  }
  return out
}

/** System prompt of a request: OpenAI system/developer messages joined with '\n', or Anthropic `system`. */
export function systemTextOf(body: any): string {
  if (typeof body?.system === 'string') return body.system
  if (Array.isArray(body?.system)) return body.system.map((b: any) => b.text ?? '').join('\n')
  const msgs: any[] = Array.isArray(body?.messages) ? body.messages : []
  return msgs
    .filter((m) => m?.role === 'system' || m?.role === 'developer')
    .map((m) => (typeof m.content === 'string' ? m.content : (m.content ?? []).map((p: any) => p.text ?? '').join('')))
    .join('\n')
}

// ---------------------------------------------------------------------------------------------
// Rendered responses
// ---------------------------------------------------------------------------------------------

interface Rendered {
  status: number
  headers: Record<string, string>
  /** SSE events (each a complete `…\n\n` frame) or a single body */
  events?: string[]
  body?: string
  /** index of the event that must be replaced by a malformed line (streaming malformedJson) */
  faults: FaultModifiers
}

const DEFAULT_USAGE: MockUsage = { input: 10, output: 5 }

const sseHeaders = (api: RecordedRequest['api']) => ({
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-cache',
  ...(api === 'anthropic-messages' ? { 'request-id': `req_01${rand(22)}` } : { 'x-request-id': `req_${rand(32)}` }),
})
const jsonHeaders = (api: RecordedRequest['api']) => ({
  'content-type': 'application/json',
  ...(api === 'anthropic-messages' ? { 'request-id': `req_01${rand(22)}` } : { 'x-request-id': `req_${rand(32)}` }),
})

function openaiUsage(u: MockUsage) {
  return {
    prompt_tokens: u.input,
    completion_tokens: u.output,
    total_tokens: u.input + u.output,
    prompt_tokens_details: { cached_tokens: u.cachedInput ?? 0, audio_tokens: 0 },
    completion_tokens_details: {
      reasoning_tokens: u.reasoning ?? 0,
      audio_tokens: 0,
      accepted_prediction_tokens: 0,
      rejected_prediction_tokens: 0,
    },
  }
}

function renderOpenAIChat(turn: TextTurn | ToolCallsTurn, req: RecordedRequest): Rendered {
  const id = `chatcmpl-${rand(29)}`
  const created = Math.floor(Date.now() / 1000)
  const model = turn.model ?? (typeof req.body?.model === 'string' ? req.body.model : 'gpt-4o-mini-2024-07-18')
  const system_fingerprint = `fp_${randomBytes(5).toString('hex')}`
  const usage = turn.usage ?? DEFAULT_USAGE
  const text = turn.text ?? ''
  const calls = ('toolCalls' in turn ? turn.toolCalls : []).map((c) => ({
    id: c.id ?? `call_${rand(24)}`,
    name: c.name,
    args: argsString(c.args),
  }))
  const finish = turn.finishReason ?? (calls.length ? 'tool_calls' : 'stop')

  if (req.body?.stream !== true) {
    const message: Record<string, unknown> = { role: 'assistant', content: text === '' && calls.length ? null : text }
    if (calls.length) {
      message.tool_calls = calls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.args } }))
    }
    message.refusal = null
    message.annotations = []
    const body = {
      id,
      object: 'chat.completion',
      created,
      model,
      choices: [{ index: 0, message, logprobs: null, finish_reason: finish }],
      usage: openaiUsage(usage),
      service_tier: 'default',
      system_fingerprint,
    }
    return { status: 200, headers: jsonHeaders(req.api), body: JSON.stringify(body, null, 2), faults: turn }
  }

  const includeUsage = req.body?.stream_options?.include_usage === true
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => {
    const c: Record<string, unknown> = {
      id,
      object: 'chat.completion.chunk',
      created,
      model,
      service_tier: 'default',
      system_fingerprint,
      choices,
    }
    if (includeUsage) c.usage = null
    Object.assign(c, extra)
    c.obfuscation = rand(1 + (randomBytes(1)[0] % 12))
    return `data: ${JSON.stringify(c)}\n\n`
  }
  const choice = (delta: unknown, finish_reason: string | null = null) => ({ index: 0, delta, logprobs: null, finish_reason })
  const events: string[] = []
  events.push(chunk([choice({ role: 'assistant', content: text === '' && calls.length ? null : '', refusal: null })]))
  for (const piece of splitText(text)) events.push(chunk([choice({ content: piece })]))
  calls.forEach((c, index) => {
    events.push(
      chunk([choice({ tool_calls: [{ index, id: c.id, type: 'function', function: { name: c.name, arguments: '' } }] })]),
    )
    for (const frag of splitArgs(c.args)) events.push(chunk([choice({ tool_calls: [{ index, function: { arguments: frag } }] })]))
  })
  events.push(chunk([choice({}, finish)]))
  if (includeUsage) events.push(chunk([], { usage: openaiUsage(usage) }))
  events.push('data: [DONE]\n\n')
  return { status: 200, headers: sseHeaders(req.api), events, faults: turn }
}

function anthropicUsage(u: MockUsage, outputTokens: number) {
  return {
    input_tokens: u.input,
    cache_creation_input_tokens: 0,
    cache_read_input_tokens: u.cachedInput ?? 0,
    cache_creation: { ephemeral_5m_input_tokens: 0, ephemeral_1h_input_tokens: 0 },
    output_tokens: outputTokens,
    service_tier: 'standard',
    inference_geo: 'not_available',
  }
}

function renderAnthropic(turn: TextTurn | ToolCallsTurn, req: RecordedRequest): Rendered {
  const id = `msg_01${rand(22)}`
  const model = turn.model ?? (typeof req.body?.model === 'string' ? req.body.model : 'claude-sonnet-4-5-20250929')
  const usage = turn.usage ?? DEFAULT_USAGE
  const text = turn.text ?? ''
  const calls = ('toolCalls' in turn ? turn.toolCalls : []).map((c) => ({
    id: c.id ?? `toolu_01${rand(22)}`,
    name: c.name,
    args: argsString(c.args),
    raw: c.args,
  }))
  const stop = turn.finishReason ?? (calls.length ? 'tool_use' : 'end_turn')

  if (req.body?.stream !== true) {
    const content: unknown[] = []
    if (text !== '') content.push({ type: 'text', text })
    for (const c of calls) {
      let input: unknown = c.raw
      if (typeof c.raw === 'string') {
        // A non-streamed tool_use block carries an object; an unparseable scripted string is sent
        // as-is (a string `input`) so clients still meet "arguments that are not an object".
        try {
          input = JSON.parse(c.raw)
        } catch {
          input = c.raw
        }
      }
      content.push({ type: 'tool_use', id: c.id, name: c.name, input: input ?? {} })
    }
    const body = {
      model,
      id,
      type: 'message',
      role: 'assistant',
      content,
      stop_reason: stop,
      stop_sequence: null,
      usage: anthropicUsage(usage, usage.output),
    }
    return { status: 200, headers: jsonHeaders(req.api), body: JSON.stringify(body, null, 2), faults: turn }
  }

  const ev = (type: string, data: unknown) => `event: ${type}\ndata: ${JSON.stringify(data)}\n\n`
  const events: string[] = []
  events.push(
    ev('message_start', {
      type: 'message_start',
      message: {
        model,
        id,
        type: 'message',
        role: 'assistant',
        content: [],
        stop_reason: null,
        stop_sequence: null,
        usage: anthropicUsage(usage, 1),
      },
    }),
  )
  let index = 0
  let pinged = false
  const ping = () => {
    if (!pinged) events.push(`event: ping\ndata: {"type": "ping"}\n\n`)
    pinged = true
  }
  if (text !== '') {
    events.push(ev('content_block_start', { type: 'content_block_start', index, content_block: { type: 'text', text: '' } }))
    ping()
    for (const piece of splitText(text)) {
      events.push(ev('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'text_delta', text: piece } }))
    }
    events.push(ev('content_block_stop', { type: 'content_block_stop', index }))
    index++
  }
  for (const c of calls) {
    events.push(
      ev('content_block_start', {
        type: 'content_block_start',
        index,
        content_block: { type: 'tool_use', id: c.id, name: c.name, input: {} },
      }),
    )
    ping()
    for (const frag of ['', ...splitArgs(c.args)]) {
      events.push(
        ev('content_block_delta', { type: 'content_block_delta', index, delta: { type: 'input_json_delta', partial_json: frag } }),
      )
    }
    events.push(ev('content_block_stop', { type: 'content_block_stop', index }))
    index++
  }
  events.push(
    ev('message_delta', {
      type: 'message_delta',
      delta: { stop_reason: stop, stop_sequence: null },
      usage: {
        input_tokens: usage.input,
        cache_creation_input_tokens: 0,
        cache_read_input_tokens: usage.cachedInput ?? 0,
        output_tokens: usage.output,
      },
    }),
  )
  events.push(ev('message_stop', { type: 'message_stop' }))
  return { status: 200, headers: sseHeaders(req.api), events, faults: turn }
}

/** Deterministic bag-of-words embedding (unit norm): each lower-cased word adds ±1 at a hashed index. */
export function autoEmbedding(text: string, dims = 1536): number[] {
  const v = new Array<number>(dims).fill(0)
  for (const word of text.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []) {
    let h = 2166136261
    for (let i = 0; i < word.length; i++) h = Math.imul(h ^ word.charCodeAt(i), 16777619) >>> 0
    v[h % dims] += h & 0x80000000 ? -1 : 1
  }
  let norm = Math.sqrt(v.reduce((s, x) => s + x * x, 0))
  if (norm === 0) {
    v[0] = 1
    norm = 1
  }
  return v.map((x) => x / norm)
}

function renderEmbeddings(turn: EmbeddingsTurn, req: RecordedRequest): Rendered {
  const input = req.body?.input
  const inputs: string[] = Array.isArray(input) ? input.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))) : [String(input ?? '')]
  const dims = typeof req.body?.dimensions === 'number' ? req.body.dimensions : (turn.dimensions ?? 1536)
  const vectors = turn.embeddings === 'auto' ? inputs.map((t) => autoEmbedding(t, dims)) : turn.embeddings
  const base64 = req.body?.encoding_format === 'base64'
  const tokens = turn.usage?.input ?? inputs.reduce((s, t) => s + Math.max(1, Math.ceil(t.length / 4)), 0)
  const body = {
    object: 'list',
    data: vectors.map((vec, index) => ({
      object: 'embedding',
      index,
      embedding: base64 ? Buffer.from(new Float32Array(vec).buffer).toString('base64') : vec,
    })),
    model: typeof req.body?.model === 'string' ? req.body.model : 'text-embedding-3-small',
    usage: { prompt_tokens: tokens, total_tokens: tokens },
  }
  return { status: 200, headers: jsonHeaders(req.api), body: JSON.stringify(body, null, 2), faults: turn }
}

function defaultErrorBody(api: RecordedRequest['api'], status: number) {
  const kind =
    status === 429
      ? ['rate_limit_error', 'rate_limit_exceeded', 'Rate limit reached (mock)']
      : status === 400
        ? ['invalid_request_error', null, 'Invalid request (mock)']
        : status === 401
          ? ['authentication_error', 'invalid_api_key', 'Incorrect API key provided (mock)']
          : status === 404
            ? ['not_found_error', 'model_not_found', 'Not found (mock)']
            : status === 529
              ? ['overloaded_error', null, 'Overloaded (mock)']
              : ['api_error', null, `mock: HTTP ${status}`]
  if (api === 'anthropic-messages') {
    return { type: 'error', error: { type: kind[0], message: kind[2] }, request_id: `req_01${rand(22)}` }
  }
  const openaiType = kind[0] === 'api_error' ? 'server_error' : kind[0] === 'rate_limit_error' ? 'requests' : kind[0]
  return { error: { message: kind[2], type: openaiType, param: null, code: kind[1] } }
}

function render(turn: MockTurn, req: RecordedRequest): Rendered {
  if ('raw' in turn) {
    const body = turn.raw.body
    const isSse = /^(data|event|:)/.test(body.trimStart())
    const headers = { ...(isSse ? sseHeaders(req.api) : jsonHeaders(req.api)), ...lower(turn.raw.headers ?? {}) }
    const status = turn.raw.status ?? 200
    if (isSse) {
      // split after each blank line, keeping the separators, so chunkDelayMs/truncate work per event
      const events = body.split(/(?<=\r?\n\r?\n)/)
      return { status, headers, events, faults: turn }
    }
    return { status, headers, body, faults: turn }
  }
  if ('status' in turn && typeof turn.status === 'number') {
    const body = turn.body === undefined ? defaultErrorBody(req.api, turn.status) : turn.body
    return {
      status: turn.status,
      headers: { 'content-type': 'application/json', ...lower(turn.headers ?? {}) },
      body: typeof body === 'string' ? body : JSON.stringify(body),
      faults: { delayMs: turn.delayMs },
    }
  }
  if ('embeddings' in turn) {
    if (req.api !== 'openai-embeddings') return mockMisuse(`mock: an embeddings turn was consumed by ${req.path}`)
    return renderEmbeddings(turn, req)
  }
  if ('text' in turn || 'toolCalls' in turn) {
    if (req.api === 'openai-chat') return renderOpenAIChat(turn as TextTurn | ToolCallsTurn, req)
    if (req.api === 'anthropic-messages') return renderAnthropic(turn as TextTurn | ToolCallsTurn, req)
    return mockMisuse(`mock: a text/toolCalls turn was consumed by ${req.path}`)
  }
  return mockMisuse('mock: unrecognised turn ' + JSON.stringify(turn))
}

const mockMisuse = (message: string): Rendered => ({
  status: 500,
  headers: { 'content-type': 'application/json' },
  body: JSON.stringify({ error: { message, type: 'mock_error' } }),
  faults: {},
})

const lower = (h: Record<string, string>) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k.toLowerCase(), v]))

function malformedLine(api: RecordedRequest['api']) {
  return api === 'anthropic-messages'
    ? `event: content_block_delta\ndata: {"type":"content_block_delta","index":0,"delta":{"type":"text_delta","text":"oops\n\n`
    : `data: {"id":"chatcmpl-broken","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"content":"oops\n\n`
}

// ---------------------------------------------------------------------------------------------
// Server
// ---------------------------------------------------------------------------------------------

function apiOf(path: string): RecordedRequest['api'] {
  const p = path.split('?')[0].replace(/\/+$/, '')
  if (p.endsWith('/chat/completions')) return 'openai-chat'
  if (p.endsWith('/embeddings')) return 'openai-embeddings'
  if (p.endsWith('/messages')) return 'anthropic-messages'
  return 'unknown'
}

export async function startMockProvider(options: MockProviderOptions = {}): Promise<MockProvider> {
  const queue: TurnInput[] = []
  const requests: RecordedRequest[] = []
  const sockets = new Set<Socket>()
  const timers = new Set<NodeJS.Timeout>()
  let closed = false
  let closing: Promise<void> | undefined

  const wait = (ms: number, res: http.ServerResponse) =>
    new Promise<void>((resolve) => {
      if (!ms || ms <= 0) return resolve()
      const onClose = () => {
        clearTimeout(t)
        timers.delete(t)
        resolve()
      }
      const t = setTimeout(() => {
        timers.delete(t)
        res.off('close', onClose)
        resolve()
      }, ms)
      timers.add(t)
      res.once('close', onClose)
    })

  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = []
    req.on('data', (c: Buffer) => chunks.push(c))
    req.on('end', () => {
      const rawBody = Buffer.concat(chunks).toString('utf8')
      let body: any = rawBody
      try {
        body = rawBody === '' ? undefined : JSON.parse(rawBody)
      } catch {
        // keep the raw string
      }
      const path = req.url ?? '/'
      const record: RecordedRequest = {
        method: req.method ?? 'GET',
        path,
        headers: req.headers,
        body,
        api: apiOf(path),
        aborted: false,
        receivedAt: Date.now(),
      }
      requests.push(record)
      let finished = false
      res.on('finish', () => (finished = true))
      res.on('close', () => {
        if (!finished) record.aborted = true
      })
      handle(record, res).catch((err) => {
        if (!res.headersSent && !res.destroyed) {
          res.writeHead(500, { 'content-type': 'application/json' })
          res.end(JSON.stringify({ error: { message: `mock: internal error ${String(err)}`, type: 'mock_error' } }))
        } else res.destroy()
      })
    })
  })
  server.on('connection', (s) => {
    sockets.add(s)
    s.on('close', () => sockets.delete(s))
  })

  async function handle(record: RecordedRequest, res: http.ServerResponse) {
    if (record.method !== 'POST' || record.api === 'unknown') {
      res.writeHead(404, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { message: `mock: no route for ${record.method} ${record.path}`, type: 'invalid_request_error' } }))
      return
    }
    const next = queue.length ? queue.shift()! : options.fallback
    if (next === undefined) {
      res.writeHead(500, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ error: { message: 'mock: no scripted response left' } }))
      return
    }
    const turn = typeof next === 'function' ? next(record) : next
    if ((turn as FaultModifiers).hang) return // never answer; close() destroys the socket
    const r = render(turn, record)
    const f = r.faults
    await wait(f.delayMs ?? 0, res)
    if (res.destroyed || closed) return

    if (r.events) {
      res.writeHead(r.status, r.headers)
      res.flushHeaders()
      let events = r.events
      if (f.malformedJson) {
        const at = Math.min(2, events.length - 1)
        events = [...events.slice(0, at), malformedLine(record.api), ...events.slice(at)]
      }
      let limit = events.length
      if (f.truncate) {
        // stop well before the end: never send the finish / [DONE] / message_stop events
        limit = Math.max(1, Math.min(Math.floor(events.length / 2), events.length - 3))
      }
      for (let i = 0; i < limit; i++) {
        if (i > 0) await wait(f.chunkDelayMs ?? 0, res)
        if (res.destroyed || closed) return
        res.write(events[i])
      }
      if (f.truncate) {
        // let the written data leave, then cut the connection without the chunked terminator
        await wait(20, res)
        res.socket?.destroy()
        return
      }
      res.end()
      return
    }

    let body = r.body ?? ''
    if (f.malformedJson) {
      body = body.slice(0, Math.max(1, Math.floor(body.length / 2))) + '\n<!-- mock: not json -->'
    }
    const buf = Buffer.from(body, 'utf8')
    if (f.truncate) {
      res.writeHead(r.status, { ...r.headers, 'content-length': String(buf.length) })
      res.write(buf.subarray(0, Math.floor(buf.length / 2)))
      await wait(20, res)
      res.socket?.destroy()
      return
    }
    res.writeHead(r.status, { ...r.headers, 'content-length': String(buf.length) })
    res.end(buf)
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => resolve())
  })
  const port = (server.address() as AddressInfo).port
  const origin = `http://127.0.0.1:${port}`

  return {
    url: `${origin}/v1`,
    origin,
    port,
    requests,
    enqueue: (...turns: TurnInput[]) => {
      queue.push(...turns)
    },
    remaining: () => queue.length,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        closed = true
        for (const t of timers) clearTimeout(t)
        timers.clear()
        server.close(() => resolve())
        for (const s of sockets) s.destroy()
        server.closeAllConnections?.()
      })),
  }
}

// ---------------------------------------------------------------------------------------------
// Fixture replay
// ---------------------------------------------------------------------------------------------

export const FIXTURES_DIR = new URL('../../../shared/fixtures/providers/', import.meta.url)

const ANTHROPIC_EVENT_TYPES = new Set([
  'message_start',
  'content_block_start',
  'content_block_delta',
  'content_block_stop',
  'message_delta',
  'message_stop',
  'ping',
  'error',
])

export function readFixture(name: string): string {
  return readFileSync(new URL(name, FIXTURES_DIR), 'utf8')
}

/** The SSE body of a fixture: a `.sse` file verbatim; a `.chunks.txt` file re-framed
 *  (OpenAI: `data: …\n\n` per line + `data: [DONE]`; Anthropic: `event: <type>\ndata: …\n\n`). */
export function fixtureSseBody(name: string): string {
  const text = readFixture(name)
  if (!name.endsWith('.chunks.txt')) return text
  const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '')
  let anthropic = false
  const frames = lines.map((line) => {
    const type = (JSON.parse(line) as { type?: unknown }).type
    if (typeof type === 'string' && ANTHROPIC_EVENT_TYPES.has(type)) {
      anthropic = true
      return `event: ${type}\ndata: ${line}\n\n`
    }
    return `data: ${line}\n\n`
  })
  if (!anthropic) frames.push('data: [DONE]\n\n')
  return frames.join('')
}

/** A raw turn replaying a fixture's SSE body (`.sse` or `.chunks.txt`). */
export function fixtureSse(name: string, extra: Omit<RawTurn, 'raw'> = {}): RawTurn {
  return {
    raw: { status: 200, headers: { 'content-type': 'text/event-stream; charset=utf-8' }, body: fixtureSseBody(name) },
    ...extra,
  }
}

/** A raw turn replaying a fixture's JSON body verbatim (status 200 unless given). */
export function fixtureJson(name: string, opts: { status?: number; headers?: Record<string, string> } & Omit<RawTurn, 'raw'> = {}): RawTurn {
  const { status = 200, headers = {}, ...extra } = opts
  return { raw: { status, headers: { 'content-type': 'application/json', ...headers }, body: readFixture(name) }, ...extra }
}

/** Raw turns replaying every response of an `.exchanges.json` fixture, in order. */
export function fixtureExchanges(name: string): RawTurn[] {
  const exchanges = JSON.parse(readFixture(name)) as {
    response: { status_code: number; headers: Record<string, string>; body: unknown }
  }[]
  return exchanges.map(({ response }) => {
    const headers: Record<string, string> = {}
    for (const [k, v] of Object.entries(response.headers)) {
      // node computes framing itself; the recorded length/connection headers would lie
      if (!['content-length', 'connection', 'transfer-encoding', 'content-encoding'].includes(k.toLowerCase())) headers[k] = v
    }
    const body = typeof response.body === 'string' ? response.body : JSON.stringify(response.body)
    return { raw: { status: response.status_code, headers, body } }
  })
}

// ---------------------------------------------------------------------------------------------
// Client-side helpers for self-tests and specs
// ---------------------------------------------------------------------------------------------

export interface SseEvent {
  event?: string
  data: string
}

/** Parse an SSE body into events (`event:` name + joined `data:` lines). */
export function parseSse(text: string): SseEvent[] {
  const out: SseEvent[] = []
  for (const block of text.split(/\r?\n\r?\n/)) {
    if (block.trim() === '') continue
    let event: string | undefined
    const data: string[] = []
    for (const line of block.split(/\r?\n/)) {
      if (line.startsWith('event:')) event = line.slice(6).trim()
      else if (line.startsWith('data:')) data.push(line.slice(5).replace(/^ /, ''))
    }
    out.push({ ...(event ? { event } : {}), data: data.join('\n') })
  }
  return out
}
