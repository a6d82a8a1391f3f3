// A scripted OpenAI-compatible chat-completions server on 127.0.0.1, for running the demo with
// no API key. It answers like the real API: first a tool call (when tools are offered), then a
// text answer that uses the tool result. JSON or SSE, as the request asks.
import http from 'node:http'

const base = () => ({ id: `chatcmpl-demo${Date.now()}`, created: Math.floor(Date.now() / 1000), model: 'demo-model', system_fingerprint: 'fp_demo' })

function answer(body) {
  const toolMessages = body.messages.filter((m) => m.role === 'tool')
  if (body.tools?.length && toolMessages.length === 0) {
    const user = [...body.messages].reverse().find((m) => m.role === 'user')
    const text = typeof user?.content === 'string' ? user.content : (user?.content ?? []).map((p) => p.text ?? '').join(' ')
    const city = /in ([A-Z][a-zA-Z]+)/.exec(text)?.[1] ?? 'Paris'
    return { toolCalls: [{ id: 'call_demo_1', name: body.tools[0].function.name, args: JSON.stringify({ city }) }] }
  }
  const last = toolMessages.at(-1)?.content ?? ''
  return { text: last ? `Here is what the tool said: ${last}` : 'Hello from the local scripted model.' }
}

export async function startLocalModelServer() {
  const server = http.createServer((req, res) => {
    let raw = ''
    req.on('data', (d) => (raw += d))
    req.on('end', () => {
      const body = JSON.parse(raw || '{}')
      const a = answer(body)
      const usage = { prompt_tokens: 42, completion_tokens: 12, total_tokens: 54 }
      const message = a.toolCalls
        ? { role: 'assistant', content: null, tool_calls: a.toolCalls.map((c) => ({ id: c.id, type: 'function', function: { name: c.name, arguments: c.args } })) }
        : { role: 'assistant', content: a.text }
      const finish = a.toolCalls ? 'tool_calls' : 'stop'
      if (!body.stream) {
        res.writeHead(200, { 'content-type': 'application/json' })
        res.end(JSON.stringify({ ...base(), object: 'chat.completion', choices: [{ index: 0, message, finish_reason: finish }], usage }))
        return
      }
      res.writeHead(200, { 'content-type': 'text/event-stream' })
      const send = (choices, extra = {}) => res.write(`data: ${JSON.stringify({ ...base(), object: 'chat.completion.chunk', choices, ...extra })}\n\n`)
      if (a.toolCalls) {
        a.toolCalls.forEach((c, index) => send([{ index: 0, delta: { tool_calls: [{ index, id: c.id, type: 'function', function: { name: c.name, arguments: c.args } }] }, finish_reason: null }]))
      } else {
        for (const word of a.text.split(/(?<= )/)) send([{ index: 0, delta: { content: word }, finish_reason: null }])
      }
      send([{ index: 0, delta: {}, finish_reason: finish }])
      if (body.stream_options?.include_usage) send([], { usage })
      res.end('data: [DONE]\n\n')
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return { url: `http://127.0.0.1:${server.address().port}/v1`, close: () => new Promise((r) => server.close(r)) }
}
