import { ToolExecutionError } from './errors.js';
import { type Chunk, type FullOutput, ModelOutput, type StreamCallbacks, type StructuredOutputOptions } from './output.js';
import { RequestContext } from './request-context.js';
import { Memory, type MemoryOptions } from './memory.js';
import { Tool } from './tools.js';
type Dynamic<T> = T | ((args: {
    requestContext: RequestContext;
    mastra?: unknown;
}) => T | Promise<T>);
export type ModelConfig = string | {
    id?: string;
    providerId?: string;
    modelId?: string;
    url?: string;
    apiKey?: string;
    headers?: Record<string, string>;
    /** Lumos extension: fail a connection attempt after this long (default 10 s). */
    connectTimeoutMs?: number;
    /** Lumos extension: fail when the provider sends nothing for this long (default 300 s). */
    readTimeoutMs?: number;
} | {
    doGenerate?: Function;
    doStream?: Function;
    provider?: string;
    modelId?: string;
    specificationVersion?: string;
};
export type StopCondition = ((opts: {
    steps: any[];
}) => boolean | Promise<boolean>) & {
    __lumosStop?: unknown;
};
export interface AgentExecutionOptions {
    instructions?: string | string[];
    system?: string | string[];
    maxSteps?: number;
    stopWhen?: StopCondition | StopCondition[];
    toolChoice?: 'auto' | 'none' | 'required' | {
        type: 'tool';
        toolName: string;
    };
    activeTools?: string[];
    toolsets?: Record<string, Record<string, any>>;
    modelSettings?: {
        temperature?: number;
        topP?: number;
        topK?: number;
        maxOutputTokens?: number;
        presencePenalty?: number;
        frequencyPenalty?: number;
        stopSequences?: string[];
        seed?: number;
        maxRetries?: number;
    };
    structuredOutput?: StructuredOutputOptions;
    requestContext?: RequestContext;
    abortSignal?: AbortSignal;
    runId?: string;
    providerOptions?: Record<string, Record<string, unknown>>;
    toolCallConcurrency?: number;
    onStepFinish?: StreamCallbacks['onStepFinish'];
    onFinish?: StreamCallbacks['onFinish'];
    onChunk?: StreamCallbacks['onChunk'];
    onError?: StreamCallbacks['onError'];
    onAbort?: (e: {
        steps: any[];
    }) => unknown;
    memory?: {
        thread: string | {
            id: string;
            title?: string;
            metadata?: Record<string, unknown>;
        };
        resource: string;
        options?: {
            lastMessages?: number | false;
            generateTitle?: MemoryOptions['generateTitle'];
        };
        readOnly?: boolean;
        /** Called with the title once `generateTitle` has made one. */
        onTitleGenerated?: (title: string) => unknown;
    };
    [key: string]: unknown;
}
export interface AgentConfig {
    id: string;
    name?: string;
    description?: string;
    instructions?: Dynamic<string | string[] | {
        role?: string;
        content: string;
    } | {
        role?: string;
        content: string;
    }[]>;
    model: Dynamic<ModelConfig | ModelConfig[]>;
    tools?: Dynamic<Record<string, any>>;
    defaultOptions?: Dynamic<AgentExecutionOptions>;
    memory?: Dynamic<Memory>;
    maxRetries?: number;
    [key: string]: unknown;
}
/** AI SDK's `stepCountIs`: stop once `n` steps have run (evaluated natively). */
export declare function stepCountIs(n: number): StopCondition;
/** AI SDK's `hasToolCall`: stop after a step that called `name` (evaluated natively). */
export declare function hasToolCall(name: string): StopCondition;
export declare class Agent {
    #private;
    readonly id: string;
    readonly name: string;
    constructor(config: AgentConfig);
    /** Called by `new Mastra({ agents })`. */
    __registerMastra(mastra: unknown): void;
    getMemory(opts?: {
        requestContext?: RequestContext;
    }): Promise<Memory | undefined>;
    getDescription(): string;
    getInstructions(opts?: {
        requestContext?: RequestContext;
    }): Promise<string | string[] | {
        role?: string;
        content: string;
    } | {
        role?: string;
        content: string;
    }[]>;
    getModel(opts?: {
        requestContext?: RequestContext;
    }): Promise<ModelConfig | ModelConfig[]>;
    listTools(opts?: {
        requestContext?: RequestContext;
    }): Promise<Record<string, Tool>>;
    getDefaultOptions(opts?: {
        requestContext?: RequestContext;
    }): Promise<AgentExecutionOptions>;
    /** Runs to completion and returns Mastra's FullOutput. Rejects with a coded error on failure. */
    generate(messages: unknown, options?: AgentExecutionOptions): Promise<FullOutput<any>>;
    /** Starts a run and returns its stream output at once; failures arrive as `error` chunks. */
    stream(messages: unknown, options?: AgentExecutionOptions): Promise<ModelOutput<any>>;
}
export type { Chunk, FullOutput };
export { ToolExecutionError };
