#!/usr/bin/env node
// Stateless, zero-latency OpenAI Chat Completions (+ Embeddings) mock for the benchmark.
//
//   node mock-server.mjs [--port 0]     → prints "LISTENING <port>" on stdout once ready
//
// POST /v1/chat/completions decides the answer from the request alone:
//   - tools offered and no `tool` message in the conversation yet → two parallel tool calls
//     (get_weather + get_time when offered, else the first two offered tools with `{}` arguments);
//   - otherwise → a short text answer (after tool results it quotes them, so a run that did not
//     execute the tools is visible in its text).
// `stream: true` → SSE (several deltas; a usage chunk only when `stream_options.include_usage`),
// otherwise one JSON body. The wire format follows the recorded OpenAI transcripts in
// shared/fixtures/providers (openai-chat-parallel-tool-calls.{json,sse}, openai-text.json).
//
// POST /v1/embeddings (OpenAI Embeddings) → deterministic vectors: a hashed bag of words (each
// lower-cased word adds ±1 to one of `dimensions` coordinates, default 384; then L2-normalised), so
// texts sharing words are near each other and semantic recall finds related messages. Batches
// (`input` as an array) are answered in one response; `encoding_format: "base64"` → little-endian
// float32 bytes, as OpenAI does; otherwise number arrays.
//
// GET /__stats → { requests: { "<METHOD> <path>": n }, bodies: { "<path>": lastRequestBody }, cpu,
//                 embeddedTexts }
// POST /__reset → clears the counters. Any other path → 404 (and is counted, so a framework that
// talks to the wrong endpoint shows up in the stats).
import http from 'node:http'

const args = process.argv.slice(2)
const portArg = args.indexOf('--port')
const port = portArg >= 0 ? Number(args[portArg + 1]) : 0

let seq = 0
let requests = Object.create(null)
let lastBodies = Object.create(null)
// Texts embedded since the last reset (requests are counted in `requests`): shows batching.
let embeddedTexts = 0

const MODEL = 'gpt-4o-mini-2024-07-18'
const FINGERPRINT = 'fp_bench0001'
const TEXT_ONLY_DELTAS = ['Hello', '! I am', ' a mock', ' model', ' answering', ' quickly.']

const TOOL_ARGS = {
  get_weather: '{"city":"Paris"}',
  get_time: '{"timezone":"Europe/Paris"}',
}

function pickToolCalls(tools) {
  const names = tools.map((t) => t?.function?.name).filter(Boolean)
  const preferred = ['get_weather', 'get_time'].filter((n) => names.includes(n))
  const chosen = preferred.length === 2 ? preferred : names.slice(0, 2)
  return chosen.map((name) => ({
    id: `call_${(++seq).toString(36).padStart(24, '0')}`,
    type: 'function',
    function: { name, arguments: TOOL_ARGS[name] ?? '{}' },
  }))
}

function answerDeltas(messages) {
  const results = messages.filter((m) => m && m.role === 'tool').map((m) => (typeof m.content === 'string' ? m.content : JSON.stringify(m.content)))
  if (results.length === 0) return TEXT_ONLY_DELTAS
  return ['Here', ' is what', ' the tools', ' said: ', results.join('; '), '.']
}

function usageFor(bodyLength, completion) {
  const prompt = Math.max(1, Math.round(bodyLength / 4))
  return { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion, completion_tokens_details: { reasoning_tokens: 0 } }
}

function decide(body) {
  const messages = Array.isArray(body.messages) ? body.messages : []
  const tools = Array.isArray(body.tools) ? body.tools : []
  const hasToolResults = messages.some((m) => m && m.role === 'tool')
  if (tools.length > 0 && !hasToolResults && body.tool_choice !== 'none') {
    return { kind: 'tools', toolCalls: pickToolCalls(tools) }
  }
  return { kind: 'text', deltas: answerDeltas(messages) }
}

function jsonResponse(res, body, rawLength) {
  const d = decide(body)
  const id = `chatcmpl-bench${(++seq).toString(36)}`
  const created = Math.floor(Date.now() / 1000)
  let message
  let finish
  let completion
  if (d.kind === 'tools') {
    message = { role: 'assistant', content: null, tool_calls: d.toolCalls, refusal: null }
    finish = 'tool_calls'
    completion = 20 * d.toolCalls.length
  } else {
    message = { role: 'assistant', content: d.deltas.join(''), refusal: null, annotations: [] }
    finish = 'stop'
    completion = d.deltas.length * 2
  }
  const out = JSON.stringify({
    id,
    object: 'chat.completion',
    created,
    model: MODEL,
    choices: [{ index: 0, message, logprobs: null, finish_reason: finish }],
    usage: usageFor(rawLength, completion),
    system_fingerprint: FINGERPRINT,
  })
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) })
  res.end(out)
}

function sseResponse(res, body, rawLength) {
  const d = decide(body)
  const includeUsage = body.stream_options?.include_usage === true
  const id = `chatcmpl-bench${(++seq).toString(36)}`
  const created = Math.floor(Date.now() / 1000)
  const base = { id, object: 'chat.completion.chunk', created, model: MODEL, system_fingerprint: FINGERPRINT }
  res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' })
  const send = (choices, extra) => {
    const chunk = { ...base, choices, ...extra }
    if (includeUsage && !('usage' in chunk)) chunk.usage = null
    res.write(`data: ${JSON.stringify(chunk)}\n\n`)
  }
  let completion
  if (d.kind === 'tools') {
    send([{ index: 0, delta: { role: 'assistant', content: null }, logprobs: null, finish_reason: null }])
    d.toolCalls.forEach((tc, index) => {
      send([{ index: 0, delta: { tool_calls: [{ index, id: tc.id, type: 'function', function: { name: tc.function.name, arguments: '' } }] }, logprobs: null, finish_reason: null }])
      const a = tc.function.arguments
      const cut = Math.ceil(a.length / 2)
      for (const piece of [a.slice(0, cut), a.slice(cut)]) {
        if (piece) send([{ index: 0, delta: { tool_calls: [{ index, function: { arguments: piece } }] }, logprobs: null, finish_reason: null }])
      }
    })
    send([{ index: 0, delta: {}, logprobs: null, finish_reason: 'tool_calls' }])
    completion = 20 * d.toolCalls.length
  } else {
    send([{ index: 0, delta: { role: 'assistant', content: '', refusal: null }, logprobs: null, finish_reason: null }])
    for (const t of d.deltas) send([{ index: 0, delta: { content: t }, logprobs: null, finish_reason: null }])
    send([{ index: 0, delta: {}, logprobs: null, finish_reason: 'stop' }])
    completion = d.deltas.length * 2
  }
  if (includeUsage) send([], { usage: usageFor(rawLength, completion) })
  res.end('data: [DONE]\n\n')
}

const EMBED_DIM = 384

// FNV-1a over the word's UTF-16 code units: cheap and stable across runs and processes.
function hashWord(w) {
  let h = 0x811c9dc5
  for (let i = 0; i < w.length; i++) {
    h ^= w.charCodeAt(i)
    h = Math.imul(h, 0x01000193)
  }
  return h >>> 0
}

function embedText(text, dim) {
  const v = new Float32Array(dim)
  for (const w of String(text).toLowerCase().split(/[^\p{L}\p{N}]+/u)) {
    if (!w) continue
    const h = hashWord(w)
    v[h % dim] += h & 0x80000000 ? -1 : 1
  }
  let norm = 0
  for (let i = 0; i < dim; i++) norm += v[i] * v[i]
  // An empty text still gets a valid unit vector (vector stores reject zero vectors for cosine).
  if (norm === 0) {
    v[0] = 1
    return v
  }
  norm = Math.sqrt(norm)
  for (let i = 0; i < dim; i++) v[i] /= norm
  return v
}

function embeddingsResponse(res, body) {
  const inputs = Array.isArray(body.input) ? body.input : [body.input]
  if (inputs.length === 0 || inputs.some((t) => typeof t !== 'string')) {
    res.writeHead(400, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: { message: 'input must be a string or an array of strings', type: 'invalid_request_error' } }))
    return
  }
  const dim = Number.isInteger(body.dimensions) && body.dimensions > 0 ? body.dimensions : EMBED_DIM
  const base64 = body.encoding_format === 'base64'
  let tokens = 0
  embeddedTexts += inputs.length
  const data = inputs.map((t, index) => {
    tokens += Math.max(1, Math.round(t.length / 4))
    const v = embedText(t, dim)
    return { object: 'embedding', index, embedding: base64 ? Buffer.from(v.buffer, v.byteOffset, v.byteLength).toString('base64') : Array.from(v) }
  })
  const out = JSON.stringify({ object: 'list', data, model: body.model ?? 'text-embedding-3-small', usage: { prompt_tokens: tokens, total_tokens: tokens } })
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(out) })
  res.end(out)
}

const server = http.createServer((req, res) => {
  const key = `${req.method} ${req.url}`
  requests[key] = (requests[key] ?? 0) + 1
  const chunks = []
  req.on('data', (c) => chunks.push(c))
  req.on('end', () => {
    if (req.method === 'POST' && (req.url === '/v1/chat/completions' || req.url === '/chat/completions')) {
      const raw = Buffer.concat(chunks).toString('utf8')
      let body
      try {
        body = JSON.parse(raw)
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ error: { message: 'invalid JSON body', type: 'invalid_request_error' } }))
        return
      }
      lastBodies[req.url] = raw
      if (body.stream === true) sseResponse(res, body, raw.length)
      else jsonResponse(res, body, raw.length)
      return
    }
    if (req.method === 'POST' && (req.url === '/v1/embeddings' || req.url === '/embeddings')) {
      let body
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8'))
      } catch {
        res.writeHead(400, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ error: { message: 'invalid JSON body', type: 'invalid_request_error' } }))
        return
      }
      // Not kept in lastBodies: a batch of embeddings requests can be megabytes.
      embeddingsResponse(res, body)
      return
    }
    if (req.url === '/__stats') {
      const out = JSON.stringify({ requests, bodies: Object.fromEntries(Object.entries(lastBodies).map(([k, v]) => [k, JSON.parse(v)])), cpu: process.cpuUsage(), embeddedTexts })
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(out)
      return
    }
    if (req.url === '/__reset') {
      requests = Object.create(null)
      lastBodies = Object.create(null)
      embeddedTexts = 0
      res.writeHead(204)
      res.end()
      return
    }
    res.writeHead(404, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ error: { message: `mock: no route for ${req.method} ${req.url}`, type: 'not_found' } }))
  })
})
server.keepAliveTimeout = 120_000
server.headersTimeout = 121_000
server.maxRequestsPerSocket = 0
server.listen(port, '127.0.0.1', () => {
  process.stdout.write(`LISTENING ${server.address().port}\n`)
})
const stop = () => server.close(() => process.exit(0))
process.on('SIGTERM', stop)
process.on('SIGINT', stop)
process.on('disconnect', stop)
