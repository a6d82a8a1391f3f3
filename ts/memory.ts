// Mastra's Memory: threads, messages and working memory on a native store (SQLite by default,
// PostgreSQL to share). Semantic recall and the agent integration come next (issue 3).

import { BindingSemanticRecall } from '../binding.js'
import { type EmbedderOptions, ModelRouterEmbeddingModel, isEmbeddingModel, nativeEmbedder } from './embedding.js'
import { ConfigError, LumosError } from './errors.js'
import { LibSQLStore, type LumosStorage, native } from './storage.js'
import { PgVector } from './pgvector.js'
import { LibSQLVector } from './vector.js'

export interface StorageThread {
  id: string
  resourceId: string
  title?: string
  metadata?: Record<string, unknown>
  createdAt: Date
  updatedAt: Date
}

export interface MastraDBMessage {
  id: string
  role: 'user' | 'assistant' | 'system' | 'tool' | string
  createdAt: Date
  threadId?: string
  resourceId?: string
  type?: string
  content: { format: 2; parts: any[]; content?: string; [key: string]: unknown }
}

export interface MemoryOptions {
  lastMessages?: number | false
  semanticRecall?: boolean | Record<string, unknown>
  workingMemory?: { enabled?: boolean; scope?: 'resource' | 'thread'; template?: string; schema?: unknown }
  /** Mastra's title generation: `true`, or the model (default: the agent's), instructions and
   *  how many thread messages are needed first (default 1). */
  generateTitle?: boolean | { model?: unknown; instructions?: string | ((args: { requestContext: any; mastra?: unknown }) => string | Promise<string>); minMessages?: number; emitEvent?: boolean }
  [key: string]: unknown
}

interface RawThread {
  id: string
  resourceId: string
  title?: string
  metadata?: Record<string, unknown>
  createdAt: number
  updatedAt: number
}
interface RawMessage {
  id: string
  threadId: string
  resourceId?: string
  role: string
  type?: string
  createdAt: number
  content: MastraDBMessage['content']
}

const toThread = (t: RawThread): StorageThread => {
  const out: StorageThread = { id: t.id, resourceId: t.resourceId, createdAt: new Date(t.createdAt), updatedAt: new Date(t.updatedAt) }
  if (t.title !== undefined) out.title = t.title
  if (t.metadata !== undefined) out.metadata = t.metadata
  return out
}
const toMessage = (m: RawMessage): MastraDBMessage => ({ ...m, createdAt: new Date(m.createdAt) })
const millis = (d: unknown): number | undefined => (d instanceof Date ? d.getTime() : typeof d === 'number' ? d : typeof d === 'string' ? Date.parse(d) : undefined)

/** A message in any of the shapes Mastra accepts for saveMessages → the stored (format 2) shape. */
function toStored(m: any, index: number, now: number): RawMessage {
  if (!m || typeof m !== 'object') throw new ConfigError('INVALID_INPUT', `messages[${index}] must be a message object`)
  if (typeof m.threadId !== 'string' || !m.threadId) throw new ConfigError('INVALID_INPUT', `messages[${index}] needs a threadId`)
  if (typeof m.role !== 'string') throw new ConfigError('INVALID_INPUT', `messages[${index}] needs a role`)
  let content = m.content
  if (typeof content === 'string') content = { format: 2, parts: [{ type: 'text', text: content }], content }
  else if (Array.isArray(content)) content = { format: 2, parts: content }
  else if (!content || typeof content !== 'object') throw new ConfigError('INVALID_INPUT', `messages[${index}].content must be a string or { format: 2, parts }`)
  return {
    id: typeof m.id === 'string' && m.id ? m.id : globalThis.crypto.randomUUID(),
    threadId: m.threadId,
    resourceId: m.resourceId,
    role: m.role,
    type: m.type,
    // Keep insertion order for messages saved in one call without timestamps.
    createdAt: millis(m.createdAt) ?? now + index,
    content,
  }
}

type RecallConfig = { topK?: number; messageRange?: number | { before: number; after: number }; scope?: 'resource' | 'thread'; indexName?: string }

export class Memory {
  #storage: LumosStorage | undefined
  /** The registry's storage (`new Mastra({ storage })`) or, failing that, the embedded default. */
  #defaultStorage: LumosStorage | undefined
  readonly options: MemoryOptions
  readonly #vector: LibSQLVector | PgVector | undefined
  readonly #embedder: ModelRouterEmbeddingModel | { doEmbed: Function } | undefined
  readonly #embedderOptions: EmbedderOptions
  #recall: Promise<BindingSemanticRecall> | undefined

  constructor(config: { storage?: LumosStorage; vector?: LibSQLVector | PgVector | false; embedder?: string | ModelRouterEmbeddingModel | { doEmbed: Function } | Record<string, unknown>; embedderOptions?: EmbedderOptions; options?: MemoryOptions; [key: string]: unknown } = {}) {
    const options = { lastMessages: 10, ...(config.options ?? {}) }
    this.#storage = config.storage
    this.options = options
    this.#embedderOptions = config.embedderOptions ?? {}
    if (options.semanticRecall) {
      if (!(config.vector instanceof LibSQLVector || config.vector instanceof PgVector)) throw new ConfigError('INVALID_INPUT', 'Memory: semanticRecall needs `vector` (e.g. new LibSQLVector({ id, url }) or new PgVector({ id, connectionString }))')
      const e = config.embedder
      if (typeof e === 'string') this.#embedder = new ModelRouterEmbeddingModel(e)
      else if (e instanceof ModelRouterEmbeddingModel || isEmbeddingModel(e)) this.#embedder = e
      else if (e && typeof e === 'object') this.#embedder = new ModelRouterEmbeddingModel(e as any)
      else throw new ConfigError('INVALID_INPUT', "Memory: semanticRecall needs `embedder` (e.g. 'openai/text-embedding-3-small')")
      this.#vector = config.vector
    }
  }

  /** The native semantic-recall handle, or undefined when recall is off. */
  __recall(): Promise<BindingSemanticRecall> | undefined {
    const sr = this.options.semanticRecall
    if (!sr || !this.#vector || !this.#embedder) return undefined
    const embedder = this.#embedder
    const vector = this.#vector
    this.#recall ??= (async () => {
      const c: RecallConfig = sr === true ? {} : (sr as RecallConfig)
      const range = c.messageRange ?? 1
      const { before, after } = typeof range === 'number' ? { before: range, after: range } : range
      const args = [await nativeEmbedder(embedder, this.#embedderOptions), await this.storage.__native(), { topK: c.topK ?? 4, before, after, scope: c.scope ?? 'resource', indexPrefix: c.indexName }] as const
      return vector instanceof PgVector ? BindingSemanticRecall.withPgVector(await vector.__native(), ...args) : new BindingSemanticRecall(await vector.__native(), ...args)
    })()
    return this.#recall
  }

  get storage(): LumosStorage {
    if (this.#storage) return this.#storage
    this.#defaultStorage ??= new LibSQLStore({ id: 'lumos-default', url: 'file:./lumos.db' })
    return this.#defaultStorage
  }

  /** True when `storage` was given to this Memory (the registry's storage is then not used). */
  get hasOwnStorage(): boolean {
    return this.#storage !== undefined
  }

  /** Replaces the storage (Mastra's registry calls this for a Memory without its own). */
  setStorage(storage: LumosStorage): void {
    if ((this.#storage ?? this.#defaultStorage) === storage) return
    if (this.#storage) this.#storage = storage
    else this.#defaultStorage = storage
    // The recall handle holds the old store.
    this.#recall = undefined
  }

  /** Called for the agents of `new Mastra({ storage, agents })`: a Memory without storage uses the registry's. */
  __registerMastra(mastra: { getStorage?: () => LumosStorage | undefined }): void {
    const storage = mastra.getStorage?.()
    if (storage && !this.hasOwnStorage) this.setStorage(storage)
  }

  async #db() {
    return this.storage.__native()
  }

  async createThread({ resourceId, threadId, title, metadata }: { resourceId: string; threadId?: string; title?: string; metadata?: Record<string, unknown> }): Promise<StorageThread> {
    if (typeof resourceId !== 'string' || !resourceId) throw new ConfigError('INVALID_INPUT', 'createThread needs a resourceId')
    const db = await this.#db()
    const now = Date.now()
    const thread: RawThread = { id: threadId ?? globalThis.crypto.randomUUID(), resourceId, title, metadata, createdAt: now, updatedAt: now }
    return toThread(JSON.parse(await native(() => db.createThread(JSON.stringify(thread)))))
  }

  async getThreadById({ threadId }: { threadId: string; resourceId?: string }): Promise<StorageThread | null> {
    const db = await this.#db()
    const json = await native(() => db.getThread(threadId))
    return json == null ? null : toThread(JSON.parse(json))
  }

  async listThreads(args: { page?: number; perPage?: number | false; orderBy?: { field?: 'createdAt' | 'updatedAt'; direction?: 'ASC' | 'DESC' }; filter?: { resourceId?: string; metadata?: Record<string, unknown> }; resourceId?: string } = {}) {
    const db = await this.#db()
    const query = {
      resourceId: args.filter?.resourceId ?? args.resourceId,
      metadata: args.filter?.metadata,
      page: args.page ?? 0,
      perPage: args.perPage === false ? null : (args.perPage ?? 100),
      orderBy: args.orderBy?.field ?? 'createdAt',
      direction: args.orderBy?.direction ?? 'DESC',
    }
    const page = JSON.parse(await native(() => db.listThreads(JSON.stringify(query))))
    return { ...page, perPage: page.perPage ?? false, threads: page.threads.map(toThread) }
  }

  async updateThread({ id, title, metadata }: { id: string; title?: string; metadata?: Record<string, unknown> }): Promise<StorageThread> {
    const db = await this.#db()
    return toThread(JSON.parse(await native(() => db.updateThread(JSON.stringify({ id, title, metadata })))))
  }

  async deleteThread(threadId: string): Promise<void> {
    const db = await this.#db()
    await native(() => db.deleteThread(threadId))
  }

  /** Resolves once every message is durable. */
  async saveMessages({ messages }: { messages: any[]; memoryConfig?: MemoryOptions }): Promise<{ messages: MastraDBMessage[] }> {
    if (!Array.isArray(messages)) throw new ConfigError('INVALID_INPUT', 'saveMessages needs { messages: MastraDBMessage[] }')
    const now = Date.now()
    const stored = messages.map((m, i) => toStored(m, i, now))
    const db = await this.#db()
    const json = JSON.stringify(stored)
    await native(() => db.saveMessages(json))
    // Saved first, then embedded and indexed (as Mastra does): a failed embedding call never costs a message.
    const recall = this.__recall()
    if (recall) await native(async () => (await recall).index(json))
    return { messages: stored.map(toMessage) }
  }

  /**
   * A thread's messages. Without `perPage` it returns the last `lastMessages` (Mastra's default
   * 10); pages count from the newest, each page oldest-first.
   */
  async recall(args: { threadId: string; resourceId?: string; page?: number; perPage?: number | false; include?: { id: string; withPreviousMessages?: number; withNextMessages?: number }[]; vectorSearchString?: string; threadConfig?: MemoryOptions }) {
    const db = await this.#db()
    if (args.vectorSearchString) {
      const recall = this.__recall()
      if (!recall) throw new ConfigError('INVALID_INPUT', 'recall: vectorSearchString needs semanticRecall with a vector store and an embedder on this Memory')
      const resourceId = args.resourceId ?? (await this.getThreadById({ threadId: args.threadId }))?.resourceId ?? ''
      const found: RawMessage[] = JSON.parse(await native(async () => (await recall).search(args.vectorSearchString!, args.threadId, resourceId)))
      return { messages: found.map(toMessage), total: found.length, page: 0, perPage: false as const, hasMore: false }
    }
    const last = args.threadConfig?.lastMessages ?? this.options.lastMessages
    const perPage = args.perPage === false ? null : (args.perPage ?? (last === false ? null : last))
    const include = (args.include ?? []).map((i) => ({ id: i.id, before: i.withPreviousMessages ?? 0, after: i.withNextMessages ?? 0 }))
    const query = { threadId: args.threadId, resourceId: args.resourceId, page: args.page ?? 0, perPage, direction: 'DESC', include }
    const page = JSON.parse(await native(() => db.listMessages(JSON.stringify(query))))
    // The page comes newest first; reversed, equal timestamps keep their insertion order.
    const messages: MastraDBMessage[] = page.messages.map(toMessage).reverse().sort((a: MastraDBMessage, b: MastraDBMessage) => a.createdAt.getTime() - b.createdAt.getTime())
    return { messages, total: page.total, page: page.page, perPage: page.perPage ?? false, hasMore: page.hasMore }
  }

  async deleteMessages(ids: string | string[] | { id: string }[]): Promise<void> {
    const list = (Array.isArray(ids) ? ids : [ids]).map((i: any) => (typeof i === 'string' ? i : i.id))
    const db = await this.#db()
    await native(() => db.deleteMessages(list))
  }

  async cloneThread(args: { sourceThreadId: string; newThreadId?: string; resourceId?: string; title?: string; metadata?: Record<string, unknown>; options?: { messageLimit?: number; messageFilter?: { startDate?: Date; endDate?: Date; messageIds?: string[] } } }) {
    const db = await this.#db()
    const f = args.options?.messageFilter
    const options = {
      sourceThreadId: args.sourceThreadId,
      newThreadId: args.newThreadId,
      resourceId: args.resourceId,
      title: args.title,
      metadata: args.metadata,
      messageLimit: args.options?.messageLimit,
      messageFilter: f ? { startDate: millis(f.startDate), endDate: millis(f.endDate), messageIds: f.messageIds } : undefined,
    }
    const r = JSON.parse(await native(() => db.cloneThread(JSON.stringify(options))))
    return { thread: toThread(r.thread), clonedMessages: r.clonedMessages.map(toMessage) }
  }

  #workingMemoryScope(): 'resource' | 'thread' {
    return this.options.workingMemory?.scope ?? 'resource'
  }

  /** Resource-scoped by default (shared by every thread of the resource), as in Mastra. */
  async getWorkingMemory({ threadId, resourceId }: { threadId: string; resourceId?: string }): Promise<string | null> {
    const db = await this.#db()
    if (this.#workingMemoryScope() === 'thread') {
      const t = await this.getThreadById({ threadId })
      return (t?.metadata?.workingMemory as string | undefined) ?? null
    }
    const rid = resourceId ?? (await this.getThreadById({ threadId }))?.resourceId
    if (!rid) return null
    const json = await native(() => db.getResource(rid))
    return json == null ? null : (JSON.parse(json).workingMemory ?? null)
  }

  async updateWorkingMemory({ threadId, resourceId, workingMemory }: { threadId: string; resourceId?: string; workingMemory: string }): Promise<void> {
    if (typeof workingMemory !== 'string') throw new ConfigError('INVALID_INPUT', 'updateWorkingMemory needs workingMemory: string')
    if (this.#workingMemoryScope() === 'thread') {
      await this.updateThread({ id: threadId, metadata: { workingMemory } })
      return
    }
    const rid = resourceId ?? (await this.getThreadById({ threadId }))?.resourceId
    if (!rid) throw new LumosError('STORE_NOT_FOUND', `updateWorkingMemory: thread ${threadId} not found and no resourceId given`)
    const db = await this.#db()
    await native(() => db.upsertResource(JSON.stringify({ id: rid, workingMemory })))
  }

  getWorkingMemoryTemplate(): string | undefined {
    return this.options.workingMemory?.template
  }
}
