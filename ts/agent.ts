// Agent: resolves Mastra's dynamic arguments, declares tools and the model to the native loop,
// and shapes what comes back. The loop itself (model calls, retries, tool dispatch, streaming)
// runs in Rust.

import { BindingModel, type BindingStorage, BindingToolHost, generateThreadTitle, startRun, type BindingRun } from '../binding.js'
import { AbortError, ConfigError, ToolExecutionError, reviveNativeError, serializeError } from './errors.js'
import { isLanguageModel, makeBridge } from './model-bridge.js'
import { type Chunk, type FullOutput, ModelOutput, type StreamCallbacks, type StructuredOutputOptions, pumpChunks, toFullOutput } from './output.js'
import { RequestContext } from './request-context.js'
import { type AnySchema, isJsValidated, prepareSchemas, toJSONSchema, validate } from './schema.js'
import { Memory, type MemoryOptions } from './memory.js'
import { Tool, type ToolExecutionContext, validationFailure } from './tools.js'

type Dynamic<T> = T | ((args: { requestContext: RequestContext; mastra?: unknown }) => T | Promise<T>)

export type ModelConfig =
  | string
  | {
      id?: string
      providerId?: string
      modelId?: string
      url?: string
      apiKey?: string
      headers?: Record<string, string>
      /** Lumos extension: fail a connection attempt after this long (default 10 s). */
      connectTimeoutMs?: number
      /** Lumos extension: fail when the provider sends nothing for this long (default 300 s). */
      readTimeoutMs?: number
    }
  | { doGenerate?: Function; doStream?: Function; provider?: string; modelId?: string; specificationVersion?: string }

export type StopCondition = ((opts: { steps: any[] }) => boolean | Promise<boolean>) & { __lumosStop?: unknown }

export interface AgentExecutionOptions {
  instructions?: string | string[]
  system?: string | string[]
  maxSteps?: number
  stopWhen?: StopCondition | StopCondition[]
  toolChoice?: 'auto' | 'none' | 'required' | { type: 'tool'; toolName: string }
  activeTools?: string[]
  toolsets?: Record<string, Record<string, any>>
  modelSettings?: {
    temperature?: number
    topP?: number
    topK?: number
    maxOutputTokens?: number
    presencePenalty?: number
    frequencyPenalty?: number
    stopSequences?: string[]
    seed?: number
    maxRetries?: number
  }
  structuredOutput?: StructuredOutputOptions
  requestContext?: RequestContext
  abortSignal?: AbortSignal
  runId?: string
  providerOptions?: Record<string, Record<string, unknown>>
  toolCallConcurrency?: number
  onStepFinish?: StreamCallbacks['onStepFinish']
  onFinish?: StreamCallbacks['onFinish']
  onChunk?: StreamCallbacks['onChunk']
  onError?: StreamCallbacks['onError']
  onAbort?: (e: { steps: any[] }) => unknown
  memory?: {
    thread: string | { id: string; title?: string; metadata?: Record<string, unknown> }
    resource: string
    options?: { lastMessages?: number | false; generateTitle?: MemoryOptions['generateTitle'] }
    readOnly?: boolean
    /** Called with the title once `generateTitle` has made one. */
    onTitleGenerated?: (title: string) => unknown
  }
  [key: string]: unknown
}

export interface AgentConfig {
  id: string
  name?: string
  description?: string
  instructions?: Dynamic<string | string[] | { role?: string; content: string } | { role?: string; content: string }[]>
  model: Dynamic<ModelConfig | ModelConfig[]>
  tools?: Dynamic<Record<string, any>>
  defaultOptions?: Dynamic<AgentExecutionOptions>
  memory?: Dynamic<Memory>
  maxRetries?: number
  [key: string]: unknown
}

type TitleConfig = {
  model?: Dynamic<ModelConfig>
  instructions?: string | ((args: { requestContext: RequestContext; mastra?: unknown }) => string | Promise<string>)
  minMessages?: number
  /** stream(): wait for the title and emit it as a `data-thread-title` chunk before `finish`. */
  emitEvent?: boolean
}

interface RunState {
  tools: Record<string, Tool>
  requestContext: RequestContext
  controller: AbortController
  agentId: string
  mastra?: unknown
}

/** Active runs by id, so the one native tool dispatcher can find each call's context. */
const activeRuns = new Map<string, RunState>()
let toolHost: BindingToolHost | undefined

async function dispatchTool(callJson: string): Promise<string> {
  let toolName = '?'
  try {
    const call = JSON.parse(callJson)
    toolName = call.toolName
    const run = activeRuns.get(call.runId)
    const tool = run?.tools[toolName]
    if (!run || !tool) throw new Error(`Tool "${toolName}" is not available in this run`)
    const input = await validate(tool.inputSchema, call.input ?? {})
    if (!input.ok) {
      const failure = validationFailure('input', toolName, input.issues)
      return JSON.stringify({ invalid: { message: failure.message, errors: failure.validationErrors } })
    }
    const context: ToolExecutionContext = {
      requestContext: run.requestContext,
      abortSignal: run.controller.signal,
      toolCallId: call.toolCallId,
      runId: call.runId,
      mastra: run.mastra,
      agent: { agentId: run.agentId, toolCallId: call.toolCallId, messages: [] },
    }
    const execute = tool.config.execute
    if (!execute) throw new Error(`tool '${tool.id}' has no execute function`)
    let output = await execute(input.value, context)
    if (tool.outputSchema) {
      const checked = await validate(tool.outputSchema, output)
      // As in Mastra, an output that fails its schema is returned as a validation-failure result.
      output = checked.ok ? checked.value : validationFailure('output', toolName, checked.issues)
    }
    return JSON.stringify({ ok: output === undefined ? null : output })
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err)
    return JSON.stringify({ error: { message, error: { name: 'ToolExecutionError', code: 'TOOL_EXECUTION_FAILED', message, toolName, cause: serializeError(err) } } })
  }
}

function getToolHost(): BindingToolHost {
  toolHost ??= new BindingToolHost(dispatchTool)
  return toolHost
}

const bridgedModels = new WeakMap<object, BindingModel>()
const nativeModels = new Map<string, BindingModel>()

function resolveModel(config: ModelConfig | ModelConfig[]): BindingModel {
  if (Array.isArray(config)) {
    const first = config.find((m: any) => m?.enabled !== false)
    if (!first) throw new ConfigError('MODEL_CONFIG_INVALID', 'the model fallback list has no enabled model')
    return resolveModel((first as any).model ?? first)
  }
  if (typeof config === 'string') return nativeModel({ id: config })
  if (isLanguageModel(config)) {
    let m = bridgedModels.get(config as object)
    if (!m) {
      const provider = String((config as any).provider ?? 'ai-sdk')
      m = BindingModel.bridge(provider, String((config as any).modelId ?? 'unknown'), makeBridge(config))
      bridgedModels.set(config as object, m)
    }
    return m
  }
  if (config && typeof config === 'object') {
    const c = config as any
    const id = c.id ?? (c.providerId && c.modelId ? `${c.providerId}/${c.modelId}` : undefined)
    if (typeof id !== 'string') throw new ConfigError('MODEL_CONFIG_INVALID', "a model config object needs `id: 'provider/model'` (or providerId + modelId)")
    return nativeModel({ id, url: c.url, apiKey: c.apiKey, headers: c.headers, connectTimeoutMs: c.connectTimeoutMs, readTimeoutMs: c.readTimeoutMs })
  }
  throw new ConfigError('MODEL_CONFIG_INVALID', "`model` must be a 'provider/model' string, a { id, url, apiKey } object or an AI SDK LanguageModel")
}

function nativeModel(cfg: { id: string; url?: string; apiKey?: string; headers?: Record<string, string>; connectTimeoutMs?: number; readTimeoutMs?: number }): BindingModel {
  // Keys and URLs come from the environment at first use; cache per distinct config.
  const key = JSON.stringify(cfg)
  let m = nativeModels.get(key)
  if (!m) {
    try {
      m = BindingModel.fromConfig(cfg)
    } catch (err) {
      throw reviveNativeError(err)
    }
    nativeModels.set(key, m)
  }
  return m
}

function normalizeTools(record: Record<string, any> | undefined): Record<string, Tool> {
  const out: Record<string, Tool> = {}
  for (const [name, t] of Object.entries(record ?? {})) {
    if (t instanceof Tool) out[name] = t
    else if (t && typeof t === 'object' && typeof t.execute === 'function') {
      // AI SDK tool() objects and tool-shaped literals.
      out[name] = new Tool({ id: t.id ?? name, description: t.description, inputSchema: t.inputSchema ?? t.parameters, outputSchema: t.outputSchema, execute: t.execute })
    } else throw new ConfigError('INVALID_INPUT', `tools.${name} is not a tool: use createTool({ id, description, inputSchema, execute })`)
  }
  return out
}

const declCache = new WeakMap<Tool, { description: string; parameters: unknown; validate: boolean }>()

function declareTool(name: string, tool: Tool) {
  let d = declCache.get(tool)
  if (!d) {
    const schema = tool.inputSchema
    d = { description: tool.description, parameters: toJSONSchema(schema), validate: schema != null && !isJsValidated(schema) }
    declCache.set(tool, d)
  }
  return { name, ...d }
}

function systemStrings(instr: unknown): string[] {
  if (instr == null) return []
  if (typeof instr === 'string') return [instr]
  if (Array.isArray(instr)) return instr.flatMap(systemStrings)
  if (typeof instr === 'object' && typeof (instr as any).content === 'string') return [(instr as any).content]
  throw new ConfigError('INVALID_INPUT', 'instructions must be a string, a string[] or system message objects')
}

function stopDecls(stopWhen: AgentExecutionOptions['stopWhen']): { decls: unknown[]; hooks: StopCondition[] } {
  const list = stopWhen == null ? [] : Array.isArray(stopWhen) ? stopWhen : [stopWhen]
  const decls: unknown[] = []
  const hooks: StopCondition[] = []
  for (const s of list) {
    if (s.__lumosStop) decls.push(s.__lumosStop)
    else if (typeof s === 'function') hooks.push(s)
  }
  if (hooks.length) decls.push({ type: 'hook' })
  return { decls, hooks }
}

/** AI SDK's `stepCountIs`: stop once `n` steps have run (evaluated natively). */
export function stepCountIs(n: number): StopCondition {
  const f: StopCondition = ({ steps }) => steps.length >= n
  f.__lumosStop = { type: 'stepCount', n }
  return f
}

/** AI SDK's `hasToolCall`: stop after a step that called `name` (evaluated natively). */
export function hasToolCall(name: string): StopCondition {
  const f: StopCondition = ({ steps }) => steps.at(-1)?.toolCalls?.some((c: any) => (c.payload?.toolName ?? c.toolName) === name) ?? false
  f.__lumosStop = { type: 'hasToolCall', name }
  return f
}

const DEFAULT_WORKING_MEMORY_TEMPLATE = `# User Information
- **First Name**:
- **Last Name**:
- **Location**:
- **Occupation**:
- **Interests**:
- **Goals**:
- **Events**:
- **Facts**:
- **Projects**:
`

/** Mastra's working memory: a system message with the template and the current data, and the
 *  `updateWorkingMemory({ memory })` tool the model calls to rewrite it. */
async function workingMemoryFor(memory: Memory, threadId: string, resourceId: string) {
  const template = memory.getWorkingMemoryTemplate() ?? DEFAULT_WORKING_MEMORY_TEMPLATE
  const data = (await memory.getWorkingMemory({ threadId, resourceId })) ?? template
  const system = `WORKING_MEMORY_SYSTEM_INSTRUCTION:
Store and update any conversation-relevant information by calling the updateWorkingMemory tool. If information might be referenced again - store it!

Guidelines:
1. Store anything that could be useful later in the conversation
2. Update proactively when information changes, no matter how small
3. Use the Markdown format for all data
4. Act naturally - don't mention this system to users. Even though you're storing this information that doesn't make it your primary focus. Do not ask them generally for "information about yourself"

Memory Structure:
<working_memory_template>
${template}
</working_memory_template>

<working_memory_data>
${data}
</working_memory_data>

Notes:
- Update memory whenever referenced information changes
- Do not store any information that is not relevant to the user
- The tool replaces the whole working memory: send the complete, updated Markdown`
  const tool = new Tool({
    id: 'updateWorkingMemory',
    description: 'Update the working memory with new information. The whole working memory is replaced: send the complete updated Markdown.',
    inputSchema: { type: 'object', properties: { memory: { type: 'string', description: 'The Markdown formatted working memory content to store' } }, required: ['memory'], additionalProperties: false },
    execute: async ({ memory: text }: { memory: string }) => {
      await memory.updateWorkingMemory({ threadId, resourceId, workingMemory: text })
      return { success: true }
    },
  })
  return { system, tool }
}

/** Options Lumos does not implement yet fail loudly instead of being silently ignored. */
function unsupported(options: Record<string, unknown>, keys: string[], where: string): void {
  for (const key of keys) {
    if (options[key] !== undefined && options[key] !== false) {
      throw new ConfigError('NOT_SUPPORTED', `${where}: \`${key}\` is not supported by this version of Lumos yet (see COMPAT.md); remove it or use @mastra/core for this agent`)
    }
  }
}

async function resolveDynamic<T>(value: Dynamic<T>, requestContext: RequestContext, mastra: unknown): Promise<T> {
  return typeof value === 'function' ? await (value as any)({ requestContext, mastra }) : value
}

export class Agent {
  readonly id: string
  readonly name: string
  readonly #config: AgentConfig
  #mastra: unknown

  constructor(config: AgentConfig) {
    if (!config || typeof config.id !== 'string' || !config.id) throw new ConfigError('INVALID_INPUT', 'new Agent() needs an `id` (a non-empty string)')
    if (config.model == null) throw new ConfigError('MODEL_CONFIG_INVALID', `agent '${config.id}' needs a \`model\` ('openai/gpt-4o-mini', { id, url, apiKey } or an AI SDK model)`)
    unsupported(config, ['workflows', 'agents', 'inputProcessors', 'outputProcessors'], `new Agent({ id: '${config.id}' })`)
    this.id = config.id
    this.name = config.name ?? config.id
    this.#config = config
  }

  /** Called by `new Mastra({ agents })`. */
  __registerMastra(mastra: unknown): void {
    this.#mastra = mastra
    if (this.#config.memory instanceof Memory) this.#config.memory.__registerMastra(mastra as any)
  }

  async getMemory(opts: { requestContext?: RequestContext } = {}): Promise<Memory | undefined> {
    return this.#resolveMemory(opts.requestContext ?? new RequestContext())
  }

  /** The agent's Memory; as in Mastra, one without its own storage gets the registry's. */
  async #resolveMemory(requestContext: RequestContext): Promise<Memory | undefined> {
    const memory = await resolveDynamic(this.#config.memory, requestContext, this.#mastra)
    if (this.#mastra && memory instanceof Memory) memory.__registerMastra(this.#mastra as any)
    return memory
  }

  getDescription(): string {
    return this.#config.description ?? ''
  }
  async getInstructions(opts: { requestContext?: RequestContext } = {}) {
    return resolveDynamic(this.#config.instructions ?? '', opts.requestContext ?? new RequestContext(), this.#mastra)
  }
  async getModel(opts: { requestContext?: RequestContext } = {}) {
    return resolveDynamic(this.#config.model, opts.requestContext ?? new RequestContext(), this.#mastra)
  }
  async listTools(opts: { requestContext?: RequestContext } = {}): Promise<Record<string, Tool>> {
    return normalizeTools(await resolveDynamic(this.#config.tools ?? {}, opts.requestContext ?? new RequestContext(), this.#mastra))
  }
  async getDefaultOptions(opts: { requestContext?: RequestContext } = {}): Promise<AgentExecutionOptions> {
    return resolveDynamic(this.#config.defaultOptions ?? {}, opts.requestContext ?? new RequestContext(), this.#mastra)
  }

  /** Runs to completion and returns Mastra's FullOutput. Rejects with a coded error on failure. */
  async generate(messages: unknown, options: AgentExecutionOptions = {}): Promise<FullOutput<any>> {
    const { run, state, opts, runId, title } = await this.#start(messages, options, false)
    const callbacks: StreamCallbacks = { onChunk: opts.onChunk, onStepFinish: opts.onStepFinish, onError: opts.onError }
    try {
      const pump = opts.onChunk || opts.onStepFinish || opts.onError ? pumpChunks(run, callbacks, () => {}) : undefined
      const raw = JSON.parse(await run.result())
      await pump
      const full = await toFullOutput({ ...raw, runId }, opts.structuredOutput)
      if (full.error) {
        if (full.error instanceof AbortError) await opts.onAbort?.({ steps: full.steps })
        throw full.error
      }
      await opts.onFinish?.({ ...full, steps: full.steps, totalUsage: full.totalUsage })
      void title?.()
      return full
    } finally {
      this.#end(runId, state)
    }
  }

  /** Starts a run and returns its stream output at once; failures arrive as `error` chunks. */
  async stream(messages: unknown, options: AgentExecutionOptions = {}): Promise<ModelOutput<any>> {
    const { run, state, opts, runId, title, titleEventThread } = await this.#start(messages, options, true)
    // Mastra's generateTitle.emitEvent: the stream waits for the title (the steps are stored by
    // the time `finish` arrives) and carries it as a transient data chunk before `finish`.
    let titled = false
    const titleChunk = title && titleEventThread
      ? async (): Promise<Chunk | undefined> => {
          titled = true
          if (opts.abortSignal?.aborted) return undefined
          const text = await title()
          return text ? ({ type: 'data-thread-title', data: { threadId: titleEventThread, title: text }, transient: true } as unknown as Chunk) : undefined
        }
      : undefined
    const finalize = async () => {
      try {
        const raw = JSON.parse(await run.result())
        const full = await toFullOutput({ ...raw, runId }, opts.structuredOutput)
        if (full.error instanceof AbortError) await opts.onAbort?.({ steps: full.steps })
        else if (!full.error) {
          await opts.onFinish?.({ ...full })
          if (!titled) void title?.()
        }
        return full
      } finally {
        this.#end(runId, state)
      }
    }
    return new ModelOutput(run, runId, finalize, { onChunk: opts.onChunk, onStepFinish: opts.onStepFinish, onError: opts.onError }, opts.structuredOutput, titleChunk)
  }

  async #start(messages: unknown, options: AgentExecutionOptions, stream: boolean): Promise<{ run: BindingRun; state: RunState; opts: AgentExecutionOptions; runId: string; title?: () => Promise<string | undefined>; titleEventThread?: string }> {
    const requestContext = options.requestContext ?? new RequestContext()
    const defaults = await resolveDynamic(this.#config.defaultOptions ?? {}, requestContext, this.#mastra)
    const opts: AgentExecutionOptions = { ...defaults, ...options, modelSettings: { ...defaults.modelSettings, ...options.modelSettings } }
    if (opts.abortSignal?.aborted) throw new AbortError()
    unsupported(opts, ['prepareStep', 'requireToolApproval'], `agent '${this.id}' generate/stream`)

    const [instructions, modelConfig, toolRecord] = await Promise.all([
      opts.instructions !== undefined ? opts.instructions : resolveDynamic(this.#config.instructions ?? '', requestContext, this.#mastra),
      resolveDynamic(this.#config.model, requestContext, this.#mastra),
      resolveDynamic(this.#config.tools ?? {}, requestContext, this.#mastra),
    ])
    const model = resolveModel(modelConfig)
    let tools = normalizeTools(toolRecord)
    for (const set of Object.values(opts.toolsets ?? {})) tools = { ...tools, ...normalizeTools(set) }
    if (opts.activeTools) tools = Object.fromEntries(Object.entries(tools).filter(([k]) => opts.activeTools!.includes(k)))

    const memory = await this.#memoryFor(opts, requestContext)
    if (memory?.workingMemory) tools = { ...tools, updateWorkingMemory: memory.workingMemory.tool }
    const runId = opts.runId ?? globalThis.crypto.randomUUID()
    const structured = opts.structuredOutput
    await prepareSchemas([...Object.values(tools).map((t) => t.inputSchema), structured?.schema])
    const { decls: stopWhen, hooks } = stopDecls(opts.stopWhen)
    const settings = opts.modelSettings ?? {}
    const request = {
      runId,
      agentId: this.id,
      messages,
      system: [...systemStrings(instructions), ...systemStrings(opts.system), ...(memory?.workingMemory ? [memory.workingMemory.system] : [])],
      tools: Object.entries(tools).map(([name, t]) => declareTool(name, t)),
      toolChoice: opts.toolChoice,
      settings: {
        temperature: settings.temperature,
        topP: settings.topP,
        topK: settings.topK,
        maxOutputTokens: settings.maxOutputTokens,
        presencePenalty: settings.presencePenalty,
        frequencyPenalty: settings.frequencyPenalty,
        stopSequences: settings.stopSequences ?? [],
        seed: settings.seed,
      },
      responseFormat: structured ? { schema: toJSONSchema(structured.schema as AnySchema), name: 'response' } : undefined,
      stream,
      maxSteps: opts.maxSteps,
      stopWhen,
      maxRetries: settings.maxRetries ?? this.#config.maxRetries,
      toolConcurrency: typeof opts.toolCallConcurrency === 'number' ? opts.toolCallConcurrency : undefined,
      providerOptions: opts.providerOptions,
      emitChunks: stream || !!(opts.onChunk || opts.onStepFinish || opts.onError),
      memory: memory?.decl,
    }

    const state: RunState = { tools, requestContext, controller: new AbortController(), agentId: this.id, mastra: this.#mastra }
    activeRuns.set(runId, state)
    const hook = hooks.length ? async (stepsJson: string) => {
      const steps = JSON.parse(stepsJson)
      for (const h of hooks) if (await h({ steps })) return true
      return false
    } : undefined
    let run: BindingRun
    try {
      run = startRun(model, Object.keys(tools).length ? getToolHost() : null, memory?.storage ?? null, memory?.recall ?? null, JSON.stringify(request), hook)
    } catch (err) {
      activeRuns.delete(runId)
      throw reviveNativeError(err)
    }
    if (opts.abortSignal) {
      const onAbort = () => {
        run.abort()
        state.controller.abort(opts.abortSignal?.reason)
      }
      opts.abortSignal.addEventListener('abort', onAbort, { once: true })
      ;(state as any).detach = () => opts.abortSignal?.removeEventListener('abort', onAbort)
    }
    const title = memory?.title ? () => this.#generateTitle(memory.title!, memory.storage, model, requestContext, opts.memory?.onTitleGenerated) : undefined
    // generateTitle.emitEvent: the thread the stream's data-thread-title chunk names.
    const titleEventThread = typeof memory?.title?.config === 'object' && (memory.title.config as TitleConfig).emitEvent === true ? memory.title.threadId : undefined
    return { run, state, opts, runId, title, titleEventThread }
  }

  /** Mastra's `generateTitle`: after a successful run, in the background — the run neither waits
   *  for it nor fails with it (a failure goes to the Mastra logger, as in Mastra). */
  #generateTitle(t: { config: NonNullable<MemoryOptions['generateTitle']>; threadId: string; lastMessages: number }, storage: BindingStorage, agentModel: BindingModel, requestContext: RequestContext, onTitleGenerated?: (title: string) => unknown): Promise<string | undefined> {
    const cfg: TitleConfig = t.config === true ? {} : (t.config as TitleConfig)
    const task = (async () => {
      const model = cfg.model ? resolveModel(await resolveDynamic(cfg.model, requestContext, this.#mastra)) : agentModel
      const instructions = typeof cfg.instructions === 'function' ? await cfg.instructions({ requestContext, mastra: this.#mastra }) : cfg.instructions
      return (await generateThreadTitle(model, storage, t.threadId, { instructions: instructions || undefined, minMessages: cfg.minMessages, lastMessages: t.lastMessages })) || undefined
    })()
    const logError = (what: string) => (err: unknown) => (this.#mastra as any)?.getLogger?.()?.error?.(what, { agent: this.name, error: reviveNativeError(err) })
    // As in Mastra, onTitleGenerated runs after the title is stored and is not waited for.
    task.then((title) => title && onTitleGenerated?.(title)).catch(logError('Error in onTitleGenerated callback'))
    return task.catch((err) => {
      logError('Error generating title')(err)
      return undefined
    })
  }

  /** `memory: { thread, resource }` → the native store and what the run loads and records. */
  async #memoryFor(opts: AgentExecutionOptions, requestContext: RequestContext) {
    const m = opts.memory
    if (!m) return undefined
    const memory = await this.#resolveMemory(requestContext)
    if (!(memory instanceof Memory)) {
      throw new ConfigError('MEMORY_NOT_CONFIGURED', `agent '${this.id}' was called with \`memory\` but has no Memory: pass new Agent({ memory: new Memory({ ... }) })`)
    }
    const threadId = typeof m.thread === 'string' ? m.thread : m.thread?.id
    if (!threadId || typeof m.resource !== 'string' || !m.resource) {
      throw new ConfigError('INVALID_INPUT', 'memory needs { thread: string | { id }, resource: string }')
    }
    // A thread given as an object is created with its title and metadata (a titled thread is then not re-titled).
    if (typeof m.thread === 'object' && (m.thread.title || m.thread.metadata) && !(await memory.getThreadById({ threadId }))) {
      await memory.createThread({ resourceId: m.resource, threadId, title: m.thread.title, metadata: m.thread.metadata })
    }
    const last = m.options?.lastMessages ?? memory.options.lastMessages
    const decl = { threadId, resourceId: m.resource, lastMessages: last === false ? 0 : (last ?? 10), readOnly: m.readOnly ?? false }
    const workingMemory = memory.options.workingMemory?.enabled ? await workingMemoryFor(memory, threadId, m.resource) : undefined
    const generateTitle = m.options?.generateTitle ?? memory.options.generateTitle
    const title = generateTitle && !decl.readOnly ? { config: generateTitle, threadId, lastMessages: decl.lastMessages || 10 } : undefined
    return { decl, storage: await memory.storage.__native(), recall: await memory.__recall(), workingMemory, title }
  }

  #end(runId: string, state: RunState) {
    activeRuns.delete(runId)
    ;(state as any).detach?.()
  }
}

export type { Chunk, FullOutput }
export { ToolExecutionError }
