// Mastra's vector store interface (MastraVector, named-argument form) on the native index.
// `LibSQLVector` keeps Mastra's class name for the embedded store: a `file:` URL names where the
// index lives (a folder beside the database file), `:memory:` keeps it in memory.

import { resolve } from 'node:path'
import { BindingVectorStore } from '../binding.js'
import { AbortError, ConfigError, reviveNativeError } from './errors.js'

export interface QueryResult {
  id: string
  score: number
  metadata?: Record<string, any>
  vector?: number[]
}

export interface IndexStats {
  dimension: number
  count: number
  metric: 'cosine' | 'euclidean' | 'dotproduct'
  /** Lumos: vectors not yet linked into the HNSW graph (searched exactly until then, so slower). */
  pending?: number
}

type Vectors = number[][] | Float32Array

async function call<T>(f: () => Promise<T> | T): Promise<T> {
  try {
    return await f()
  } catch (err) {
    throw reviveNativeError(err)
  }
}

/** `file:./x.db` → `<abs>/x.db.vectors`; `:memory:` / `file::memory:` → in memory. */
function storeDir(url: string): string | undefined {
  if (url === ':memory:' || url === 'file::memory:' || url.startsWith('file::memory:')) return undefined
  if (/^(libsql|https?|wss?):/i.test(url)) {
    throw new ConfigError('STORE_UNSUPPORTED_URL', `remote libsql URLs are not supported (${url}): use a file: URL for the embedded store, or PgVector to share vectors between processes`)
  }
  const path = url.startsWith('file:') ? url.slice('file:'.length).replace(/^\/\/(?=\/)/, '') : url
  return `${resolve(path)}.vectors`
}

export class LibSQLVector {
  readonly id: string
  readonly #dir: string | undefined
  #store: Promise<BindingVectorStore> | undefined

  constructor(config: { id: string; url?: string; connectionUrl?: string; [key: string]: unknown }) {
    if (!config || typeof config.id !== 'string' || !config.id) throw new ConfigError('INVALID_INPUT', "new LibSQLVector() needs an `id` (e.g. { id: 'vectors', url: 'file:./lumos.db' })")
    this.id = config.id
    this.#dir = storeDir(config.url ?? config.connectionUrl ?? 'file:./lumos.db')
  }

  #open(): Promise<BindingVectorStore> {
    this.#store ??= call(() => BindingVectorStore.open(this.#dir))
    return this.#store
  }

  /** The native store (for Memory's semantic recall). */
  __native(): Promise<BindingVectorStore> {
    return this.#open()
  }

  async createIndex({ indexName, dimension, metric = 'cosine', quantization }: { indexName: string; dimension: number; metric?: IndexStats['metric']; quantization?: 'f32' | 'int8' }): Promise<void> {
    const store = await this.#open()
    await call(() => store.createIndex(indexName, dimension, metric, quantization))
  }

  async upsert({ indexName, vectors, metadata, ids }: { indexName: string; vectors: Vectors; metadata?: Record<string, any>[]; ids?: string[] }): Promise<string[]> {
    const store = await this.#open()
    return call(() => store.upsert(indexName, flatten(vectors), ids, metadata ? JSON.stringify(metadata) : undefined))
  }

  async query({ indexName, queryVector, topK = 10, filter, includeVector = false }: { indexName: string; queryVector: number[] | Float32Array; topK?: number; filter?: Record<string, any>; includeVector?: boolean }): Promise<QueryResult[]> {
    const store = await this.#open()
    const q = queryVector instanceof Float32Array ? queryVector : Float32Array.from(queryVector)
    const json = await call(() => store.query(indexName, q, topK, filter && Object.keys(filter).length ? JSON.stringify(filter) : undefined, includeVector))
    return JSON.parse(json)
  }

  async listIndexes(): Promise<string[]> {
    const store = await this.#open()
    return store.listIndexes()
  }

  async describeIndex({ indexName }: { indexName: string }): Promise<IndexStats> {
    const store = await this.#open()
    return JSON.parse(await call(() => store.describeIndex(indexName)))
  }

  /**
   * Lumos: resolves once every vector of the index is in the HNSW graph, which background threads
   * build after upserts (queries are correct meanwhile, only slower). Polls `describeIndex`.
   */
  async waitIndexed({ indexName, abortSignal, pollMs = 50 }: { indexName: string; abortSignal?: AbortSignal; pollMs?: number }): Promise<void> {
    while (true) {
      if (abortSignal?.aborted) throw new AbortError('waitIndexed was aborted')
      const { pending = 0 } = await this.describeIndex({ indexName })
      if (pending === 0) return
      await new Promise((r) => setTimeout(r, pollMs))
    }
  }

  async deleteIndex({ indexName }: { indexName: string }): Promise<void> {
    const store = await this.#open()
    await call(() => store.deleteIndex(indexName))
  }

  async updateVector({ indexName, id, update }: { indexName: string; id: string; update: { vector?: number[] | Float32Array; metadata?: Record<string, any> } }): Promise<void> {
    const store = await this.#open()
    const v = update?.vector === undefined ? undefined : update.vector instanceof Float32Array ? update.vector : Float32Array.from(update.vector)
    await call(() => store.updateVector(indexName, id, v, update?.metadata === undefined ? undefined : JSON.stringify(update.metadata)))
  }

  async deleteVector({ indexName, id }: { indexName: string; id: string }): Promise<void> {
    const store = await this.#open()
    await call(() => store.deleteVector(indexName, id))
  }
}

/** number[][] → one flat Float32Array (rows must share a length); a Float32Array passes as is. */
export function flatten(vectors: Vectors): Float32Array {
  if (vectors instanceof Float32Array) return vectors
  if (!Array.isArray(vectors)) throw new ConfigError('VECTOR_INVALID_INPUT', 'vectors must be number[][] or one flat Float32Array')
  const dim = vectors[0]?.length ?? 0
  const flat = new Float32Array(vectors.length * dim)
  vectors.forEach((row, i) => {
    if (!row || row.length !== dim) throw new ConfigError('VECTOR_DIMENSION_MISMATCH', `vectors[${i}] has ${row?.length ?? 0} values but vectors[0] has ${dim}: every vector needs the index's dimension`)
    flat.set(row, i * dim)
  })
  return flat
}
