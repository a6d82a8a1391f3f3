// Lumos: Mastra 1.x's API on a Rust runtime. Change `@mastra/core` imports to `@lumosai/core`.

export { Agent, stepCountIs, hasToolCall } from './ts/agent.js'
export type { AgentConfig, AgentExecutionOptions, ModelConfig, StopCondition } from './ts/agent.js'
export { createTool, Tool } from './ts/tools.js'
export type { ToolConfig, ToolExecutionContext, ValidationFailure } from './ts/tools.js'
export { Mastra, Lumos } from './ts/mastra.js'
export type { MastraConfig } from './ts/mastra.js'
export { RequestContext } from './ts/request-context.js'
export { ModelOutput } from './ts/output.js'
export type { Chunk, FullOutput, Usage, StructuredOutputOptions } from './ts/output.js'
export { LumosError, ProviderError, AbortError, StructuredOutputError, ToolExecutionError, ConfigError } from './ts/errors.js'
export { LibSQLVector } from './ts/vector.js'
export type { QueryResult, IndexStats } from './ts/vector.js'
