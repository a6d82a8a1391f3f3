// S3 data: a seeded synthetic conversation, generated the same way in every child (no data files).
//
// Words are made-up syllable strings: TOPICS topics of TOPIC_WORDS words each, plus FILLER
// common words. Message i (alternating user / assistant) picks a topic and 16–31 words, about
// two thirds from its topic and the rest filler (~180 characters: a short chat turn). The mock's
// embeddings are a hashed bag of words, so messages of one topic are near each other and a prompt
// built from a topic's words recalls messages of that topic — recall has something real to find.
// Prompts use their own PRNG stream, so prompt j is the same for every implementation.

export const S3_DATA = { topics: 64, topicWords: 24, filler: 400, seed: 7 }

import { sfc32 } from './vector-data.mjs'

const SYLLABLES = ['ka', 'lo', 'mi', 'ren', 'tu', 'sa', 'vel', 'do', 'qui', 'bar', 'ne', 'zo', 'pha', 'lin', 'gro', 'es', 'tor', 'ma', 'ul', 'fi', 'chen', 'ra', 'vo', 'ist']

function vocabulary(d) {
  const rand = sfc32(d.seed)
  const seen = new Set()
  const word = () => {
    for (;;) {
      const n = 2 + Math.floor(rand() * 3)
      let w = ''
      for (let i = 0; i < n; i++) w += SYLLABLES[Math.floor(rand() * SYLLABLES.length)]
      if (!seen.has(w)) {
        seen.add(w)
        return w
      }
    }
  }
  const topics = Array.from({ length: d.topics }, () => Array.from({ length: d.topicWords }, word))
  const filler = Array.from({ length: d.filler }, word)
  return { topics, filler }
}

function sentence(rand, v, topic, words) {
  const out = []
  for (let i = 0; i < words; i++) {
    const pool = rand() < 0.66 ? v.topics[topic] : v.filler
    out.push(pool[Math.floor(rand() * pool.length)])
  }
  return out.join(' ')
}

/** A conversation generator: yields the texts in chunks of `size`, never all at once. */
export function* textChunks(d, n, size) {
  const v = vocabulary(d)
  const rand = sfc32(d.seed + 1)
  for (let start = 0; start < n; start += size) {
    const count = Math.min(size, n - start)
    const texts = new Array(count)
    for (let i = 0; i < count; i++) {
      const topic = Math.floor(rand() * d.topics)
      const words = 16 + Math.floor(rand() * 16)
      texts[i] = sentence(rand, v, topic, words)
    }
    yield { start, texts }
  }
}

/** `count` user prompts: a question made of 8 words of one topic. */
export function prompts(d, count) {
  const v = vocabulary(d)
  const rand = sfc32(d.seed + 2)
  return Array.from({ length: count }, (_, j) => {
    const topic = Math.floor(rand() * d.topics)
    const words = Array.from({ length: 8 }, () => v.topics[topic][Math.floor(rand() * d.topicWords)])
    return `Question ${j}: what did we say about ${words.join(' ')}?`
  })
}

export const describeS3Data = (d) =>
  `synthetic conversation, alternating user / assistant messages of 16–31 made-up words (~180 characters), each about one of ${d.topics} topics (${d.topicWords} words each; about two thirds topic words, the rest from ${d.filler} filler words), sfc32 PRNG seed ${d.seed}`
