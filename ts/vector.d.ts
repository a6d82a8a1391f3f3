import { BindingVectorStore } from '../binding.js';
export interface QueryResult {
    id: string;
    score: number;
    metadata?: Record<string, any>;
    vector?: number[];
}
export interface IndexStats {
    dimension: number;
    count: number;
    metric: 'cosine' | 'euclidean' | 'dotproduct';
    /** Lumos: vectors not yet linked into the HNSW graph (searched exactly until then, so slower). */
    pending?: number;
}
type Vectors = number[][] | Float32Array;
export declare class LibSQLVector {
    #private;
    readonly id: string;
    constructor(config: {
        id: string;
        url?: string;
        connectionUrl?: string;
        [key: string]: unknown;
    });
    /** The native store (for Memory's semantic recall). */
    __native(): Promise<BindingVectorStore>;
    createIndex({ indexName, dimension, metric, quantization }: {
        indexName: string;
        dimension: number;
        metric?: IndexStats['metric'];
        quantization?: 'f32' | 'int8';
    }): Promise<void>;
    upsert({ indexName, vectors, metadata, ids }: {
        indexName: string;
        vectors: Vectors;
        metadata?: Record<string, any>[];
        ids?: string[];
    }): Promise<string[]>;
    query({ indexName, queryVector, topK, filter, includeVector }: {
        indexName: string;
        queryVector: number[] | Float32Array;
        topK?: number;
        filter?: Record<string, any>;
        includeVector?: boolean;
    }): Promise<QueryResult[]>;
    listIndexes(): Promise<string[]>;
    describeIndex({ indexName }: {
        indexName: string;
    }): Promise<IndexStats>;
    /**
     * Lumos: resolves once every vector of the index is in the HNSW graph, which background threads
     * build after upserts (queries are correct meanwhile, only slower). Polls `describeIndex`.
     */
    waitIndexed({ indexName, abortSignal, pollMs }: {
        indexName: string;
        abortSignal?: AbortSignal;
        pollMs?: number;
    }): Promise<void>;
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
}
/** number[][] → one flat Float32Array (rows must share a length); a Float32Array passes as is. */
export declare function flatten(vectors: Vectors): Float32Array;
export {};
