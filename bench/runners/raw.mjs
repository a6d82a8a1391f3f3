// The "raw" baseline: what a person would hand-write without a framework — global fetch,
// JSON.parse, direct calls of the tool functions, a manual SSE parser. No validation, no
// messages bookkeeping beyond the request array. It is the floor any framework adds to.
import { API_KEY, INSTRUCTIONS, PROMPT, checkTextOnlyAnswer, checkToolAnswer, toolDescriptions, toolImpl } from '../lib/scenarios.mjs'
import { runChild } from '../lib/child.mjs'

const TOOL_DEFS = [
  {
    type: 'function',
    function: {
      name: 'get_weather',
      description: toolDescriptions.get_weather,
      parameters: { type: 'object', properties: { city: { type: 'string', description: 'City name' } }, required: ['city'], additionalProperties: false },
    },
  },
  {
    type: 'function',
    function: {
      name: 'get_time',
      description: toolDescriptions.get_time,
      parameters: { type: 'object', properties: { timezone: { type: 'string', description: 'IANA timezone, e.g. Europe/Paris' } }, required: ['timezone'], additionalProperties: false },
    },
  },
  {
    type: 'function',
    function: {
      name: 'convert_currency',
      description: toolDescriptions.convert_currency,
      parameters: {
        type: 'object',
        properties: { amount: { type: 'number' }, from: { type: 'string', minLength: 3, maxLength: 3 }, to: { type: 'string', minLength: 3, maxLength: 3 } },
        required: ['amount', 'from', 'to'],
        additionalProperties: false,
      },
    },
  },
]

const MAX_STEPS = 5

async function runTools(toolCalls, messages) {
  const outs = await Promise.all(toolCalls.map((tc) => toolImpl[tc.function.name](JSON.parse(tc.function.arguments || '{}'))))
  toolCalls.forEach((tc, i) => messages.push({ role: 'tool', tool_call_id: tc.id, content: JSON.stringify(outs[i]) }))
  return outs
}

async function post(agent, body) {
  const res = await fetch(agent.endpoint, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${API_KEY}` },
    body: JSON.stringify(body),
  })
  if (!res.ok) throw new Error(`HTTP ${res.status}: ${await res.text()}`)
  return res
}

async function generate(agent) {
  const messages = [
    { role: 'system', content: INSTRUCTIONS },
    { role: 'user', content: PROMPT },
  ]
  let toolResults = 0
  for (let step = 0; step < MAX_STEPS; step++) {
    const res = await post(agent, { model: 'gpt-4o-mini', messages, ...(agent.tools ? { tools: agent.tools } : {}) })
    const data = JSON.parse(await res.text())
    const msg = data.choices[0].message
    messages.push(msg)
    if (!msg.tool_calls?.length) {
      checkToolAnswer(msg.content, 'raw generate')
      if (toolResults !== 2) throw new Error(`raw generate: expected 2 tool results, got ${toolResults}`)
      return { text: msg.content }
    }
    toolResults += (await runTools(msg.tool_calls, messages)).length
  }
  throw new Error('raw generate: too many steps')
}

async function stream(agent, { withTools }) {
  const messages = [
    { role: 'system', content: INSTRUCTIONS },
    { role: 'user', content: PROMPT },
  ]
  const decoder = new TextDecoder()
  let ttft
  let text = ''
  for (let step = 0; step < MAX_STEPS; step++) {
    const res = await post(agent, { model: 'gpt-4o-mini', messages, stream: true, stream_options: { include_usage: true }, ...(agent.tools ? { tools: agent.tools } : {}) })
    const calls = []
    let stepText = ''
    let buf = ''
    for await (const bytes of res.body) {
      buf += decoder.decode(bytes, { stream: true })
      let sep
      while ((sep = buf.indexOf('\n\n')) >= 0) {
        const event = buf.slice(0, sep)
        buf = buf.slice(sep + 2)
        if (!event.startsWith('data: ')) continue
        const data = event.slice(6)
        if (data === '[DONE]') continue
        const chunk = JSON.parse(data)
        const delta = chunk.choices[0]?.delta
        if (!delta) continue
        if (delta.content) {
          if (ttft === undefined) ttft = process.hrtime.bigint()
          stepText += delta.content
        }
        if (delta.tool_calls) {
          for (const tc of delta.tool_calls) {
            const c = (calls[tc.index] ??= { id: '', type: 'function', function: { name: '', arguments: '' } })
            if (tc.id) c.id = tc.id
            if (tc.function?.name) c.function.name += tc.function.name
            if (tc.function?.arguments) c.function.arguments += tc.function.arguments
          }
        }
      }
    }
    text += stepText
    if (calls.length === 0) {
      if (withTools) checkToolAnswer(text, 'raw stream')
      else checkTextOnlyAnswer(text, 'raw stream')
      return { ttft }
    }
    messages.push({ role: 'assistant', content: stepText || null, tool_calls: calls })
    await runTools(calls, messages)
  }
  throw new Error('raw stream: too many steps')
}

runChild('raw', {
  load: async () => ({}),
  construct: (_mod, { port, withTools }) => ({ endpoint: `http://127.0.0.1:${port}/v1/chat/completions`, tools: withTools ? TOOL_DEFS : undefined }),
  generate,
  stream,
})
