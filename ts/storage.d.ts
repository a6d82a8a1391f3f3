import { BindingStorage, type BindingTlsOptions } from '../binding.js';
export declare function native<T>(f: () => Promise<T> | T): Promise<T>;
/** Mastra's (node-postgres') `ssl` option. */
export type PostgresSsl = boolean | {
    rejectUnauthorized?: boolean;
    ca?: string | Buffer | (string | Buffer)[];
    [key: string]: unknown;
};
/**
 * `ssl` → the native TLS settings, which replace the connection string's sslmode: `true` →
 * verify-full against the bundled public roots; `{ ca }` → verify-full against that CA;
 * `{ rejectUnauthorized: false }` → encrypted, certificate not checked; `false` → no TLS.
 */
export declare function tlsOption(ssl: unknown, who: string): BindingTlsOptions | undefined;
export declare abstract class LumosStorage {
    #private;
    readonly id: string;
    protected constructor(id: string, url: string, tls?: BindingTlsOptions);
    /** The native store (opened, and its schema migrated, on first call). */
    __native(): Promise<BindingStorage>;
    /** Mastra's explicit init; opening also happens on first use. */
    init(): Promise<void>;
}
export declare class LibSQLStore extends LumosStorage {
    constructor(config: {
        id: string;
        url?: string;
        [key: string]: unknown;
    });
}
export declare class PostgresStore extends LumosStorage {
    /** TLS: the connection string's `sslmode` (libpq's modes; default prefer) or `ssl` (node-postgres'). */
    constructor(config: {
        id: string;
        connectionString?: string;
        ssl?: PostgresSsl;
        [key: string]: unknown;
    });
}
