// Mastra's PgVector (`@mastra/pg`): the vector interface of LibSQLVector with the vectors in
// PostgreSQL tables, so every app process shares them. Each process searches a native in-process
// index that follows the tables (other processes' writes arrive by LISTEN/NOTIFY, with a 200 ms
// poll as fallback). The pgvector extension is not needed.

import { BindingPgVector, type BindingPgVectorOptions } from '../binding.js'
import { ConfigError } from './errors.js'
import { type PostgresSsl, native, tlsOption } from './storage.js'
import { flatten, type IndexStats, type QueryResult } from './vector.js'

export interface PgVectorConfig {
  id: string
  connectionString?: string
  host?: string
  port?: number
  user?: string
  password?: string
  database?: string
  /** Pool size of this process (default 4, plus one listening connection). */
  max?: number
  /** Fallback poll for other processes' writes, in ms (default 200). */
  pollIntervalMs?: number
  /** TLS (as node-postgres' `ssl`), replacing the connection string's sslmode. */
  ssl?: PostgresSsl
  [key: string]: unknown
}

function connectionString(c: PgVectorConfig): string {
  if (typeof c.connectionString === 'string') {
    if (!/^postgres(ql)?:\/\//.test(c.connectionString)) throw new ConfigError('INVALID_INPUT', "new PgVector() needs `connectionString: 'postgres://user:pass@host:5432/db'`")
    return c.connectionString
  }
  if (typeof c.host !== 'string' || typeof c.database !== 'string') {
    throw new ConfigError('INVALID_INPUT', "new PgVector() needs `connectionString` or `host`, `database` (and `port`, `user`, `password`)")
  }
  const enc = encodeURIComponent
  const auth = c.user ? `${enc(c.user)}${c.password ? `:${enc(c.password)}` : ''}@` : ''
  return `postgres://${auth}${c.host}:${c.port ?? 5432}/${enc(c.database)}`
}

export class PgVector {
  readonly id: string
  readonly #url: string
  readonly #options: BindingPgVectorOptions
  #store: Promise<BindingPgVector> | undefined

  constructor(config: PgVectorConfig) {
    if (!config || typeof config.id !== 'string' || !config.id) throw new ConfigError('INVALID_INPUT', "new PgVector() needs an `id` (e.g. { id: 'vectors', connectionString })")
    this.id = config.id
    this.#url = connectionString(config)
    this.#options = { maxConnections: config.max ?? (config.pgPoolOptions as { max?: number } | undefined)?.max, pollIntervalMs: config.pollIntervalMs, tls: tlsOption(config.ssl, 'PgVector') }
  }

  #open(): Promise<BindingPgVector> {
    this.#store ??= native(() => BindingPgVector.connect(this.#url, this.#options))
    return this.#store
  }

  /** The native store (for Memory's semantic recall). */
  __native(): Promise<BindingPgVector> {
    return this.#open()
  }

  /** `indexConfig` and `buildIndex` (pgvector's own index types) are accepted and ignored: search runs in process. */
  async createIndex({ indexName, dimension, metric = 'cosine' }: { indexName: string; dimension: number; metric?: IndexStats['metric']; indexConfig?: unknown; buildIndex?: boolean }): Promise<void> {
    const store = await this.#open()
    await native(() => store.createIndex(indexName, dimension, metric))
  }

  async upsert({ indexName, vectors, metadata, ids }: { indexName: string; vectors: number[][] | Float32Array; metadata?: Record<string, any>[]; ids?: string[] }): Promise<string[]> {
    const store = await this.#open()
    return native(() => store.upsert(indexName, flatten(vectors), ids, metadata ? JSON.stringify(metadata) : undefined))
  }

  /** `minScore` drops weaker hits; `ef` and `probes` (pgvector tuning) are ignored. */
  async query({ indexName, queryVector, topK = 10, filter, includeVector = false, minScore }: { indexName: string; queryVector: number[] | Float32Array; topK?: number; filter?: Record<string, any>; includeVector?: boolean; minScore?: number; ef?: number; probes?: number }): Promise<QueryResult[]> {
    const store = await this.#open()
    const q = queryVector instanceof Float32Array ? queryVector : Float32Array.from(queryVector)
    const hits: QueryResult[] = JSON.parse(await native(() => store.query(indexName, q, topK, filter && Object.keys(filter).length ? JSON.stringify(filter) : undefined, includeVector)))
    return minScore === undefined ? hits : hits.filter((h) => h.score >= minScore)
  }

  async listIndexes(): Promise<string[]> {
    const store = await this.#open()
    return native(() => store.listIndexes())
  }

  async describeIndex({ indexName }: { indexName: string }): Promise<IndexStats> {
    const store = await this.#open()
    return JSON.parse(await native(() => store.describeIndex(indexName)))
  }

  async deleteIndex({ indexName }: { indexName: string }): Promise<void> {
    const store = await this.#open()
    await native(() => store.deleteIndex(indexName))
  }

  async updateVector({ indexName, id, update }: { indexName: string; id: string; update: { vector?: number[] | Float32Array; metadata?: Record<string, any> } }): Promise<void> {
    const store = await this.#open()
    const v = update?.vector === undefined ? undefined : update.vector instanceof Float32Array ? update.vector : Float32Array.from(update.vector)
    await native(() => store.updateVector(indexName, id, v, update?.metadata === undefined ? undefined : JSON.stringify(update.metadata)))
  }

  async deleteVector({ indexName, id }: { indexName: string; id: string }): Promise<void> {
    const store = await this.#open()
    await native(() => store.deleteVector(indexName, id))
  }

  /** Stops syncing and closes this process's connections. */
  async disconnect(): Promise<void> {
    if (!this.#store) return
    const store = await this.#store.catch(() => undefined)
    store?.disconnect()
  }
}
