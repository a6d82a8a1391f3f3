import { BindingEmbedder } from '../binding.js';
type EmbeddingConfig = string | {
    id?: string;
    providerId?: string;
    modelId?: string;
    url?: string;
    apiKey?: string;
    headers?: Record<string, string>;
    dimensions?: number;
};
export declare class ModelRouterEmbeddingModel {
    #private;
    readonly specificationVersion = "v2";
    readonly provider: string;
    readonly modelId: string;
    readonly maxEmbeddingsPerCall: number;
    readonly supportsParallelCalls = true;
    constructor(config: EmbeddingConfig);
    /** The native embedder (for Memory's semantic recall). */
    __native(): BindingEmbedder;
    /** Vectors as one flat Float32Array (`count × dimension`), the form vector stores take. */
    embedFlat(values: string[]): Promise<{
        vectors: Float32Array;
        dimension: number;
        tokens: number;
    }>;
    /** AI SDK EmbeddingModelV2 entry point. */
    doEmbed({ values }: {
        values: string[];
        abortSignal?: AbortSignal;
    }): Promise<{
        embeddings: number[][];
        usage: {
            tokens: number;
        };
    }>;
}
/** Mastra's `embedderOptions` (what it passes on to `embedMany`). */
export interface EmbedderOptions {
    /** Retries of one `doEmbed` call on retryable errors (default 3, as Mastra's Memory). */
    maxRetries?: number;
    /** `doEmbed` calls in flight at once when the model supports parallel calls (default: all). */
    maxParallelCalls?: number;
    headers?: Record<string, string | undefined>;
    providerOptions?: Record<string, Record<string, unknown>>;
}
/** An AI SDK embedding model object (spec v2/v3): anything with `doEmbed`. */
export declare function isEmbeddingModel(m: unknown): m is {
    doEmbed: Function;
    provider?: string;
    modelId?: string;
};
/**
 * The native embedder for an embedding model: a router model's own, or a bridge to an AI SDK
 * model's `doEmbed`. Batching by `maxEmbeddingsPerCall`, parallel calls (when
 * `supportsParallelCalls`) and retries run natively, as `embedMany` would run them.
 */
export declare function nativeEmbedder(model: ModelRouterEmbeddingModel | {
    doEmbed: Function;
}, options?: EmbedderOptions): Promise<BindingEmbedder>;
export {};
