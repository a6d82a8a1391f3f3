import { RequestContext } from './request-context.js';
import { type AnySchema } from './schema.js';
export interface ToolExecutionContext {
    requestContext: RequestContext;
    abortSignal?: AbortSignal;
    toolCallId?: string;
    runId?: string;
    mastra?: unknown;
    agent?: {
        agentId: string;
        toolCallId: string;
        messages: unknown[];
        threadId?: string;
        resourceId?: string;
    };
    [key: string]: unknown;
}
export interface ToolConfig<TIn = any, TOut = any> {
    id: string;
    description?: string;
    title?: string;
    inputSchema?: AnySchema;
    outputSchema?: AnySchema;
    execute?: (inputData: TIn, context: ToolExecutionContext) => TOut | Promise<TOut>;
    requireApproval?: boolean;
    [key: string]: unknown;
}
export interface ValidationFailure {
    error: true;
    message: string;
    validationErrors: {
        formErrors: string[];
        fieldErrors: Record<string, string[]>;
    };
}
export declare class Tool<TIn = any, TOut = any> {
    #private;
    readonly id: string;
    readonly description: string;
    readonly inputSchema?: AnySchema;
    readonly outputSchema?: AnySchema;
    readonly config: ToolConfig<TIn, TOut>;
    constructor(config: ToolConfig<TIn, TOut>);
    get hasExecute(): boolean;
    /** Validates input (returning Mastra's validation-failure object instead of throwing), runs, validates output. */
    execute(inputData: TIn, context?: Partial<ToolExecutionContext>): Promise<TOut | ValidationFailure>;
}
export declare function validationFailure(kind: 'input' | 'output', name: string, issues: {
    path: string;
    message: string;
}[]): ValidationFailure;
export declare function isValidationFailure(v: unknown): v is ValidationFailure;
export declare function createTool<TIn = any, TOut = any>(config: ToolConfig<TIn, TOut>): Tool<TIn, TOut>;
