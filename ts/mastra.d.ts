import type { Agent } from './agent.js';
export interface MastraConfig {
    agents?: Record<string, Agent>;
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
    getLogger(): unknown;
}
export { Mastra as Lumos };
