// Shapes native run output into Mastra's FullOutput, and MastraModelOutput for `stream()`.
// Chunks arrive from Rust in batches (one JSON array per crossing).

import type { ReadableStream } from 'node:stream/web'
import type { BindingRun } from '../binding.js'
import { AbortError, LumosError, StructuredOutputError, errorFromData } from './errors.js'
import { type AnySchema, issuesToText, validate } from './schema.js'

export interface Usage {
  inputTokens: number
  outputTokens: number
  totalTokens: number
  reasoningTokens?: number
  cachedInputTokens?: number
}

export interface Chunk {
  type: string
  runId: string
  from: 'AGENT'
  payload: any
  object?: unknown
}

export interface FullOutput<T = unknown> {
  text: string
  object: T | undefined
  usedFallbackValue?: boolean
  toolCalls: Chunk[]
  toolResults: Chunk[]
  steps: any[]
  usage: Usage
  totalUsage: Usage
  finishReason: string
  reasoning: unknown[]
  reasoningText: string | undefined
  sources: unknown[]
  files: unknown[]
  warnings: unknown[]
  providerMetadata: unknown
  request: Record<string, unknown>
  response: { id: string; modelId: string; timestamp: string; messages: unknown[] }
  messages: unknown[]
  runId: string
  error: Error | undefined
  tripwire: undefined
  traceId: undefined
}

export interface StructuredOutputOptions {
  schema: AnySchema
  errorStrategy?: 'strict' | 'warn' | 'fallback'
  fallbackValue?: unknown
  [key: string]: unknown
}

/** Revives error data inside chunks into Error objects. */
export function reviveChunk(chunk: Chunk): Chunk {
  if (chunk.type === 'tool-error' && chunk.payload?.error && !(chunk.payload.error instanceof Error)) {
    chunk.payload.error = errorFromData({ ...chunk.payload.error, code: chunk.payload.error.code ?? 'TOOL_EXECUTION_FAILED', toolName: chunk.payload.toolName })
  } else if (chunk.type === 'error' && chunk.payload?.error && !(chunk.payload.error instanceof Error)) {
    chunk.payload.error = errorFromData(chunk.payload.error)
  }
  return chunk
}

/** Native output JSON → FullOutput (structured output validated here, with the user's schema). */
export async function toFullOutput(raw: any, structured?: StructuredOutputOptions): Promise<FullOutput> {
  const error = raw.error ? errorFromData(raw.error) : undefined
  const out: FullOutput = {
    text: raw.text ?? '',
    object: undefined,
    toolCalls: raw.toolCalls ?? [],
    toolResults: raw.toolResults ?? [],
    steps: raw.steps ?? [],
    usage: raw.usage ?? zeroUsage(),
    totalUsage: raw.totalUsage ?? zeroUsage(),
    finishReason: raw.finishReason ?? 'error',
    reasoning: raw.reasoningText ? [{ type: 'reasoning', text: raw.reasoningText }] : [],
    reasoningText: raw.reasoningText ?? undefined,
    sources: [],
    files: [],
    warnings: [],
    providerMetadata: undefined,
    request: {},
    response: raw.response ?? { id: '', modelId: '', timestamp: new Date().toISOString(), messages: [] },
    messages: raw.messages ?? [],
    runId: raw.runId,
    error,
    tripwire: undefined,
    traceId: undefined,
  }
  for (const c of out.toolCalls) reviveChunk(c)
  if (structured && !error) await applyStructuredOutput(out, raw.object, structured)
  return out
}

async function applyStructuredOutput(out: FullOutput, parsed: unknown, structured: StructuredOutputOptions) {
  const strategy = structured.errorStrategy ?? 'strict'
  let failure: StructuredOutputError
  if (parsed === undefined || parsed === null) {
    failure = new StructuredOutputError(`Structured output could not be parsed as JSON. The model answered: ${out.text.slice(0, 200)}`, { text: out.text })
  } else {
    const checked = await validate(structured.schema, parsed)
    if (checked.ok) {
      out.object = checked.value
      return
    }
    failure = new StructuredOutputError(`Structured output validation failed:\n${issuesToText(checked.issues)}`, { text: out.text, issues: checked.issues })
  }
  if (strategy === 'fallback') {
    out.object = structured.fallbackValue
    out.usedFallbackValue = true
  } else if (strategy === 'warn') {
    console.warn(`[lumos] ${failure.message}`)
  } else {
    out.error = failure
  }
}

export function zeroUsage(): Usage {
  return { inputTokens: 0, outputTokens: 0, totalTokens: 0, reasoningTokens: 0, cachedInputTokens: 0 }
}

export interface StreamCallbacks {
  onChunk?: (chunk: Chunk) => unknown
  onStepFinish?: (step: any) => unknown
  onFinish?: (result: any) => unknown
  onError?: (e: { error: Error }) => unknown
}

/** Pulls chunk batches from the native run, invoking callbacks, until the run ends. */
export async function pumpChunks(run: BindingRun, callbacks: StreamCallbacks, sink: (c: Chunk) => void, beforeFinish?: () => Promise<(Chunk | undefined)[]>): Promise<void> {
  let stepNumber = 0
  let toolCalls: Chunk[] = []
  let toolResults: Chunk[] = []
  for (;;) {
    const batch = await run.next()
    if (batch == null) return
    for (const chunk of JSON.parse(batch) as Chunk[]) {
      reviveChunk(chunk)
      if (chunk.type === 'finish' && beforeFinish) {
        for (const extra of await beforeFinish()) {
          if (!extra) continue
          sink(extra)
          await callbacks.onChunk?.(extra)
        }
      }
      sink(chunk)
      await callbacks.onChunk?.(chunk)
      switch (chunk.type) {
        case 'tool-call':
          toolCalls.push(chunk)
          break
        case 'tool-result':
          toolResults.push(chunk)
          break
        case 'step-finish': {
          const p = chunk.payload
          const step = { stepNumber: stepNumber++, text: p.output?.text ?? '', toolCalls, toolResults, finishReason: p.stepResult?.reason, usage: p.output?.usage, isContinued: p.stepResult?.isContinued, response: p.metadata }
          toolCalls = []
          toolResults = []
          await callbacks.onStepFinish?.(step)
          break
        }
        case 'error':
          await callbacks.onError?.({ error: chunk.payload.error })
          break
      }
    }
  }
}

/** The object `agent.stream()` resolves to (Mastra's MastraModelOutput). */
export class ModelOutput<T = unknown> {
  readonly runId: string
  status: 'running' | 'success' | 'failed' | 'aborted' = 'running'
  error: Error | undefined
  readonly #chunks: Chunk[] = []
  readonly #listeners = new Set<() => void>()
  #closed = false
  readonly #full: Promise<FullOutput<T>>
  readonly #run: BindingRun

  /** `titleChunk`: the `data-thread-title` chunk of generateTitle.emitEvent, emitted before `finish`. */
  constructor(run: BindingRun, runId: string, finalize: () => Promise<FullOutput<T>>, callbacks: StreamCallbacks, structured?: StructuredOutputOptions, titleChunk?: () => Promise<Chunk | undefined>) {
    this.runId = runId
    this.#run = run
    let finalized: Promise<FullOutput<T>> | undefined
    const once = () => (finalized ??= finalize())
    const objectChunk = structured
      ? async (): Promise<Chunk | undefined> => {
          const full = await once()
          return full.object === undefined ? undefined : { type: 'object-result', runId, from: 'AGENT', payload: {}, object: full.object }
        }
      : undefined
    const beforeFinish = objectChunk || titleChunk ? async () => [await titleChunk?.(), await objectChunk?.()] : undefined
    const pumped = pumpChunks(run, callbacks, (c) => this.#push(c), beforeFinish)
    this.#full = pumped.then(once, async (err) => {
      await once().catch(() => {})
      throw err
    })
    this.#full.then(
      (full) => {
        this.error = full.error
        this.status = full.error ? (full.error instanceof AbortError ? 'aborted' : 'failed') : 'success'
        this.#close()
      },
      (err) => {
        this.error = err
        this.status = 'failed'
        this.#close()
      },
    )
    // Unobserved failures must not become unhandled rejections: the caller reads them via fields.
    this.#full.catch(() => {})
  }

  #push(c: Chunk) {
    this.#chunks.push(c)
    for (const l of this.#listeners) l()
  }
  #close() {
    this.#closed = true
    for (const l of this.#listeners) l()
  }

  /** A fresh stream over every chunk of the run (replayed from the start, then live). */
  #stream<R>(map: (c: Chunk) => R | undefined): ReadableStream<R> {
    let index = 0
    let wake: (() => void) | undefined
    const listener = () => wake?.()
    // The global (same class as node:stream/web), touched only when a stream is read.
    return new (globalThis.ReadableStream as unknown as typeof ReadableStream)<R>({
      start: () => {
        this.#listeners.add(listener)
      },
      pull: async (controller) => {
        for (;;) {
          while (index < this.#chunks.length) {
            const v = map(this.#chunks[index++])
            if (v !== undefined) {
              controller.enqueue(v)
              return
            }
          }
          if (this.#closed) {
            this.#listeners.delete(listener)
            controller.close()
            return
          }
          await new Promise<void>((resolve) => (wake = resolve))
          wake = undefined
        }
      },
      cancel: () => {
        this.#listeners.delete(listener)
      },
    })
  }

  get fullStream(): ReadableStream<Chunk> {
    return this.#stream((c) => c)
  }
  get textStream(): ReadableStream<string> {
    return this.#stream((c) => (c.type === 'text-delta' ? c.payload.text : undefined))
  }
  get objectStream(): ReadableStream<unknown> {
    return this.#stream((c) => (c.type === 'object-result' ? c.object : undefined))
  }

  #field<K extends keyof FullOutput<T>>(key: K): Promise<FullOutput<T>[K]> {
    return this.#full.then((f) => f[key])
  }
  get text() {
    return this.#field('text')
  }
  get object(): Promise<T | undefined> {
    return this.#full.then((f) => {
      if (f.error instanceof StructuredOutputError) throw f.error
      return f.object
    })
  }
  get usage() {
    return this.#field('usage')
  }
  get totalUsage() {
    return this.#field('totalUsage')
  }
  get finishReason() {
    return this.#field('finishReason')
  }
  get toolCalls() {
    return this.#field('toolCalls')
  }
  get toolResults() {
    return this.#field('toolResults')
  }
  get steps() {
    return this.#field('steps')
  }
  get response() {
    return this.#field('response')
  }
  get reasoningText() {
    return this.#field('reasoningText')
  }
  get reasoning() {
    return this.#field('reasoning')
  }
  get warnings() {
    return this.#field('warnings')
  }
  get messages() {
    return this.#field('messages')
  }
  get sources() {
    return this.#field('sources')
  }
  get files() {
    return this.#field('files')
  }
  get providerMetadata() {
    return this.#field('providerMetadata')
  }

  getFullOutput(): Promise<FullOutput<T>> {
    return this.#full
  }
  async consumeStream(): Promise<void> {
    await this.#full.catch(() => {})
  }
  /** Stops the run (same as firing the abortSignal). */
  abort(): void {
    this.#run.abort()
  }
}

export function ensureLumosError(err: unknown): Error {
  return err instanceof Error ? err : new LumosError('INTERNAL', String(err))
}
