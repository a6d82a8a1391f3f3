// Error classes that reach users. Every failure carries a stable `code`; native errors arrive as
// data (JSON) and are revived here into the matching subclass.

export class LumosError extends Error {
  readonly code: string
  readonly details?: Record<string, unknown>
  constructor(code: string, message: string, options?: { cause?: unknown; details?: Record<string, unknown> }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause })
    this.name = 'LumosError'
    this.code = code
    if (options?.details) this.details = options.details
  }
}

/** A model provider failed: HTTP error status, timeout, connection, truncated or malformed stream. */
export class ProviderError extends LumosError {
  readonly status?: number
  readonly body?: string
  readonly provider?: string
  readonly isRetryable: boolean
  constructor(code: string, message: string, data: { status?: number; body?: string; provider?: string; retryable?: boolean } = {}) {
    super(code, message)
    this.name = 'ProviderError'
    this.status = data.status
    this.body = data.body
    this.provider = data.provider
    this.isRetryable = data.retryable ?? false
  }
  /** AI SDK `APICallError` spelling, for code that reads `error.statusCode`. */
  get statusCode(): number | undefined {
    return this.status
  }
}

/** The run was cancelled through its `abortSignal`. */
export class AbortError extends LumosError {
  constructor(message = 'The run was aborted (abortSignal fired).') {
    super('ABORTED', message)
    this.name = 'AbortError'
  }
}

/** `structuredOutput` could not be parsed or did not match its schema. */
export class StructuredOutputError extends LumosError {
  readonly text?: string
  constructor(message: string, data: { text?: string; issues?: unknown } = {}) {
    super('STRUCTURED_OUTPUT_SCHEMA_VALIDATION_FAILED', message, { details: data.issues ? { issues: data.issues } : undefined })
    this.name = 'StructuredOutputError'
    this.text = data.text
  }
}

/** A tool threw; carried by `tool-error` chunks with the original error as `cause`. */
export class ToolExecutionError extends LumosError {
  readonly toolName?: string
  constructor(message: string, options: { cause?: unknown; toolName?: string } = {}) {
    super('TOOL_EXECUTION_FAILED', message, { cause: options.cause })
    this.name = 'ToolExecutionError'
    this.toolName = options.toolName
  }
}

/** Bad configuration or arguments: fix the call, retrying will not help. */
export class ConfigError extends LumosError {
  constructor(code: string, message: string) {
    super(code, message)
    this.name = 'ConfigError'
  }
}

interface ErrorData {
  code?: string
  message?: string
  status?: number
  body?: string
  provider?: string
  retryable?: boolean
  name?: string
  cause?: ErrorData
  toolName?: string
}

/** Builds the `Error` subclass for an error that crossed the boundary as data. */
export function errorFromData(data: ErrorData): LumosError {
  const code = data.code ?? 'INTERNAL'
  const message = data.message ?? 'Unknown error'
  if (code === 'ABORTED') return new AbortError(message)
  if (code.startsWith('PROVIDER_')) return new ProviderError(code, message, data)
  if (code === 'TOOL_EXECUTION_FAILED') {
    const cause = data.cause ? Object.assign(new Error(data.cause.message ?? ''), data.cause) : undefined
    return new ToolExecutionError(message, { cause, toolName: data.toolName })
  }
  if (code === 'MODEL_CONFIG_INVALID' || code === 'INVALID_INPUT') return new ConfigError(code, message)
  return new LumosError(code, message)
}

/** Native functions throw with the JSON of a core `LumosError` as the message. */
export function reviveNativeError(err: unknown): unknown {
  if (err instanceof Error && err.message.startsWith('{"code"')) {
    try {
      return errorFromData(JSON.parse(err.message))
    } catch {
      return err
    }
  }
  return err
}

/** A JS error as plain data (for `tool-error` chunks crossing into Rust and back). */
export function serializeError(err: unknown): { name: string; message: string; stack?: string } {
  if (err instanceof Error) return { name: err.name, message: err.message, stack: err.stack }
  return { name: 'Error', message: typeof err === 'string' ? err : JSON.stringify(err) ?? String(err) }
}
