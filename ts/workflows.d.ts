import { BindingWorkflow, type BindingStorage, type BindingWorkflowRun } from '../binding.js';
import { Agent } from './agent.js';
import { RequestContext } from './request-context.js';
import { type AnySchema } from './schema.js';
import { type LumosStorage } from './storage.js';
import { Tool } from './tools.js';
export type WorkflowRunStatus = 'running' | 'success' | 'failed' | 'suspended' | 'canceled' | 'waiting' | 'pending' | 'bailed';
export interface StepExecutionContext<TIn = any, TState = any, TResume = any> {
    inputData: TIn;
    state: TState;
    setState: (state: TState) => Promise<void>;
    resumeData?: TResume;
    suspendData?: unknown;
    suspend: (payload?: unknown, options?: unknown) => Promise<void>;
    bail: (result: unknown) => unknown;
    abort: () => void;
    getStepResult: (step: string | {
        id: string;
    }) => any;
    getInitData: () => any;
    requestContext: RequestContext;
    mastra?: unknown;
    runId: string;
    workflowId: string;
    resourceId?: string;
    retryCount: number;
    abortSignal: AbortSignal;
    [key: string]: unknown;
}
export interface StepConfig<TIn = any, TOut = any> {
    id: string;
    description?: string;
    inputSchema?: AnySchema;
    outputSchema?: AnySchema;
    resumeSchema?: AnySchema;
    suspendSchema?: AnySchema;
    stateSchema?: AnySchema;
    retries?: number;
    metadata?: Record<string, unknown>;
    execute: (context: StepExecutionContext<TIn>) => TOut | Promise<TOut>;
    [key: string]: unknown;
}
export interface Step<TIn = any, TOut = any> extends StepConfig<TIn, TOut> {
    component?: 'AGENT' | 'TOOL';
}
type AnyStep = Step | Workflow;
/** `createStep({ … })`, `createStep(agent, { structuredOutput? })` or `createStep(tool)`. */
export declare function createStep<TIn = any, TOut = any>(config: StepConfig<TIn, TOut> | Agent | Tool, options?: {
    structuredOutput?: {
        schema: AnySchema;
    };
    [key: string]: unknown;
}): Step<TIn, TOut>;
interface LiveRun {
    native: BindingWorkflowRun;
    /** The one given to start/resume/restart; else (resume, restart) the stored one, read on first use. */
    requestContext: RequestContext | undefined;
    abort: AbortController;
    mastra: unknown;
    resourceId?: string;
}
type MapSpec = Record<string, {
    step: AnyStep | AnyStep[];
    path: string;
} | {
    value: unknown;
    schema?: AnySchema;
} | {
    initData: unknown;
    path: string;
} | {
    requestContextPath: string;
    schema?: AnySchema;
}>;
export interface WorkflowConfig {
    id: string;
    description?: string;
    inputSchema?: AnySchema;
    outputSchema?: AnySchema;
    stateSchema?: AnySchema;
    retryConfig?: {
        attempts?: number;
        delay?: number;
    };
    /** Lumos: where runs are written when the workflow is not registered on a Mastra with storage
     * (default: an in-memory store, which does not survive the process). Overrides the registry's. */
    storage?: LumosStorage;
    options?: {
        validateInputs?: boolean;
        [key: string]: unknown;
    };
    [key: string]: unknown;
}
export declare class Workflow<TIn = any, TOut = any> {
    #private;
    readonly id: string;
    readonly description?: string;
    readonly inputSchema?: AnySchema;
    readonly outputSchema?: AnySchema;
    readonly stateSchema?: AnySchema;
    readonly retryConfig: {
        attempts?: number;
        delay?: number;
    };
    constructor(config: WorkflowConfig);
    then(step: AnyStep): this;
    parallel(steps: AnyStep[]): this;
    branch(branches: [(ctx: any) => unknown, AnyStep][]): this;
    dowhile(step: AnyStep, cond: (ctx: any) => unknown): this;
    dountil(step: AnyStep, cond: (ctx: any) => unknown): this;
    foreach(step: AnyStep, options?: {
        concurrency?: number;
    }): this;
    map(mapping: ((ctx: StepExecutionContext) => unknown) | MapSpec, options?: {
        id?: string;
    }): this;
    sleep(duration: number | ((ctx: StepExecutionContext) => number | Promise<number>)): this;
    sleepUntil(date: Date | ((ctx: StepExecutionContext) => Date | Promise<Date>)): this;
    /** Finalises the graph; schema mismatches between consecutive steps are reported here. */
    commit(): this;
    /** @internal The committed definition, for use as a nested step. */
    __definition(): Record<string, unknown>;
    /** @internal The step with this id, here or in a nested workflow. */
    __step(id: string): Step | undefined;
    /** @internal */
    __registerMastra(mastra: unknown): void;
    /** @internal */
    __mastra(): unknown;
    /** @internal The native graph and the store runs are written to. */
    __native(): Promise<{
        workflow: BindingWorkflow;
        storage: BindingStorage;
    }>;
    createRun(options?: {
        runId?: string;
        resourceId?: string;
        [key: string]: unknown;
    }): Promise<Run<TIn, TOut>>;
    getWorkflowRunById(runId: string): Promise<Record<string, any> | null>;
    listWorkflowRuns(args?: {
        fromDate?: Date;
        toDate?: Date;
        perPage?: number | false;
        page?: number;
        resourceId?: string;
        status?: WorkflowRunStatus;
    }): Promise<{
        runs: Record<string, any>[];
        total: number;
    }>;
    deleteWorkflowRunById(runId: string): Promise<void>;
    /** Continues every run left `running` in storage (its process died) from its last completed step. */
    restartAllActiveWorkflowRuns(): Promise<void>;
}
export declare function createWorkflow<TIn = any, TOut = any>(config: WorkflowConfig): Workflow<TIn, TOut>;
export interface WorkflowResult<TOut = any> {
    status: WorkflowRunStatus;
    result?: TOut;
    error?: {
        name?: string;
        message: string;
        stepId?: string;
        [key: string]: unknown;
    };
    steps: Record<string, any>;
    input: unknown;
    state?: unknown;
    suspended?: string[][];
    suspendPayload?: Record<string, unknown>;
    stepExecutionPath: string[];
    runId: string;
}
export interface StartOptions<TIn = any> {
    inputData?: TIn;
    initialState?: unknown;
    requestContext?: RequestContext;
    [key: string]: unknown;
}
export interface ResumeOptions {
    step?: string | AnyStep | (string | AnyStep)[];
    resumeData?: unknown;
    requestContext?: RequestContext;
    forEachIndex?: number;
    [key: string]: unknown;
}
export declare class Run<TIn = any, TOut = any> {
    #private;
    readonly runId: string;
    readonly workflowId: string;
    readonly resourceId?: string;
    constructor(workflow: Workflow<TIn, TOut>, runId: string, resourceId?: string, idIsNew?: boolean);
    /** Runs the workflow to its end or first suspension. Invalid `inputData` rejects before any step runs. */
    start(opts?: StartOptions<TIn>): Promise<WorkflowResult<TOut>>;
    /** Starts without waiting: `{ runId }`. */
    startAsync(opts?: StartOptions<TIn>): Promise<{
        runId: string;
    }>;
    /** Continues a suspended run (also one started by another process, from storage). Resume data
     * that does not fit the step's `resumeSchema` rejects, and the run stays suspended. */
    resume(opts?: ResumeOptions): Promise<WorkflowResult<TOut>>;
    /** Continues a run left `running` by a process that died, from its last completed step. */
    restart(opts?: {
        requestContext?: RequestContext;
    }): Promise<WorkflowResult<TOut>>;
    /** Cancels the run: in-flight steps see their abortSignal fire; the stored run becomes `canceled`. */
    cancel(): Promise<void>;
    stream(opts?: StartOptions<TIn>): WorkflowRunOutput<TOut>;
    resumeStream(opts?: ResumeOptions): WorkflowRunOutput<TOut>;
}
export interface WorkflowStreamEvent {
    type: string;
    runId: string;
    from: 'WORKFLOW';
    payload: Record<string, any>;
}
/** `run.stream()`: typed events on `fullStream` (also async-iterable itself), and the result. */
export declare class WorkflowRunOutput<TOut = any> {
    #private;
    readonly result: Promise<WorkflowResult<TOut>>;
    constructor(live: Promise<LiveRun>, finish: (live: LiveRun) => Promise<WorkflowResult<TOut>>);
    get status(): WorkflowRunStatus;
    get fullStream(): AsyncIterable<WorkflowStreamEvent>;
    [Symbol.asyncIterator](): AsyncIterator<WorkflowStreamEvent>;
}
export {};
