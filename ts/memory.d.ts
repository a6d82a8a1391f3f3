import { BindingSemanticRecall } from '../binding.js';
import { type EmbedderOptions, ModelRouterEmbeddingModel } from './embedding.js';
import { type LumosStorage } from './storage.js';
import { PgVector } from './pgvector.js';
import { LibSQLVector } from './vector.js';
export interface StorageThread {
    id: string;
    resourceId: string;
    title?: string;
    metadata?: Record<string, unknown>;
    createdAt: Date;
    updatedAt: Date;
}
export interface MastraDBMessage {
    id: string;
    role: 'user' | 'assistant' | 'system' | 'tool' | string;
    createdAt: Date;
    threadId?: string;
    resourceId?: string;
    type?: string;
    content: {
        format: 2;
        parts: any[];
        content?: string;
        [key: string]: unknown;
    };
}
export interface MemoryOptions {
    lastMessages?: number | false;
    semanticRecall?: boolean | Record<string, unknown>;
    workingMemory?: {
        enabled?: boolean;
        scope?: 'resource' | 'thread';
        template?: string;
        schema?: unknown;
    };
    /** Mastra's title generation: `true`, or the model (default: the agent's), instructions and
     *  how many thread messages are needed first (default 1). */
    generateTitle?: boolean | {
        model?: unknown;
        instructions?: string | ((args: {
            requestContext: any;
            mastra?: unknown;
        }) => string | Promise<string>);
        minMessages?: number;
        emitEvent?: boolean;
    };
    [key: string]: unknown;
}
export declare class Memory {
    #private;
    readonly options: MemoryOptions;
    constructor(config?: {
        storage?: LumosStorage;
        vector?: LibSQLVector | PgVector | false;
        embedder?: string | ModelRouterEmbeddingModel | {
            doEmbed: Function;
        } | Record<string, unknown>;
        embedderOptions?: EmbedderOptions;
        options?: MemoryOptions;
        [key: string]: unknown;
    });
    /** The native semantic-recall handle, or undefined when recall is off. */
    __recall(): Promise<BindingSemanticRecall> | undefined;
    get storage(): LumosStorage;
    /** True when `storage` was given to this Memory (the registry's storage is then not used). */
    get hasOwnStorage(): boolean;
    /** Replaces the storage (Mastra's registry calls this for a Memory without its own). */
    setStorage(storage: LumosStorage): void;
    /** Called for the agents of `new Mastra({ storage, agents })`: a Memory without storage uses the registry's. */
    __registerMastra(mastra: {
        getStorage?: () => LumosStorage | undefined;
    }): void;
    createThread({ resourceId, threadId, title, metadata }: {
        resourceId: string;
        threadId?: string;
        title?: string;
        metadata?: Record<string, unknown>;
    }): Promise<StorageThread>;
    getThreadById({ threadId }: {
        threadId: string;
        resourceId?: string;
    }): Promise<StorageThread | null>;
    listThreads(args?: {
        page?: number;
        perPage?: number | false;
        orderBy?: {
            field?: 'createdAt' | 'updatedAt';
            direction?: 'ASC' | 'DESC';
        };
        filter?: {
            resourceId?: string;
            metadata?: Record<string, unknown>;
        };
        resourceId?: string;
    }): Promise<any>;
    updateThread({ id, title, metadata }: {
        id: string;
        title?: string;
        metadata?: Record<string, unknown>;
    }): Promise<StorageThread>;
    deleteThread(threadId: string): Promise<void>;
    /** Resolves once every message is durable. */
    saveMessages({ messages }: {
        messages: any[];
        memoryConfig?: MemoryOptions;
    }): Promise<{
        messages: MastraDBMessage[];
    }>;
    /**
     * A thread's messages. Without `perPage` it returns the last `lastMessages` (Mastra's default
     * 10); pages count from the newest, each page oldest-first.
     */
    recall(args: {
        threadId: string;
        resourceId?: string;
        page?: number;
        perPage?: number | false;
        include?: {
            id: string;
            withPreviousMessages?: number;
            withNextMessages?: number;
        }[];
        vectorSearchString?: string;
        threadConfig?: MemoryOptions;
    }): Promise<{
        messages: MastraDBMessage[];
        total: any;
        page: any;
        perPage: any;
        hasMore: any;
    }>;
    deleteMessages(ids: string | string[] | {
        id: string;
    }[]): Promise<void>;
    cloneThread(args: {
        sourceThreadId: string;
        newThreadId?: string;
        resourceId?: string;
        title?: string;
        metadata?: Record<string, unknown>;
        options?: {
            messageLimit?: number;
            messageFilter?: {
                startDate?: Date;
                endDate?: Date;
                messageIds?: string[];
            };
        };
    }): Promise<{
        thread: StorageThread;
        clonedMessages: any;
    }>;
    /** Resource-scoped by default (shared by every thread of the resource), as in Mastra. */
    getWorkingMemory({ threadId, resourceId }: {
        threadId: string;
        resourceId?: string;
    }): Promise<string | null>;
    updateWorkingMemory({ threadId, resourceId, workingMemory }: {
        threadId: string;
        resourceId?: string;
        workingMemory: string;
    }): Promise<void>;
    getWorkingMemoryTemplate(): string | undefined;
}
