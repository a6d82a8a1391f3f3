// Everything the three implementations share: prompt, instructions, tool behaviour, and the
// checks that an op really did what the scenario says (so a fast wrong answer cannot win).

export const INSTRUCTIONS = 'You are a concise assistant. Use the tools when they help.'
export const PROMPT = 'What is the weather and the local time in Paris?'
export const MODEL_ID = 'openai/gpt-4o-mini'
export const API_KEY = 'bench'

// The three tools. The mock model calls get_weather and get_time; convert_currency is offered
// (its schema is sent every request) but never called.
export const toolImpl = {
  get_weather: async ({ city }) => ({ city, tempC: 21, conditions: 'sunny' }),
  get_time: async ({ timezone }) => ({ timezone, time: '14:05' }),
  convert_currency: async ({ amount, from, to }) => ({ amount: Math.round(amount * 1.08 * 100) / 100, from, to }),
}

export const toolDescriptions = {
  get_weather: 'Get the current weather for a city',
  get_time: 'Get the current local time in an IANA timezone',
  convert_currency: 'Convert an amount of money from one currency to another',
}

export const TEXT_ONLY_ANSWER = 'Hello! I am a mock model answering quickly.'

export function checkToolAnswer(text, where) {
  if (typeof text !== 'string' || !text.includes('sunny') || !text.includes('14:05')) {
    throw new Error(`${where}: expected an answer quoting both tool results, got ${JSON.stringify(text)}`)
  }
}

export function checkTextOnlyAnswer(text, where) {
  if (text !== TEXT_ONLY_ANSWER) throw new Error(`${where}: expected ${JSON.stringify(TEXT_ONLY_ANSWER)}, got ${JSON.stringify(text)}`)
}
