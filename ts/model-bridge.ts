// AI SDK LanguageModel objects (spec v2/v3) bridged to the native loop. Rust sends one operation
// at a time as JSON ({op:'start'|'next'|'cancel'}); this file maps our request to the AI SDK
// call options and AI SDK stream parts to the native event vocabulary. Nothing else lives here.

interface Pending {
  reader?: ReadableStreamDefaultReader<any>
  queued: any[]
  controller: AbortController
}

const streams = new Map<number, Pending>()
let nextId = 1

export function isLanguageModel(m: any): boolean {
  return m != null && typeof m === 'object' && (typeof m.doStream === 'function' || typeof m.doGenerate === 'function')
}

function toPrompt(messages: any[]): any[] {
  return messages.map((m) => {
    if (m.role === 'system') return { role: 'system', content: m.content }
    const content = m.content.map((p: any) => {
      if (p.type === 'image') return { type: 'file', mediaType: p.mediaType ?? 'image/png', data: p.image }
      if (p.type === 'tool-result') return { ...p, output: p.output }
      return p
    })
    return { role: m.role, content }
  })
}

function callOptions(req: any, signal: AbortSignal): any {
  const s = req.settings ?? {}
  return {
    prompt: toPrompt(req.messages),
    tools: req.tools.length ? req.tools.map((t: any) => ({ type: 'function', name: t.name, description: t.description, inputSchema: t.parameters })) : undefined,
    toolChoice: req.tools.length ? req.toolChoice : undefined,
    maxOutputTokens: s.maxOutputTokens ?? undefined,
    temperature: s.temperature ?? undefined,
    topP: s.topP ?? undefined,
    topK: s.topK ?? undefined,
    presencePenalty: s.presencePenalty ?? undefined,
    frequencyPenalty: s.frequencyPenalty ?? undefined,
    stopSequences: s.stopSequences?.length ? s.stopSequences : undefined,
    seed: s.seed ?? undefined,
    responseFormat: req.responseFormat ? { type: 'json', schema: req.responseFormat.schema, name: req.responseFormat.name } : undefined,
    providerOptions: req.providerOptions && Object.keys(req.providerOptions).length ? req.providerOptions : undefined,
    abortSignal: signal,
  }
}

const num = (v: any): number => (typeof v === 'number' ? v : typeof v?.total === 'number' ? v.total : 0)

/** v2 usage is flat numbers; v3 nests `{ total, … }` objects. */
function usageOf(u: any) {
  const input = num(u?.inputTokens)
  const output = num(u?.outputTokens)
  return {
    inputTokens: input,
    outputTokens: output,
    totalTokens: typeof u?.totalTokens === 'number' ? u.totalTokens : input + output,
    reasoningTokens: typeof u?.reasoningTokens === 'number' ? u.reasoningTokens : num(u?.outputTokens?.reasoning),
    cachedInputTokens: typeof u?.cachedInputTokens === 'number' ? u.cachedInputTokens : num(u?.inputTokens?.cacheRead),
  }
}

const reasonOf = (r: any): string => (typeof r === 'string' ? r : (r?.unified ?? 'unknown'))
const inputText = (i: any): string => (typeof i === 'string' ? i : JSON.stringify(i ?? {}))

/** One AI SDK stream part → zero or one native events. */
function mapPart(p: any): any | undefined {
  switch (p.type) {
    case 'response-metadata':
      return { type: 'metadata', id: p.id ?? null, modelId: p.modelId ?? null }
    case 'text-delta':
      return { type: 'text', delta: p.delta ?? p.textDelta ?? '' }
    case 'reasoning-delta':
      return { type: 'reasoning', delta: p.delta ?? '' }
    case 'tool-input-start':
      return { type: 'tool-input-start', id: p.id, name: p.toolName }
    case 'tool-input-delta':
      return { type: 'tool-input-delta', id: p.id, delta: p.delta ?? '' }
    case 'tool-call':
      return { type: 'tool-call', id: p.toolCallId, name: p.toolName, input: inputText(p.input ?? p.args) }
    case 'finish':
      return { type: 'finish', reason: reasonOf(p.finishReason), usage: usageOf(p.usage) }
    default:
      return undefined
  }
}

/** A thrown error → the bridge's error answer (`statusCode` keeps AI SDK APICallErrors retryable). */
export function errorAnswer(err: any): { error: { message: string; status?: number; body?: string; retryAfterMs?: number } } {
  const status = typeof err?.statusCode === 'number' ? err.statusCode : undefined
  const headers = err?.responseHeaders ?? {}
  const ms = Number(headers['retry-after-ms'])
  const secs = Number(headers['retry-after'])
  const retryAfterMs = Number.isFinite(ms) && ms > 0 ? ms : Number.isFinite(secs) && secs >= 0 && headers['retry-after'] != null ? secs * 1000 : undefined
  return { error: { message: String(err?.message ?? err), status, body: typeof err?.responseBody === 'string' ? err.responseBody : undefined, retryAfterMs } }
}

/** The function handed to `BindingModel.bridge` for one model object. */
export function makeBridge(model: any): (op: string) => Promise<string> {
  return async (opJson: string) => {
    const op = JSON.parse(opJson)
    try {
      if (op.op === 'start') {
        const controller = new AbortController()
        const options = callOptions(op.request, controller.signal)
        const id = nextId++
        if (op.request.stream && typeof model.doStream === 'function') {
          const { stream, response } = await model.doStream(options)
          const pending: Pending = { reader: stream.getReader(), queued: [], controller }
          if (response?.id || response?.modelId) pending.queued.push({ type: 'metadata', id: response.id ?? null, modelId: response.modelId ?? null })
          streams.set(id, pending)
          return JSON.stringify({ id, events: pending.queued.splice(0) })
        }
        const r = await model.doGenerate(options)
        const events: any[] = [{ type: 'metadata', id: r.response?.id ?? null, modelId: r.response?.modelId ?? null }]
        for (const c of r.content ?? []) {
          if (c.type === 'text') events.push({ type: 'text', delta: c.text })
          else if (c.type === 'reasoning') events.push({ type: 'reasoning', delta: c.text })
          else if (c.type === 'tool-call') events.push({ type: 'tool-call', id: c.toolCallId, name: c.toolName, input: inputText(c.input) })
        }
        events.push({ type: 'finish', reason: reasonOf(r.finishReason), usage: usageOf(r.usage) })
        return JSON.stringify({ id, events, done: true })
      }
      const pending = streams.get(op.id)
      if (!pending?.reader) return JSON.stringify({ done: true })
      if (op.op === 'cancel') {
        pending.controller.abort()
        streams.delete(op.id)
        await pending.reader.cancel().catch(() => {})
        return JSON.stringify({ done: true })
      }
      // next: read until at least one event (or the end).
      for (;;) {
        const { value, done } = await pending.reader.read()
        if (done) {
          streams.delete(op.id)
          return JSON.stringify({ events: [], done: true })
        }
        if (value?.type === 'error') {
          streams.delete(op.id)
          return JSON.stringify(errorAnswer(value.error))
        }
        const ev = mapPart(value)
        if (ev) return JSON.stringify({ events: [ev], done: false })
      }
    } catch (err) {
      if (op.id !== undefined) streams.delete(op.id)
      return JSON.stringify(errorAnswer(err))
    }
  }
}
