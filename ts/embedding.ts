// Mastra's ModelRouterEmbeddingModel: an AI SDK embedding model (spec v2) whose calls run
// natively — batched, parallel and retried in Rust. Works with `embed`/`embedMany` from `ai`.
// Also the bridge the other way: any AI SDK embedding model object (`doEmbed`) as a native
// embedder, for Memory's semantic recall.

import { BindingEmbedder } from '../binding.js'
import { ConfigError, reviveNativeError } from './errors.js'
import { errorAnswer } from './model-bridge.js'

type EmbeddingConfig = string | { id?: string; providerId?: string; modelId?: string; url?: string; apiKey?: string; headers?: Record<string, string>; dimensions?: number }

export class ModelRouterEmbeddingModel {
  readonly specificationVersion = 'v2'
  readonly provider: string
  readonly modelId: string
  readonly maxEmbeddingsPerCall: number
  readonly supportsParallelCalls = true
  readonly #native: BindingEmbedder

  constructor(config: EmbeddingConfig) {
    const c = typeof config === 'string' ? { id: config } : config
    const id = c?.id ?? (c?.providerId && c?.modelId ? `${c.providerId}/${c.modelId}` : undefined)
    if (typeof id !== 'string') throw new ConfigError('MODEL_CONFIG_INVALID', "an embedding model needs 'provider/model' (e.g. 'openai/text-embedding-3-small')")
    try {
      this.#native = BindingEmbedder.fromConfig({ id, url: c.url, apiKey: c.apiKey, headers: c.headers }, c.dimensions)
    } catch (err) {
      throw reviveNativeError(err)
    }
    this.provider = this.#native.provider
    this.modelId = this.#native.modelId
    this.maxEmbeddingsPerCall = this.#native.maxBatch
  }

  /** The native embedder (for Memory's semantic recall). */
  __native(): BindingEmbedder {
    return this.#native
  }

  /** Vectors as one flat Float32Array (`count × dimension`), the form vector stores take. */
  async embedFlat(values: string[]): Promise<{ vectors: Float32Array; dimension: number; tokens: number }> {
    if (!Array.isArray(values) || values.some((v) => typeof v !== 'string')) throw new ConfigError('INVALID_INPUT', 'embedding values must be strings')
    try {
      const r = await this.#native.embed(values)
      return { vectors: r.vectors, dimension: r.dimension, tokens: r.tokens }
    } catch (err) {
      throw reviveNativeError(err)
    }
  }

  /** AI SDK EmbeddingModelV2 entry point. */
  async doEmbed({ values }: { values: string[]; abortSignal?: AbortSignal }): Promise<{ embeddings: number[][]; usage: { tokens: number } }> {
    const { vectors, dimension, tokens } = await this.embedFlat(values)
    const embeddings = values.map((_, i) => Array.from(vectors.subarray(i * dimension, (i + 1) * dimension)))
    return { embeddings, usage: { tokens } }
  }
}

/** Mastra's `embedderOptions` (what it passes on to `embedMany`). */
export interface EmbedderOptions {
  /** Retries of one `doEmbed` call on retryable errors (default 3, as Mastra's Memory). */
  maxRetries?: number
  /** `doEmbed` calls in flight at once when the model supports parallel calls (default: all). */
  maxParallelCalls?: number
  headers?: Record<string, string | undefined>
  providerOptions?: Record<string, Record<string, unknown>>
}

/** An AI SDK embedding model object (spec v2/v3): anything with `doEmbed`. */
export function isEmbeddingModel(m: unknown): m is { doEmbed: Function; provider?: string; modelId?: string } {
  return m != null && typeof m === 'object' && typeof (m as any).doEmbed === 'function'
}

const U32_MAX = 0xffff_ffff
const count = (n: unknown, fallback: number): number => (typeof n === 'number' && n >= 1 ? (Number.isFinite(n) ? Math.min(Math.floor(n), U32_MAX) : U32_MAX) : fallback)

/**
 * The native embedder for an embedding model: a router model's own, or a bridge to an AI SDK
 * model's `doEmbed`. Batching by `maxEmbeddingsPerCall`, parallel calls (when
 * `supportsParallelCalls`) and retries run natively, as `embedMany` would run them.
 */
export async function nativeEmbedder(model: ModelRouterEmbeddingModel | { doEmbed: Function }, options: EmbedderOptions = {}): Promise<BindingEmbedder> {
  if (model instanceof ModelRouterEmbeddingModel) return model.__native()
  const m = model as any
  const [perCall, parallel] = await Promise.all([m.maxEmbeddingsPerCall, m.supportsParallelCalls])
  const maxBatch = count(perCall, U32_MAX)
  const maxParallel = parallel === false ? 1 : count(options.maxParallelCalls, U32_MAX)
  const maxRetries = typeof options.maxRetries === 'number' && options.maxRetries >= 0 ? Math.floor(options.maxRetries) : 3
  return BindingEmbedder.bridge(String(m.provider ?? 'ai-sdk'), String(m.modelId ?? 'unknown'), maxBatch, maxParallel, maxRetries, makeEmbedBridge(m, options))
}

/** The function handed to `BindingEmbedder.bridge`: one `doEmbed` per `embed` op; `cancel` aborts it. */
function makeEmbedBridge(model: any, options: EmbedderOptions): (op: string) => Promise<string> {
  const inFlight = new Map<number, AbortController>()
  return async (opJson: string) => {
    const op = JSON.parse(opJson)
    if (op.op === 'cancel') {
      inFlight.get(op.id)?.abort()
      inFlight.delete(op.id)
      return '{}'
    }
    const controller = new AbortController()
    inFlight.set(op.id, controller)
    try {
      const r = await model.doEmbed({ values: op.values, abortSignal: controller.signal, headers: options.headers, providerOptions: options.providerOptions })
      if (!Array.isArray(r?.embeddings)) return JSON.stringify({ error: { message: `${model.provider ?? 'the embedding model'}: doEmbed returned no embeddings array` } })
      const tokens = r.usage?.tokens
      // Typed arrays would serialize as objects; AI SDK embeddings are plain number arrays.
      const embeddings = r.embeddings.map((e: any) => (Array.isArray(e) ? e : Array.from(e)))
      return JSON.stringify({ embeddings, tokens: Number.isFinite(tokens) && tokens >= 0 ? Math.round(tokens) : 0 })
    } catch (err) {
      return JSON.stringify(errorAnswer(err))
    } finally {
      inFlight.delete(op.id)
    }
  }
}
