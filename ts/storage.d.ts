import { BindingStorage } from '../binding.js';
export declare function native<T>(f: () => Promise<T> | T): Promise<T>;
export declare abstract class LumosStorage {
    #private;
    readonly id: string;
    protected constructor(id: string, url: string);
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
    constructor(config: {
        id: string;
        connectionString?: string;
        [key: string]: unknown;
    });
}
