// createWorkflow / createStep: Mastra's workflow API. The graph is committed to the native
// engine (crates/workflow), which schedules it and writes every step transition to storage;
// this file keeps the user's functions and runs them when the engine asks (one dispatcher for
// every workflow: `handle` picks the workflow's function table, `func` the function).

import {
  BindingWorkflow,
  BindingWorkflowHost,
  type BindingStorage,
  type BindingWorkflowRun,
  cancelWorkflowRun,
  deleteWorkflowRun,
  executeWorkflow,
  getWorkflowRun,
  listWorkflowRuns,
} from '../binding.js'
import { Agent } from './agent.js'
import { ConfigError, LumosError, reviveNativeError, serializeError } from './errors.js'
import { RequestContext } from './request-context.js'
import { type AnySchema, issuesToText, toJSONSchema, validate } from './schema.js'
import { LibSQLStore, type LumosStorage, native } from './storage.js'
import { isValidationFailure, Tool } from './tools.js'

export type WorkflowRunStatus = 'running' | 'success' | 'failed' | 'suspended' | 'canceled' | 'waiting' | 'pending' | 'bailed'

export interface StepExecutionContext<TIn = any, TState = any, TResume = any> {
  inputData: TIn
  state: TState
  setState: (state: TState) => Promise<void>
  resumeData?: TResume
  suspendData?: unknown
  suspend: (payload?: unknown, options?: unknown) => Promise<void>
  bail: (result: unknown) => unknown
  abort: () => void
  getStepResult: (step: string | { id: string }) => any
  getInitData: () => any
  requestContext: RequestContext
  mastra?: unknown
  runId: string
  workflowId: string
  resourceId?: string
  retryCount: number
  abortSignal: AbortSignal
  [key: string]: unknown
}

export interface StepConfig<TIn = any, TOut = any> {
  id: string
  description?: string
  inputSchema?: AnySchema
  outputSchema?: AnySchema
  resumeSchema?: AnySchema
  suspendSchema?: AnySchema
  stateSchema?: AnySchema
  retries?: number
  metadata?: Record<string, unknown>
  execute: (context: StepExecutionContext<TIn>) => TOut | Promise<TOut>
  [key: string]: unknown
}

export interface Step<TIn = any, TOut = any> extends StepConfig<TIn, TOut> {
  component?: 'AGENT' | 'TOOL'
}

type AnyStep = Step | Workflow

/** `createStep({ … })`, `createStep(agent, { structuredOutput? })` or `createStep(tool)`. */
export function createStep<TIn = any, TOut = any>(config: StepConfig<TIn, TOut> | Agent | Tool, options: { structuredOutput?: { schema: AnySchema }; [key: string]: unknown } = {}): Step<TIn, TOut> {
  if (config instanceof Agent) return agentStep(config, options) as Step<TIn, TOut>
  if (config instanceof Tool) return toolStep(config) as Step<TIn, TOut>
  if (!config || typeof config !== 'object' || typeof config.id !== 'string' || !config.id) {
    throw new ConfigError('INVALID_INPUT', 'createStep needs an `id` (a non-empty string) and an `execute` function, or an Agent or a Tool')
  }
  if (typeof config.execute !== 'function') throw new ConfigError('INVALID_INPUT', `createStep '${config.id}': \`execute\` must be a function`)
  return { ...config }
}

function agentStep(agent: Agent, options: { structuredOutput?: { schema: AnySchema } }): Step {
  const structured = options.structuredOutput
  return {
    id: agent.id,
    description: agent.getDescription?.() ?? `Agent ${agent.name}`,
    component: 'AGENT',
    inputSchema: { type: 'object', properties: { prompt: { type: 'string' } }, required: ['prompt'] },
    outputSchema: structured?.schema ?? { type: 'object', properties: { text: { type: 'string' } }, required: ['text'] },
    execute: async ({ inputData, requestContext, abortSignal }) => {
      const result = await agent.generate(inputData.prompt, { requestContext, abortSignal, ...(structured ? { structuredOutput: structured } : {}) } as any)
      return structured ? result.object : { text: result.text }
    },
  }
}

function toolStep(tool: Tool): Step {
  return {
    id: tool.id,
    description: tool.description,
    component: 'TOOL',
    inputSchema: tool.inputSchema,
    outputSchema: tool.outputSchema,
    execute: async ({ inputData, requestContext, abortSignal, runId, mastra, suspend, resumeData }) => {
      const out = await tool.execute(inputData, { requestContext, abortSignal, runId, mastra, suspend, resumeData })
      if (isValidationFailure(out)) throw new LumosError('TOOL_INPUT_VALIDATION_FAILED', out.message)
      return out
    },
  }
}

// ---------------------------------------------------------------------------------------------
// The function tables and the dispatcher the engine calls.

type TableEntry =
  | { kind: 'step'; step: Step }
  | { kind: 'condition'; fn: (ctx: any) => unknown }
  | { kind: 'map'; fn: (ctx: any) => unknown }
  | { kind: 'sleep'; fn: (ctx: any) => unknown }

interface LiveRun {
  native: BindingWorkflowRun
  /** The one given to start/resume/restart; else (resume, restart) the stored one, read on first use. */
  requestContext: RequestContext | undefined
  abort: AbortController
  mastra: unknown
  resourceId?: string
}

const tables = new Map<number, TableEntry[]>()
const liveRuns = new Map<string, LiveRun>()
let nextHandle = 1
let host: BindingWorkflowHost | undefined

function workflowHost(): BindingWorkflowHost {
  host ??= new BindingWorkflowHost(dispatch)
  return host
}

interface HostCall {
  handle: number
  func: number
  kind: 'step' | 'map' | 'condition' | 'sleep'
  runId: string
  workflowId: string
  stepId: string
  inputData: unknown
  state: unknown
  resumeData?: unknown
  suspendData?: unknown
  retryCount: number
  iterationCount?: number
}

function errorData(err: unknown): Record<string, unknown> {
  const { name, message } = serializeError(err)
  const out: Record<string, unknown> = { name, message }
  const code = (err as { code?: unknown } | null)?.code
  if (typeof code === 'string') out.code = code
  return out
}

function requestContextOf(live: LiveRun): RequestContext {
  if (!live.requestContext) {
    const stored = live.native.requestContext()
    live.requestContext = new RequestContext(stored == null ? undefined : (JSON.parse(stored) as Record<string, unknown>))
  }
  return live.requestContext
}

/** What the engine sends the facade: a step call, or `{ done }` when a run has ended. */
type EngineMessage = { callId: number; call: HostCall } | { done: number }

/** A message through the threadsafe function. */
function dispatch(text: string): void {
  // The engine writes this text; it always parses.
  receive(JSON.parse(text) as EngineMessage)
}

function receive(message: EngineMessage): void {
  if ('done' in message) runEnded(message.done)
  else startCall(message.callId, message.call)
}

/** What the engine did on the JS thread, handed back as a JSON array (or null: nothing). */
function receiveAll(messages: string | null | undefined): void {
  if (messages) for (const message of JSON.parse(messages) as EngineMessage[]) receive(message)
}

/** Runs the function and answers through the host. */
function startCall(callId: number, call: HostCall): void {
  runCall(call).then(
    (answer) => deliver(callId, answer),
    (err) => deliver(callId, JSON.stringify({ status: 'failed', error: errorData(err) })),
  )
}

let answeredIds: number[] = []
let answers: string[] = []

/** Answers go to the engine together at the end of the microtask in which they were given (the
 * members of a `.parallel` finish in one), so the run they wake is polled once. */
function deliver(callId: number, answer: string): void {
  if (answeredIds.length === 0) queueMicrotask(flushAnswers)
  answeredIds.push(callId)
  answers.push(answer)
}

/** Polls the answered runs right here (no thread hop); the calls they make next (and the runs
 * that end) come back. */
function flushAnswers(): void {
  const ids = answeredIds
  const texts = answers
  answeredIds = []
  answers = []
  receiveAll(host?.answer(ids, texts))
}

/** Runs awaited by `Run.#finish`, by native run id. */
const awaitedRuns = new Map<number, () => void>()
/** Keeps the process alive while a run is awaited: the threadsafe function that tells of its end
 * does not (so a registered workflow never keeps the process alive on its own). */
let awaitingRuns: ReturnType<typeof setInterval> | undefined

function runEnded(id: number): void {
  const resolve = awaitedRuns.get(id)
  if (!resolve) return // not awaited yet: `#finish` takes the result when it gets there
  awaitedRuns.delete(id)
  if (awaitedRuns.size === 0) awaitingRuns?.unref()
  resolve()
}

function untilRunEnds(id: number): Promise<void> {
  return new Promise((resolve) => {
    awaitedRuns.set(id, resolve)
    awaitingRuns ??= setInterval(() => {}, 2 ** 30)
    awaitingRuns.ref()
  })
}

async function runCall(call: HostCall): Promise<string> {
  try {
    const entry = tables.get(call.handle)?.[call.func]
    if (!entry) throw new LumosError('WORKFLOW_HOST_FAILED', `no function ${call.func} for workflow '${call.workflowId}' (was the workflow committed in this process?)`)
    const live = liveRuns.get(call.runId)
    let newState: { value: unknown } | undefined
    let suspended: { payload: unknown } | undefined
    let bailed: { output: unknown } | undefined
    const ctx: StepExecutionContext = {
      inputData: call.inputData,
      state: call.state,
      setState: async (state) => {
        newState = { value: state }
      },
      resumeData: call.resumeData,
      suspendData: call.suspendData,
      suspend: async (payload) => {
        suspended = { payload: payload ?? {} }
      },
      bail: (output) => {
        bailed = { output }
        return output
      },
      abort: () => {
        live?.abort.abort()
        live?.native.abort()
      },
      getStepResult: (step) => {
        const id = typeof step === 'string' ? step : step?.id
        const out = live?.native.stepResult(id)
        return out == null ? undefined : JSON.parse(out)
      },
      getInitData: () => (live ? JSON.parse(live.native.initData()) : undefined),
      requestContext: live ? requestContextOf(live) : new RequestContext(),
      mastra: live?.mastra,
      runId: call.runId,
      workflowId: call.workflowId,
      resourceId: live?.resourceId,
      retryCount: call.retryCount,
      iterationCount: call.iterationCount,
      abortSignal: live?.abort.signal ?? new AbortController().signal,
    }
    const stateOf = () => (newState ? { state: newState.value } : {})
    if (entry.kind === 'condition') return JSON.stringify({ status: 'success', output: Boolean(await entry.fn(ctx)) })
    if (entry.kind === 'sleep') {
      const v = await entry.fn(ctx)
      const ms = v instanceof Date ? v.getTime() : Number(v)
      if (!Number.isFinite(ms)) throw new LumosError('WORKFLOW_INVALID_INPUT', `the sleep function of step '${call.stepId}' returned ${String(v)}, not a number of ms or a Date`)
      return JSON.stringify({ status: 'success', output: ms })
    }
    if (entry.kind === 'map') return JSON.stringify({ status: 'success', output: (await entry.fn(ctx)) ?? null, ...stateOf() })
    const step = entry.step
    const checked = validate(step.inputSchema, call.inputData ?? {})
    const input = checked instanceof Promise ? await checked : checked
    if (!input.ok) throw new LumosError('WORKFLOW_STEP_INPUT_INVALID', `Step input validation failed for ${step.id}:\n${issuesToText(input.issues)}`)
    ctx.inputData = input.value
    // resumeData was checked against the step's resumeSchema (and parsed) by Run.resume.
    const output = await step.execute(ctx)
    if (suspended) return JSON.stringify({ status: 'suspended', payload: suspended.payload, ...stateOf() })
    if (bailed) return JSON.stringify({ status: 'bailed', output: bailed.output ?? null, ...stateOf() })
    return JSON.stringify({ status: 'success', output: output ?? null, ...stateOf() })
  } catch (err) {
    return JSON.stringify({ status: 'failed', error: errorData(err) })
  }
}

// ---------------------------------------------------------------------------------------------
// The builder.

/** JSON Schema of a user schema, or undefined when it cannot be converted synchronously (the
 * commit-time check then skips it; values are still validated at run time). */
function schemaJson(schema: AnySchema): Record<string, unknown> | undefined {
  if (schema == null) return undefined
  try {
    return toJSONSchema(schema)
  } catch {
    return undefined
  }
}

function getPath(value: any, path: string | undefined): unknown {
  if (!path || path === '.') return value
  return path.split('.').reduce((v, k) => (v == null ? undefined : v[k]), value)
}

type MapSpec = Record<string, { step: AnyStep | AnyStep[]; path: string } | { value: unknown; schema?: AnySchema } | { initData: unknown; path: string } | { requestContextPath: string; schema?: AnySchema }>

/** `.map({ key: { step, path } | { value } | { initData, path } | { requestContextPath } })` as a function. */
function mapFunction(spec: MapSpec): (ctx: StepExecutionContext) => unknown {
  return (ctx) => {
    const out: Record<string, unknown> = {}
    for (const [key, m] of Object.entries(spec)) {
      if ('step' in m) {
        const steps = Array.isArray(m.step) ? m.step : [m.step]
        const found = steps.map((s) => ctx.getStepResult(s.id)).find((v) => v !== undefined)
        out[key] = getPath(found, m.path)
      } else if ('value' in m) out[key] = m.value
      else if ('initData' in m) out[key] = getPath(ctx.getInitData(), m.path)
      else if ('requestContextPath' in m) out[key] = getPath(Object.fromEntries(ctx.requestContext.entries()), m.requestContextPath)
    }
    return out
  }
}

export interface WorkflowConfig {
  id: string
  description?: string
  inputSchema?: AnySchema
  outputSchema?: AnySchema
  stateSchema?: AnySchema
  retryConfig?: { attempts?: number; delay?: number }
  /** Lumos: where runs are written when the workflow is not registered on a Mastra with storage
   * (default: an in-memory store, which does not survive the process). Overrides the registry's. */
  storage?: LumosStorage
  options?: { validateInputs?: boolean; [key: string]: unknown }
  [key: string]: unknown
}

let defaultStorage: LumosStorage | undefined

export class Workflow<TIn = any, TOut = any> {
  readonly id: string
  readonly description?: string
  readonly inputSchema?: AnySchema
  readonly outputSchema?: AnySchema
  readonly stateSchema?: AnySchema
  readonly retryConfig: { attempts?: number; delay?: number }
  readonly #handle = nextHandle++
  readonly #table: TableEntry[] = []
  readonly #nodes: unknown[] = []
  readonly #nested: Workflow[] = []
  #native: BindingWorkflow | undefined
  #definition: Record<string, unknown> | undefined
  #mastra: any
  readonly #storage: LumosStorage | undefined
  #mapCount = 0
  #sleepCount = 0

  constructor(config: WorkflowConfig) {
    if (!config || typeof config.id !== 'string' || !config.id) throw new ConfigError('INVALID_INPUT', 'createWorkflow needs an `id` (a non-empty string)')
    this.id = config.id
    this.description = config.description
    this.inputSchema = config.inputSchema
    this.outputSchema = config.outputSchema
    this.stateSchema = config.stateSchema
    this.retryConfig = config.retryConfig ?? {}
    this.#storage = config.storage
  }

  #fn(entry: TableEntry): number {
    this.#table.push(entry)
    return this.#table.length - 1
  }

  #stepNode(step: AnyStep): Record<string, unknown> {
    if (this.#native) throw new ConfigError('INVALID_INPUT', `workflow '${this.id}' is committed: build a new workflow to add steps`)
    if (step instanceof Workflow) {
      this.#nested.push(step)
      return { type: 'step', id: step.id, workflow: step.__definition(), inputSchema: schemaJson(step.inputSchema), outputSchema: schemaJson(step.outputSchema) }
    }
    if (!step || typeof step.execute !== 'function' || typeof step.id !== 'string') throw new ConfigError('INVALID_INPUT', `workflow '${this.id}': a step must come from createStep() (got ${typeof step})`)
    return {
      type: 'step',
      id: step.id,
      func: this.#fn({ kind: 'step', step }),
      retries: step.retries,
      inputSchema: schemaJson(step.inputSchema),
      outputSchema: schemaJson(step.outputSchema),
    }
  }

  then(step: AnyStep): this {
    this.#nodes.push(this.#stepNode(step))
    return this
  }

  parallel(steps: AnyStep[]): this {
    this.#nodes.push({ type: 'parallel', steps: steps.map((s) => this.#stepNode(s)) })
    return this
  }

  branch(branches: [(ctx: any) => unknown, AnyStep][]): this {
    this.#nodes.push({
      type: 'branch',
      branches: branches.map(([cond, step]) => ({ cond: this.#fn({ kind: 'condition', fn: cond }), step: this.#stepNode(step) })),
    })
    return this
  }

  dowhile(step: AnyStep, cond: (ctx: any) => unknown): this {
    this.#nodes.push({ type: 'loop', step: this.#stepNode(step), cond: this.#fn({ kind: 'condition', fn: cond }), until: false })
    return this
  }

  dountil(step: AnyStep, cond: (ctx: any) => unknown): this {
    this.#nodes.push({ type: 'loop', step: this.#stepNode(step), cond: this.#fn({ kind: 'condition', fn: cond }), until: true })
    return this
  }

  foreach(step: AnyStep, options: { concurrency?: number } = {}): this {
    const concurrency = options.concurrency ?? 1
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new ConfigError('INVALID_INPUT', `workflow '${this.id}': foreach concurrency must be a positive integer`)
    this.#nodes.push({ type: 'foreach', step: this.#stepNode(step), concurrency })
    return this
  }

  map(mapping: ((ctx: StepExecutionContext) => unknown) | MapSpec, options: { id?: string } = {}): this {
    const fn = typeof mapping === 'function' ? mapping : mapFunction(mapping)
    const id = options.id ?? `mapping_${this.id}_${++this.#mapCount}`
    this.#nodes.push({ type: 'step', id, kind: 'map', func: this.#fn({ kind: 'map', fn }) })
    return this
  }

  sleep(duration: number | ((ctx: StepExecutionContext) => number | Promise<number>)): this {
    const id = `sleep_${this.id}_${++this.#sleepCount}`
    this.#nodes.push(typeof duration === 'function' ? { type: 'sleep', id, func: this.#fn({ kind: 'sleep', fn: duration }) } : { type: 'sleep', id, ms: Math.max(0, Math.round(duration)) })
    return this
  }

  sleepUntil(date: Date | ((ctx: StepExecutionContext) => Date | Promise<Date>)): this {
    const id = `sleep_until_${this.id}_${++this.#sleepCount}`
    this.#nodes.push(typeof date === 'function' ? { type: 'sleepUntil', id, func: this.#fn({ kind: 'sleep', fn: date }) } : { type: 'sleepUntil', id, at: date.getTime() })
    return this
  }

  /** Finalises the graph; schema mismatches between consecutive steps are reported here. */
  commit(): this {
    if (this.#native) return this
    const definition = {
      id: this.id,
      handle: this.#handle,
      steps: this.#nodes,
      retryConfig: { attempts: this.retryConfig.attempts ?? 0, delay: this.retryConfig.delay ?? 0 },
      inputSchema: schemaJson(this.inputSchema),
      outputSchema: schemaJson(this.outputSchema),
    }
    try {
      this.#native = new BindingWorkflow(JSON.stringify(definition))
    } catch (err) {
      throw reviveNativeError(err)
    }
    this.#definition = definition
    tables.set(this.#handle, this.#table)
    return this
  }

  /** @internal The committed definition, for use as a nested step. */
  __definition(): Record<string, unknown> {
    this.commit()
    return this.#definition as Record<string, unknown>
  }

  /** @internal The step with this id, here or in a nested workflow. */
  __step(id: string): Step | undefined {
    for (const entry of this.#table) if (entry.kind === 'step' && entry.step.id === id) return entry.step
    for (const child of this.#nested) {
      const found = child.__step(id)
      if (found) return found
    }
    return undefined
  }

  /** @internal */
  __registerMastra(mastra: unknown): void {
    this.#mastra = mastra
  }

  /** @internal */
  __mastra(): unknown {
    return this.#mastra
  }

  /** @internal The native graph and the store runs are written to. */
  async __native(): Promise<{ workflow: BindingWorkflow; storage: BindingStorage }> {
    this.commit()
    const storage: LumosStorage = this.#storage ?? this.#mastra?.getStorage?.() ?? (defaultStorage ??= new LibSQLStore({ id: 'lumos-default-workflows', url: ':memory:' }))
    return { workflow: this.#native as BindingWorkflow, storage: await storage.__native() }
  }

  async createRun(options: { runId?: string; resourceId?: string; [key: string]: unknown } = {}): Promise<Run<TIn, TOut>> {
    this.commit()
    return new Run(this, options.runId ?? crypto.randomUUID(), options.resourceId, options.runId === undefined)
  }

  async getWorkflowRunById(runId: string): Promise<Record<string, any> | null> {
    const { storage } = await this.__native()
    const text = await native(() => getWorkflowRun(storage, this.id, runId))
    return text == null ? null : JSON.parse(text)
  }

  async listWorkflowRuns(args: { fromDate?: Date; toDate?: Date; perPage?: number | false; page?: number; resourceId?: string; status?: WorkflowRunStatus } = {}): Promise<{ runs: Record<string, any>[]; total: number }> {
    const { storage } = await this.__native()
    const query = {
      workflowName: this.id,
      status: args.status,
      resourceId: args.resourceId,
      fromDate: args.fromDate?.getTime(),
      toDate: args.toDate?.getTime(),
      page: args.page ?? 0,
      perPage: args.perPage === false || args.perPage === undefined ? null : args.perPage,
    }
    return JSON.parse(await native(() => listWorkflowRuns(storage, JSON.stringify(query))))
  }

  async deleteWorkflowRunById(runId: string): Promise<void> {
    const { storage } = await this.__native()
    await native(() => deleteWorkflowRun(storage, this.id, runId))
  }

  /** Continues every run left `running` in storage (its process died) from its last completed step. */
  async restartAllActiveWorkflowRuns(): Promise<void> {
    const { runs } = await this.listWorkflowRuns({ status: 'running' })
    await Promise.allSettled(runs.map(async (r) => (await this.createRun({ runId: r.runId })).restart()))
  }
}

export function createWorkflow<TIn = any, TOut = any>(config: WorkflowConfig): Workflow<TIn, TOut> {
  return new Workflow<TIn, TOut>(config)
}

// ---------------------------------------------------------------------------------------------
// Runs.

export interface WorkflowResult<TOut = any> {
  status: WorkflowRunStatus
  result?: TOut
  error?: { name?: string; message: string; stepId?: string; [key: string]: unknown }
  steps: Record<string, any>
  input: unknown
  state?: unknown
  suspended?: string[][]
  suspendPayload?: Record<string, unknown>
  stepExecutionPath: string[]
  runId: string
}

export interface StartOptions<TIn = any> {
  inputData?: TIn
  initialState?: unknown
  requestContext?: RequestContext
  [key: string]: unknown
}

export interface ResumeOptions {
  step?: string | AnyStep | (string | AnyStep)[]
  resumeData?: unknown
  requestContext?: RequestContext
  forEachIndex?: number
  [key: string]: unknown
}

type ExecArgs = { mode: 'start' | 'resume' | 'restart'; inputData?: unknown; initialState?: unknown; requestContext?: RequestContext; steps?: string[]; resumeData?: unknown; forEachIndex?: number; stream: boolean }

function stepIds(step: ResumeOptions['step']): string[] {
  if (step === undefined) return []
  const list = Array.isArray(step) ? step : [step]
  const ids = list.map((s) => (typeof s === 'string' ? s : s.id))
  // Mastra's nested form: [outerStep, innerStep] is a path; the engine resumes the innermost.
  return Array.isArray(step) && ids.length > 1 ? [ids[ids.length - 1] as string] : ids
}

export class Run<TIn = any, TOut = any> {
  readonly runId: string
  readonly workflowId: string
  readonly resourceId?: string
  readonly #workflow: Workflow<TIn, TOut>
  #live: LiveRun | undefined
  /** The run id was generated by createRun and not started yet: storage cannot have it. */
  #idIsNew: boolean

  constructor(workflow: Workflow<TIn, TOut>, runId: string, resourceId?: string, idIsNew = false) {
    this.#workflow = workflow
    this.runId = runId
    this.workflowId = workflow.id
    this.resourceId = resourceId
    this.#idIsNew = idIsNew
  }

  async #validateInput(inputData: unknown): Promise<unknown> {
    const checked = await validate(this.#workflow.inputSchema, inputData)
    if (!checked.ok) throw new LumosError('WORKFLOW_SCHEMA_VALIDATION_FAILED', `Invalid input data: \n${issuesToText(checked.issues)}`)
    return checked.value
  }

  async #launch(args: ExecArgs): Promise<LiveRun> {
    const { workflow, storage } = await this.#workflow.__native()
    const requestContext = args.requestContext ?? (args.mode === 'start' ? new RequestContext() : undefined)
    const newRunId = args.mode === 'start' && this.#idIsNew
    this.#idIsNew = false
    const nativeRun = (() => {
      try {
        return executeWorkflow(
          workflow,
          workflowHost(),
          storage,
          JSON.stringify({
            runId: this.runId,
            resourceId: this.resourceId,
            mode: args.mode,
            inputData: args.inputData ?? null,
            initialState: args.initialState,
            requestContext: args.mode === 'start' ? requestContext?.toJSON() : undefined,
            steps: args.steps,
            resumeData: args.resumeData ?? null,
            forEachIndex: args.forEachIndex,
            stream: args.stream,
            newRunId,
          }),
        )
      } catch (err) {
        throw reviveNativeError(err)
      }
    })()
    const live: LiveRun = { native: nativeRun, requestContext, abort: new AbortController(), mastra: this.#workflow.__mastra(), resourceId: this.resourceId }
    this.#live = live
    liveRuns.set(this.runId, live)
    receiveAll(nativeRun.takeCalls())
    return live
  }

  async #finish(live: LiveRun): Promise<WorkflowResult<TOut>> {
    try {
      let text = live.native.takeResult()
      if (text == null) {
        await untilRunEnds(live.native.id)
        text = live.native.takeResult()
      }
      if (text == null) throw new LumosError('WORKFLOW_HOST_FAILED', `workflow run '${this.runId}' ended without a result (an internal error in Lumos); read it with getWorkflowRunById, and report this`)
      const out = JSON.parse(text)
      if (out.error) throw new LumosError(out.error.code, out.error.message)
      return out.ok
    } finally {
      if (liveRuns.get(this.runId) === live) liveRuns.delete(this.runId)
      if (this.#live === live) this.#live = undefined
    }
  }

  async #execute(args: ExecArgs): Promise<WorkflowResult<TOut>> {
    return this.#finish(await this.#launch(args))
  }

  async #startArgs(opts: StartOptions<TIn>, stream: boolean): Promise<ExecArgs> {
    const inputData = await this.#validateInput(opts.inputData)
    return { mode: 'start', inputData, initialState: opts.initialState ?? {}, requestContext: opts.requestContext, stream }
  }

  /** Runs the workflow to its end or first suspension. Invalid `inputData` rejects before any step runs. */
  async start(opts: StartOptions<TIn> = {}): Promise<WorkflowResult<TOut>> {
    return this.#execute(await this.#startArgs(opts, false))
  }

  /** Starts without waiting: `{ runId }`. */
  async startAsync(opts: StartOptions<TIn> = {}): Promise<{ runId: string }> {
    const live = await this.#launch(await this.#startArgs(opts, false))
    this.#finish(live).catch(() => {})
    return { runId: this.runId }
  }

  /** Continues a suspended run (also one started by another process, from storage). Resume data
   * that does not fit the step's `resumeSchema` rejects, and the run stays suspended. */
  async resume(opts: ResumeOptions = {}): Promise<WorkflowResult<TOut>> {
    return this.#execute(await this.#resumeArgs(opts, false))
  }

  async #resumeArgs(opts: ResumeOptions, stream: boolean): Promise<ExecArgs> {
    const steps = stepIds(opts.step)
    let resumeData = opts.resumeData
    // Without `step`, the suspended steps stored for the run are the targets.
    const targets = steps.length || resumeData === undefined ? steps : ((await this.#workflow.getWorkflowRunById(this.runId))?.suspended ?? []).map((path: string[]) => path[path.length - 1])
    for (const id of targets) {
      const schema = this.#workflow.__step(id)?.resumeSchema
      if (!schema) continue
      const checked = await validate(schema, resumeData)
      if (!checked.ok) throw new LumosError('WORKFLOW_SCHEMA_VALIDATION_FAILED', `Invalid resume data: \n${issuesToText(checked.issues)}`)
      resumeData = checked.value
    }
    return { mode: 'resume', steps, resumeData, forEachIndex: opts.forEachIndex, requestContext: opts.requestContext, stream }
  }

  /** Continues a run left `running` by a process that died, from its last completed step. */
  async restart(opts: { requestContext?: RequestContext } = {}): Promise<WorkflowResult<TOut>> {
    return this.#execute({ mode: 'restart', requestContext: opts.requestContext, stream: false })
  }

  /** Cancels the run: in-flight steps see their abortSignal fire; the stored run becomes `canceled`. */
  async cancel(): Promise<void> {
    const live = this.#live ?? liveRuns.get(this.runId)
    const { storage } = await this.#workflow.__native()
    await native(() => cancelWorkflowRun(storage, this.workflowId, this.runId))
    if (live) {
      live.abort.abort()
      live.native.abort()
    }
  }

  stream(opts: StartOptions<TIn> = {}): WorkflowRunOutput<TOut> {
    return new WorkflowRunOutput(this.#startArgs(opts, true).then((args) => this.#launch(args)), (live) => this.#finish(live))
  }

  resumeStream(opts: ResumeOptions = {}): WorkflowRunOutput<TOut> {
    return new WorkflowRunOutput(this.#resumeArgs(opts, true).then((args) => this.#launch(args)), (live) => this.#finish(live))
  }
}

export interface WorkflowStreamEvent {
  type: string
  runId: string
  from: 'WORKFLOW'
  payload: Record<string, any>
}

/** `run.stream()`: typed events on `fullStream` (also async-iterable itself), and the result. */
export class WorkflowRunOutput<TOut = any> {
  readonly #live: Promise<LiveRun>
  readonly result: Promise<WorkflowResult<TOut>>
  #status: WorkflowRunStatus = 'running'

  constructor(live: Promise<LiveRun>, finish: (live: LiveRun) => Promise<WorkflowResult<TOut>>) {
    this.#live = live
    this.result = live.then(finish).then((r) => {
      this.#status = r.status
      return r
    })
    this.result.catch(() => {})
  }

  get status(): WorkflowRunStatus {
    return this.#status
  }

  get fullStream(): AsyncIterable<WorkflowStreamEvent> {
    const live = this.#live
    return {
      async *[Symbol.asyncIterator]() {
        const run = await live
        for (;;) {
          const batch = await run.native.next()
          if (batch == null) return
          yield* JSON.parse(batch) as WorkflowStreamEvent[]
        }
      },
    }
  }

  [Symbol.asyncIterator](): AsyncIterator<WorkflowStreamEvent> {
    return this.fullStream[Symbol.asyncIterator]()
  }
}
