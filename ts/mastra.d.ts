import type { Agent } from './agent.js';
import type { LumosStorage } from './storage.js';
import type { PgVector } from './pgvector.js';
import type { LibSQLVector } from './vector.js';
export interface MastraConfig {
    agents?: Record<string, Agent>;
    vectors?: Record<string, LibSQLVector | PgVector>;
    /** Used by every agent Memory created without its own `storage`. */
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
    getVector(name: string): LibSQLVector | PgVector;
    listVectors(): Record<string, LibSQLVector | PgVector>;
    getStorage(): LumosStorage | undefined;
    getLogger(): unknown;
}
export { Mastra as Lumos };
