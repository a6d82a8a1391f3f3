import type { Agent } from './agent.js';
import type { LibSQLVector } from './vector.js';
export interface MastraConfig {
    agents?: Record<string, Agent>;
    vectors?: Record<string, LibSQLVector>;
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
    getVector(name: string): LibSQLVector;
    listVectors(): Record<string, LibSQLVector>;
    getLogger(): unknown;
}
export { Mastra as Lumos };
