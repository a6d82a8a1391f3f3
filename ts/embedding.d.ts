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
export {};
