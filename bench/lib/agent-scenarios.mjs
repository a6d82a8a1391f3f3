// The scenario code for Lumos and Mastra. It is ONE source for both: the runners differ only in
// the module they import `Agent` and `createTool` from (that is the product promise).
import { API_KEY, INSTRUCTIONS, MODEL_ID, PROMPT, checkTextOnlyAnswer, checkToolAnswer, toolDescriptions, toolImpl } from './scenarios.mjs'

/**
 * @param {{ framework: () => Promise<{ Agent: any, createTool: any }>, zod: () => Promise<{ z: any }> }} imports
 *   the only part that differs between Lumos and Mastra.
 */
export function agentImpl(imports) {
  return {
    // `marks.frameworkImported` is set between the two imports (S5 reports them separately).
    async load(marks = {}) {
      const { Agent, createTool } = await imports.framework()
      marks.frameworkImported = process.hrtime.bigint()
      const { z } = await imports.zod()
      return { Agent, createTool, z }
    },

    construct({ Agent, createTool, z }, { port, withTools }) {
      const tools = withTools
        ? {
            get_weather: createTool({
              id: 'get_weather',
              description: toolDescriptions.get_weather,
              inputSchema: z.object({ city: z.string().describe('City name') }),
              execute: async (input) => toolImpl.get_weather(input),
            }),
            get_time: createTool({
              id: 'get_time',
              description: toolDescriptions.get_time,
              inputSchema: z.object({ timezone: z.string().describe('IANA timezone, e.g. Europe/Paris') }),
              execute: async (input) => toolImpl.get_time(input),
            }),
            convert_currency: createTool({
              id: 'convert_currency',
              description: toolDescriptions.convert_currency,
              inputSchema: z.object({ amount: z.number(), from: z.string().length(3), to: z.string().length(3) }),
              execute: async (input) => toolImpl.convert_currency(input),
            }),
          }
        : undefined
      return new Agent({
        id: 'bench-agent',
        name: 'Bench Agent',
        instructions: INSTRUCTIONS,
        model: { id: MODEL_ID, url: `http://127.0.0.1:${port}/v1`, apiKey: API_KEY },
        ...(tools ? { tools } : {}),
      })
    },

    // S1: generate; the model calls 2 tools, then answers.
    async generate(agent) {
      const r = await agent.generate(PROMPT)
      checkToolAnswer(r.text, 'generate')
      if (!Array.isArray(r.toolResults) || r.toolResults.length !== 2) {
        throw new Error(`generate: expected 2 tool results, got ${JSON.stringify(r.toolResults)?.slice(0, 300)}`)
      }
      return r
    },

    // S2: stream; returns the hrtime of the first text chunk.
    async stream(agent, { withTools }) {
      const out = await agent.stream(PROMPT)
      let ttft
      let text = ''
      for await (const t of out.textStream) {
        if (ttft === undefined) ttft = process.hrtime.bigint()
        text += t
      }
      if (withTools) checkToolAnswer(text, 'stream')
      else checkTextOnlyAnswer(text, 'stream')
      return { ttft }
    },
  }
}
