import type { ReadableStream } from 'node:stream/web';
import type { BindingRun } from '../binding.js';
import { type AnySchema } from './schema.js';
export interface Usage {
    inputTokens: number;
    outputTokens: number;
    totalTokens: number;
    reasoningTokens?: number;
    cachedInputTokens?: number;
}
export interface Chunk {
    type: string;
    runId: string;
    from: 'AGENT';
    payload: any;
    object?: unknown;
}
export interface FullOutput<T = unknown> {
    text: string;
    object: T | undefined;
    usedFallbackValue?: boolean;
    toolCalls: Chunk[];
    toolResults: Chunk[];
    steps: any[];
    usage: Usage;
    totalUsage: Usage;
    finishReason: string;
    reasoning: unknown[];
    reasoningText: string | undefined;
    sources: unknown[];
    files: unknown[];
    warnings: unknown[];
    providerMetadata: unknown;
    request: Record<string, unknown>;
    response: {
        id: string;
        modelId: string;
        timestamp: string;
        messages: unknown[];
    };
    messages: unknown[];
    runId: string;
    error: Error | undefined;
    tripwire: undefined;
    traceId: undefined;
}
export interface StructuredOutputOptions {
    schema: AnySchema;
    errorStrategy?: 'strict' | 'warn' | 'fallback';
    fallbackValue?: unknown;
    [key: string]: unknown;
}
/** Revives error data inside chunks into Error objects. */
export declare function reviveChunk(chunk: Chunk): Chunk;
/** Native output JSON → FullOutput (structured output validated here, with the user's schema). */
export declare function toFullOutput(raw: any, structured?: StructuredOutputOptions): Promise<FullOutput>;
export declare function zeroUsage(): Usage;
export interface StreamCallbacks {
    onChunk?: (chunk: Chunk) => unknown;
    onStepFinish?: (step: any) => unknown;
    onFinish?: (result: any) => unknown;
    onError?: (e: {
        error: Error;
    }) => unknown;
}
/** Pulls chunk batches from the native run, invoking callbacks, until the run ends. */
export declare function pumpChunks(run: BindingRun, callbacks: StreamCallbacks, sink: (c: Chunk) => void, beforeFinish?: () => Promise<(Chunk | undefined)[]>): Promise<void>;
/** The object `agent.stream()` resolves to (Mastra's MastraModelOutput). */
export declare class ModelOutput<T = unknown> {
    #private;
    readonly runId: string;
    status: 'running' | 'success' | 'failed' | 'aborted';
    error: Error | undefined;
    /** `titleChunk`: the `data-thread-title` chunk of generateTitle.emitEvent, emitted before `finish`. */
    constructor(run: BindingRun, runId: string, finalize: () => Promise<FullOutput<T>>, callbacks: StreamCallbacks, structured?: StructuredOutputOptions, titleChunk?: () => Promise<Chunk | undefined>);
    get fullStream(): ReadableStream<Chunk>;
    get textStream(): ReadableStream<string>;
    get objectStream(): ReadableStream<unknown>;
    get text(): Promise<string>;
    get object(): Promise<T | undefined>;
    get usage(): Promise<Usage>;
    get totalUsage(): Promise<Usage>;
    get finishReason(): Promise<string>;
    get toolCalls(): Promise<Chunk[]>;
    get toolResults(): Promise<Chunk[]>;
    get steps(): Promise<any[]>;
    get response(): Promise<{
        id: string;
        modelId: string;
        timestamp: string;
        messages: unknown[];
    }>;
    get reasoningText(): Promise<string | undefined>;
    get reasoning(): Promise<unknown[]>;
    get warnings(): Promise<unknown[]>;
    get messages(): Promise<unknown[]>;
    get sources(): Promise<unknown[]>;
    get files(): Promise<unknown[]>;
    get providerMetadata(): Promise<unknown>;
    getFullOutput(): Promise<FullOutput<T>>;
    consumeStream(): Promise<void>;
    /** Stops the run (same as firing the abortSignal). */
    abort(): void;
}
export declare function ensureLumosError(err: unknown): Error;
