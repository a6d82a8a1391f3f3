import { BindingPgVector } from '../binding.js';
import { type PostgresSsl } from './storage.js';
import { type IndexStats, type QueryResult } from './vector.js';
export interface PgVectorConfig {
    id: string;
    connectionString?: string;
    host?: string;
    port?: number;
    user?: string;
    password?: string;
    database?: string;
    /** Pool size of this process (default 4, plus one listening connection). */
    max?: number;
    /** Fallback poll for other processes' writes, in ms (default 200). */
    pollIntervalMs?: number;
    /** TLS (as node-postgres' `ssl`), replacing the connection string's sslmode. */
    ssl?: PostgresSsl;
    [key: string]: unknown;
}
export declare class PgVector {
    #private;
    readonly id: string;
    constructor(config: PgVectorConfig);
    /** The native store (for Memory's semantic recall). */
    __native(): Promise<BindingPgVector>;
    /** `indexConfig` and `buildIndex` (pgvector's own index types) are accepted and ignored: search runs in process. */
    createIndex({ indexName, dimension, metric }: {
        indexName: string;
        dimension: number;
        metric?: IndexStats['metric'];
        indexConfig?: unknown;
        buildIndex?: boolean;
    }): Promise<void>;
    upsert({ indexName, vectors, metadata, ids }: {
        indexName: string;
        vectors: number[][] | Float32Array;
        metadata?: Record<string, any>[];
        ids?: string[];
    }): Promise<string[]>;
    /** `minScore` drops weaker hits; `ef` and `probes` (pgvector tuning) are ignored. */
    query({ indexName, queryVector, topK, filter, includeVector, minScore }: {
        indexName: string;
        queryVector: number[] | Float32Array;
        topK?: number;
        filter?: Record<string, any>;
        includeVector?: boolean;
        minScore?: number;
        ef?: number;
        probes?: number;
    }): Promise<QueryResult[]>;
    listIndexes(): Promise<string[]>;
    describeIndex({ indexName }: {
        indexName: string;
    }): Promise<IndexStats>;
    deleteIndex({ indexName }: {
        indexName: string;
    }): Promise<void>;
    updateVector({ indexName, id, update }: {
        indexName: string;
        id: string;
        update: {
            vector?: number[] | Float32Array;
            metadata?: Record<string, any>;
        };
    }): Promise<void>;
    deleteVector({ indexName, id }: {
        indexName: string;
        id: string;
    }): Promise<void>;
    /** Stops syncing and closes this process's connections. */
    disconnect(): Promise<void>;
}
