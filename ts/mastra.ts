// The central registry: agents, workflows, storage and vectors. A later issue adds MCP servers.

import type { Agent } from './agent.js'
import { LumosError } from './errors.js'
import type { LumosStorage } from './storage.js'
import type { PgVector } from './pgvector.js'
import type { LibSQLVector } from './vector.js'
import type { Workflow } from './workflows.js'

export interface MastraConfig {
  agents?: Record<string, Agent>
  vectors?: Record<string, LibSQLVector | PgVector>
  workflows?: Record<string, Workflow>
  /** Used by every agent Memory created without its own `storage`, and by every registered workflow's runs. */
  storage?: LumosStorage
  logger?: unknown
  [key: string]: unknown
}

export class Mastra {
  readonly #agents: Record<string, Agent>
  readonly #logger: unknown
  readonly #vectors: Record<string, LibSQLVector | PgVector>
  readonly #storage: LumosStorage | undefined
  readonly #workflows: Record<string, Workflow>

  constructor(config: MastraConfig = {}) {
    this.#agents = { ...(config.agents ?? {}) }
    this.#logger = config.logger
    this.#vectors = { ...(config.vectors ?? {}) }
    this.#storage = config.storage
    this.#workflows = { ...(config.workflows ?? {}) }
    for (const agent of Object.values(this.#agents)) agent.__registerMastra?.(this)
    for (const workflow of Object.values(this.#workflows)) workflow.__registerMastra(this)
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

  getWorkflow(key: string): Workflow {
    const workflow = this.#workflows[key]
    if (!workflow) throw new LumosError('WORKFLOW_NOT_FOUND', `Workflow with name ${key} not found. Registered workflows: ${Object.keys(this.#workflows).join(', ') || '(none)'}`)
    return workflow
  }

  getWorkflowById(id: string): Workflow {
    const workflow = Object.values(this.#workflows).find((w) => w.id === id) ?? this.#workflows[id]
    if (!workflow) throw new LumosError('WORKFLOW_NOT_FOUND', `Workflow with id ${id} not found`)
    return workflow
  }

  listWorkflows(): Record<string, Workflow> {
    return { ...this.#workflows }
  }

  addWorkflow(workflow: Workflow, key = workflow.id): void {
    this.#workflows[key] = workflow
    workflow.__registerMastra(this)
  }

  /** Continues every registered workflow's runs left `running` by a process that died. */
  async restartAllActiveWorkflowRuns(): Promise<void> {
    await Promise.all(Object.values(this.#workflows).map((w) => w.restartAllActiveWorkflowRuns()))
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
