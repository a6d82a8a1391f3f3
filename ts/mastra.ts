// The central registry: agents, storage and vectors. Later issues add workflows and MCP servers.

import type { Agent } from './agent.js'
import { LumosError } from './errors.js'
import type { LumosStorage } from './storage.js'
import type { PgVector } from './pgvector.js'
import type { LibSQLVector } from './vector.js'

export interface MastraConfig {
  agents?: Record<string, Agent>
  vectors?: Record<string, LibSQLVector | PgVector>
  /** Used by every agent Memory created without its own `storage`. */
  storage?: LumosStorage
  logger?: unknown
  [key: string]: unknown
}

export class Mastra {
  readonly #agents: Record<string, Agent>
  readonly #logger: unknown
  readonly #vectors: Record<string, LibSQLVector | PgVector>
  readonly #storage: LumosStorage | undefined

  constructor(config: MastraConfig = {}) {
    this.#agents = { ...(config.agents ?? {}) }
    this.#logger = config.logger
    this.#vectors = { ...(config.vectors ?? {}) }
    this.#storage = config.storage
    for (const agent of Object.values(this.#agents)) agent.__registerMastra?.(this)
  }

  getAgent(key: string): Agent {
    const agent = this.#agents[key]
    if (!agent) throw new LumosError('AGENT_NOT_FOUND', `Agent with name ${key} not found. Registered agents: ${Object.keys(this.#agents).join(', ') || '(none)'}`)
    return agent
  }

  getAgentById(id: string): Agent {
    const agent = Object.values(this.#agents).find((a) => a.id === id) ?? this.#agents[id]
    if (!agent) throw new LumosError('AGENT_NOT_FOUND', `Agent with id ${id} not found`)
    return agent
  }

  listAgents(): Record<string, Agent> {
    return { ...this.#agents }
  }

  addAgent(agent: Agent, key = agent.id): void {
    this.#agents[key] = agent
    agent.__registerMastra?.(this)
  }

  getVector(name: string): LibSQLVector | PgVector {
    const vector = this.#vectors[name]
    if (!vector) throw new LumosError('VECTOR_NOT_FOUND', `Vector store ${name} not found. Registered: ${Object.keys(this.#vectors).join(', ') || '(none)'}`)
    return vector
  }

  listVectors(): Record<string, LibSQLVector | PgVector> {
    return { ...this.#vectors }
  }

  getStorage(): LumosStorage | undefined {
    return this.#storage
  }

  getLogger(): unknown {
    return this.#logger
  }
}

export { Mastra as Lumos }
