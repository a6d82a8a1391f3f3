export declare class LumosError extends Error {
    readonly code: string;
    readonly details?: Record<string, unknown>;
    constructor(code: string, message: string, options?: {
        cause?: unknown;
        details?: Record<string, unknown>;
    });
}
/** A model provider failed: HTTP error status, timeout, connection, truncated or malformed stream. */
export declare class ProviderError extends LumosError {
    readonly status?: number;
    readonly body?: string;
    readonly provider?: string;
    readonly isRetryable: boolean;
    constructor(code: string, message: string, data?: {
        status?: number;
        body?: string;
        provider?: string;
        retryable?: boolean;
    });
    /** AI SDK `APICallError` spelling, for code that reads `error.statusCode`. */
    get statusCode(): number | undefined;
}
/** The run was cancelled through its `abortSignal`. */
export declare class AbortError extends LumosError {
    constructor(message?: string);
}
/** `structuredOutput` could not be parsed or did not match its schema. */
export declare class StructuredOutputError extends LumosError {
    readonly text?: string;
    constructor(message: string, data?: {
        text?: string;
        issues?: unknown;
    });
}
/** A tool threw; carried by `tool-error` chunks with the original error as `cause`. */
export declare class ToolExecutionError extends LumosError {
    readonly toolName?: string;
    constructor(message: string, options?: {
        cause?: unknown;
        toolName?: string;
    });
}
/** Bad configuration or arguments: fix the call, retrying will not help. */
export declare class ConfigError extends LumosError {
    constructor(code: string, message: string);
}
interface ErrorData {
    code?: string;
    message?: string;
    status?: number;
    body?: string;
    provider?: string;
    retryable?: boolean;
    name?: string;
    cause?: ErrorData;
    toolName?: string;
}
/** Builds the `Error` subclass for an error that crossed the boundary as data. */
export declare function errorFromData(data: ErrorData): LumosError;
/** Native functions throw with the JSON of a core `LumosError` as the message. */
export declare function reviveNativeError(err: unknown): unknown;
/** A JS error as plain data (for `tool-error` chunks crossing into Rust and back). */
export declare function serializeError(err: unknown): {
    name: string;
    message: string;
    stack?: string;
};
export {};
