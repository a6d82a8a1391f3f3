// createTool / Tool: Mastra's tool shape. The agent loop calls `execute` through the native
// dispatcher; calling `tool.execute()` directly validates the same way.

import { RequestContext } from './request-context.js'
import { type AnySchema, issuesToErrors, issuesToText, validate } from './schema.js'

export interface ToolExecutionContext {
  requestContext: RequestContext
  abortSignal?: AbortSignal
  toolCallId?: string
  runId?: string
  mastra?: unknown
  agent?: { agentId: string; toolCallId: string; messages: unknown[]; threadId?: string; resourceId?: string }
  [key: string]: unknown
}

export interface ToolConfig<TIn = any, TOut = any> {
  id: string
  description?: string
  title?: string
  inputSchema?: AnySchema
  outputSchema?: AnySchema
  execute?: (inputData: TIn, context: ToolExecutionContext) => TOut | Promise<TOut>
  requireApproval?: boolean
  [key: string]: unknown
}

export interface ValidationFailure {
  error: true
  message: string
  validationErrors: { formErrors: string[]; fieldErrors: Record<string, string[]> }
}

export class Tool<TIn = any, TOut = any> {
  readonly id: string
  readonly description: string
  readonly inputSchema?: AnySchema
  readonly outputSchema?: AnySchema
  readonly #execute?: ToolConfig<TIn, TOut>['execute']
  readonly config: ToolConfig<TIn, TOut>

  constructor(config: ToolConfig<TIn, TOut>) {
    if (!config || typeof config.id !== 'string' || config.id === '') {
      throw new TypeError('createTool needs an `id` (a non-empty string)')
    }
    this.config = config
    this.id = config.id
    this.description = config.description ?? ''
    this.inputSchema = config.inputSchema
    this.outputSchema = config.outputSchema
    this.#execute = config.execute
  }

  get hasExecute(): boolean {
    return typeof this.#execute === 'function'
  }

  /** Validates input (returning Mastra's validation-failure object instead of throwing), runs, validates output. */
  async execute(inputData: TIn, context?: Partial<ToolExecutionContext>): Promise<TOut | ValidationFailure> {
    if (!this.#execute) throw new TypeError(`tool '${this.id}' has no execute function`)
    const input = await validate(this.inputSchema, inputData ?? {})
    if (!input.ok) return validationFailure('input', this.id, input.issues)
    const ctx = { ...context, requestContext: context?.requestContext ?? new RequestContext() } as ToolExecutionContext
    const output = await this.#execute(input.value as TIn, ctx)
    if (this.outputSchema) {
      const checked = await validate(this.outputSchema, output)
      if (!checked.ok) return validationFailure('output', this.id, checked.issues)
      return checked.value as TOut
    }
    return output
  }
}

export function validationFailure(kind: 'input' | 'output', name: string, issues: { path: string; message: string }[]): ValidationFailure {
  return {
    error: true,
    message: `Tool ${kind} validation failed for ${name}. Please fix the following errors and try again:\n${issuesToText(issues)}`,
    validationErrors: issuesToErrors(issues),
  }
}

export function isValidationFailure(v: unknown): v is ValidationFailure {
  return typeof v === 'object' && v !== null && (v as any).error === true && typeof (v as any).message === 'string' && 'validationErrors' in v
}

export function createTool<TIn = any, TOut = any>(config: ToolConfig<TIn, TOut>): Tool<TIn, TOut> {
  return new Tool(config)
}
