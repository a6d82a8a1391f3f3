// Storage adapters under Mastra's class names. Both open the native store lazily, on first use.
//   new LibSQLStore({ id, url: 'file:./lumos.db' })      embedded SQLite (a path or :memory: too)
//   new PostgresStore({ id, connectionString, ssl? })    PostgreSQL, shared by many processes (TLS per sslmode or `ssl`)

import { BindingStorage, type BindingTlsOptions } from '../binding.js'
import { ConfigError, reviveNativeError } from './errors.js'

export async function native<T>(f: () => Promise<T> | T): Promise<T> {
  try {
    return await f()
  } catch (err) {
    throw reviveNativeError(err)
  }
}

/** Mastra's (node-postgres') `ssl` option. */
export type PostgresSsl = boolean | { rejectUnauthorized?: boolean; ca?: string | Buffer | (string | Buffer)[]; [key: string]: unknown }

/**
 * `ssl` → the native TLS settings, which replace the connection string's sslmode: `true` →
 * verify-full against the bundled public roots; `{ ca }` → verify-full against that CA;
 * `{ rejectUnauthorized: false }` → encrypted, certificate not checked; `false` → no TLS.
 */
export function tlsOption(ssl: unknown, who: string): BindingTlsOptions | undefined {
  if (ssl === undefined || ssl === null) return undefined
  if (typeof ssl === 'boolean') return { mode: ssl ? 'verify-full' : 'disable' }
  if (typeof ssl !== 'object') throw new ConfigError('INVALID_INPUT', `${who}: \`ssl\` must be a boolean or { rejectUnauthorized?, ca? }`)
  const o = ssl as Exclude<PostgresSsl, boolean>
  for (const key of ['cert', 'key', 'pfx', 'passphrase']) {
    if (o[key] !== undefined) throw new ConfigError('NOT_SUPPORTED', `${who}: ssl.${key} (client certificates) is not supported; authenticate with a password over TLS`)
  }
  const cas = o.ca === undefined ? [] : Array.isArray(o.ca) ? o.ca : [o.ca]
  const ca = cas.map((c) => (typeof c === 'string' ? c : Buffer.isBuffer(c) ? c.toString('utf8') : undefined))
  if (ca.some((c) => c === undefined)) throw new ConfigError('INVALID_INPUT', `${who}: ssl.ca must be PEM text (a string or Buffer, or an array of them)`)
  if (o.rejectUnauthorized === false) return { mode: 'require' }
  return { mode: 'verify-full', ca: ca.length ? ca.join('\n') : undefined }
}

export abstract class LumosStorage {
  readonly id: string
  readonly #url: string
  readonly #tls: BindingTlsOptions | undefined
  #store: Promise<BindingStorage> | undefined

  protected constructor(id: string, url: string, tls?: BindingTlsOptions) {
    this.id = id
    this.#url = url
    this.#tls = tls
  }

  /** The native store (opened, and its schema migrated, on first call). */
  __native(): Promise<BindingStorage> {
    this.#store ??= native(() => BindingStorage.open(this.#url, this.#tls))
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
  /** TLS: the connection string's `sslmode` (libpq's modes; default prefer) or `ssl` (node-postgres'). */
  constructor(config: { id: string; connectionString?: string; ssl?: PostgresSsl; [key: string]: unknown }) {
    if (!config || typeof config.id !== 'string' || !config.id) throw new ConfigError('INVALID_INPUT', "new PostgresStore() needs an `id`")
    if (typeof config.connectionString !== 'string' || !/^postgres(ql)?:\/\//.test(config.connectionString)) {
      throw new ConfigError('INVALID_INPUT', "new PostgresStore() needs `connectionString: 'postgres://user:pass@host:5432/db'`")
    }
    super(config.id, config.connectionString, tlsOption(config.ssl, 'PostgresStore'))
  }
}
