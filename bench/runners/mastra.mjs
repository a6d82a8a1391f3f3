// Mastra 1.71.0 runner: the shared agent scenario code, with Agent/createTool from @mastra/core.
import { agentImpl } from '../lib/agent-scenarios.mjs'
import { runChild } from '../lib/child.mjs'

runChild(
  'mastra',
  agentImpl({
    framework: async () => {
      const [{ Agent }, { createTool }] = await Promise.all([import('@mastra/core/agent'), import('@mastra/core/tools')])
      return { Agent, createTool }
    },
    zod: () => import('zod'),
  }),
)
