import type { Agent } from './agent.js';
import type { LumosStorage } from './storage.js';
import type { PgVector } from './pgvector.js';
import type { LibSQLVector } from './vector.js';
import type { Workflow } from './workflows.js';
export interface MastraConfig {
    agents?: Record<string, Agent>;
    vectors?: Record<string, LibSQLVector | PgVector>;
    workflows?: Record<string, Workflow>;
    /** Used by every agent Memory created without its own `storage`, and by every registered workflow's runs. */
    storage?: LumosStorage;
    logger?: unknown;
    [key: string]: unknown;
}
export declare class Mastra {
    #private;
    constructor(config?: MastraConfig);
    getAgent(key: string): Agent;
    getAgentById(id: string): Agent;
    listAgents(): Record<string, Agent>;
    addAgent(agent: Agent, key?: string): void;
    getWorkflow(key: string): Workflow;
    getWorkflowById(id: string): Workflow;
    listWorkflows(): Record<string, Workflow>;
    addWorkflow(workflow: Workflow, key?: string): void;
    /** Continues every registered workflow's runs left `running` by a process that died. */
    restartAllActiveWorkflowRuns(): Promise<void>;
    getVector(name: string): LibSQLVector | PgVector;
    listVectors(): Record<string, LibSQLVector | PgVector>;
    getStorage(): LumosStorage | undefined;
    getLogger(): unknown;
}
export { Mastra as Lumos };
