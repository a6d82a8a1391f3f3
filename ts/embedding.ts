// Mastra's ModelRouterEmbeddingModel: an AI SDK embedding model (spec v2) whose calls run
// natively — batched, parallel and retried in Rust. Works with `embed`/`embedMany` from `ai`.

import { BindingEmbedder } from '../binding.js'
import { ConfigError, reviveNativeError } from './errors.js'

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
