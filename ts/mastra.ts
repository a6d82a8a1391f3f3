// The central registry. Later issues add workflows, storage, vectors and MCP servers here.

import type { Agent } from './agent.js'
import { LumosError } from './errors.js'

export interface MastraConfig {
  agents?: Record<string, Agent>
  logger?: unknown
  [key: string]: unknown
}

export class Mastra {
  readonly #agents: Record<string, Agent>
  readonly #logger: unknown

  constructor(config: MastraConfig = {}) {
    this.#agents = { ...(config.agents ?? {}) }
    this.#logger = config.logger
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

  getLogger(): unknown {
    return this.#logger
  }
}

export { Mastra as Lumos }
