// Storage adapters under Mastra's class names. Both open the native store lazily, on first use.
//   new LibSQLStore({ id, url: 'file:./lumos.db' })      embedded SQLite (a path or :memory: too)
//   new PostgresStore({ id, connectionString })          PostgreSQL, shared by many processes

import { BindingStorage } from '../binding.js'
import { ConfigError, reviveNativeError } from './errors.js'

export async function native<T>(f: () => Promise<T> | T): Promise<T> {
  try {
    return await f()
  } catch (err) {
    throw reviveNativeError(err)
  }
}

export abstract class LumosStorage {
  readonly id: string
  readonly #url: string
  #store: Promise<BindingStorage> | undefined

  protected constructor(id: string, url: string) {
    this.id = id
    this.#url = url
  }

  /** The native store (opened, and its schema migrated, on first call). */
  __native(): Promise<BindingStorage> {
    this.#store ??= native(() => BindingStorage.open(this.#url))
    return this.#store
  }

  /** Mastra's explicit init; opening also happens on first use. */
  async init(): Promise<void> {
    await this.__native()
  }
}

export class LibSQLStore extends LumosStorage {
  constructor(config: { id: string; url?: string; [key: string]: unknown }) {
    if (!config || typeof config.id !== 'string' || !config.id) throw new ConfigError('INVALID_INPUT', "new LibSQLStore() needs an `id` (e.g. { id: 'store', url: 'file:./lumos.db' })")
    const url = config.url ?? 'file:./lumos.db'
    if (/^(libsql|https?|wss?):/i.test(url)) {
      throw new ConfigError('STORE_UNSUPPORTED_URL', `remote libsql URLs are not supported (${url}): use a file: URL for the embedded store, or PostgresStore to share state between processes`)
    }
    super(config.id, url)
  }
}

export class PostgresStore extends LumosStorage {
  constructor(config: { id: string; connectionString?: string; [key: string]: unknown }) {
    if (!config || typeof config.id !== 'string' || !config.id) throw new ConfigError('INVALID_INPUT', "new PostgresStore() needs an `id`")
    if (typeof config.connectionString !== 'string' || !/^postgres(ql)?:\/\//.test(config.connectionString)) {
      throw new ConfigError('INVALID_INPUT', "new PostgresStore() needs `connectionString: 'postgres://user:pass@host:5432/db'`")
    }
    super(config.id, config.connectionString)
  }
}
