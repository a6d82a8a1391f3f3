// S4 data: a seeded Gaussian mixture, generated the same way in every child (no data files).
//   centres: `clusters` points with every coordinate N(0, 1)            (PRNG stream seed)
//   vectors: a uniformly chosen centre + N(0, sigma²) noise per coordinate (PRNG stream seed + 1)
//   queries: drawn from the same mixture                                (PRNG stream seed + 2)
// The PRNG is sfc32 + Box–Muller, so vector i is the same in every process. Vectors are produced
// in chunks (a generator), so a child never has to hold the whole data set — the 1M run's RSS is
// then the index's, not a 1.5 GB Float32Array's.

/** sfc32: a small seeded PRNG → floats in [0, 1); the same stream in every process. */
export function sfc32(seed) {
  let a = 0x9e3779b9
  let b = 0x243f6a88
  let c = 0xb7e15162
  let d = seed >>> 0
  const next = () => {
    a >>>= 0; b >>>= 0; c >>>= 0; d >>>= 0
    const t = (a + b) | 0
    a = b ^ (b >>> 9)
    b = (c + (c << 3)) | 0
    c = (c << 21) | (c >>> 11)
    d = (d + 1) | 0
    const r = (t + d) | 0
    c = (c + r) | 0
    return (r >>> 0) / 4294967296
  }
  for (let i = 0; i < 16; i++) next()
  return next
}

function gaussian(rand) {
  let spare
  return () => {
    if (spare !== undefined) {
      const s = spare
      spare = undefined
      return s
    }
    let u = 0
    while (u === 0) u = rand()
    const v = rand()
    const r = Math.sqrt(-2 * Math.log(u))
    spare = r * Math.sin(2 * Math.PI * v)
    return r * Math.cos(2 * Math.PI * v)
  }
}

export const DATA_DEFAULTS = { dim: 384, clusters: 200, sigma: 0.5, seed: 42 }

export function describeData(d) {
  return `Gaussian mixture: ${d.clusters} clusters in ${d.dim}-d, centres N(0, 1) per coordinate, points = centre + N(0, ${d.sigma}²) noise, uniform cluster choice; queries drawn from the same mixture; sfc32 PRNG seed ${d.seed}`
}

function centres(d) {
  const g = gaussian(sfc32(d.seed))
  const c = new Float32Array(d.clusters * d.dim)
  for (let i = 0; i < c.length; i++) c[i] = g()
  return c
}

function* mixture(d, seedOffset, count, chunk) {
  const cen = centres(d)
  const rand = sfc32(d.seed + seedOffset)
  const g = gaussian(rand)
  for (let start = 0; start < count; start += chunk) {
    const m = Math.min(chunk, count - start)
    const out = new Float32Array(m * d.dim)
    for (let i = 0; i < m; i++) {
      const k = Math.floor(rand() * d.clusters) * d.dim
      const o = i * d.dim
      for (let j = 0; j < d.dim; j++) out[o + j] = cen[k + j] + d.sigma * g()
    }
    yield { start, count: m, data: out }
  }
}

/** The n data vectors in chunks of `chunk` rows: { start, count, data: Float32Array(count·dim) }. */
export const vectorChunks = (d, n, chunk = 10_000) => mixture(d, 1, n, chunk)

/** The q query vectors, one flat Float32Array(q·dim). */
export function queryVectors(d, q) {
  return mixture(d, 2, q, q).next().value.data
}

function normalizeRows(a, dim) {
  for (let o = 0; o < a.length; o += dim) {
    let s = 0
    for (let j = 0; j < dim; j++) s += a[o + j] * a[o + j]
    const inv = s > 0 ? 1 / Math.sqrt(s) : 0
    for (let j = 0; j < dim; j++) a[o + j] *= inv
  }
  return a
}

/**
 * Exact top-k by cosine (brute force, plain Float32Array loops) for `q` queries over the n vectors.
 * Returns Int32Array(q·k) of vector indices, best first.
 */
export function exactTopK(d, n, q, k = 10) {
  const dim = d.dim
  const qs = normalizeRows(queryVectors(d, q), dim)
  const ids = new Int32Array(q * k).fill(-1)
  const sc = new Float32Array(q * k).fill(-Infinity)
  for (const { start, count, data } of vectorChunks(d, n)) {
    normalizeRows(data, dim)
    for (let qi = 0; qi < q; qi++) {
      const qo = qi * dim
      const base = qi * k
      for (let i = 0; i < count; i++) {
        const o = i * dim
        let s = 0
        for (let j = 0; j < dim; j++) s += qs[qo + j] * data[o + j]
        if (s <= sc[base + k - 1]) continue
        let p = k - 1
        while (p > 0 && sc[base + p - 1] < s) {
          sc[base + p] = sc[base + p - 1]
          ids[base + p] = ids[base + p - 1]
          p--
        }
        sc[base + p] = s
        ids[base + p] = start + i
      }
    }
  }
  return ids
}
