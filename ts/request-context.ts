// Mastra's RequestContext: a Map-like bag passed as `requestContext` that reaches tools and
// dynamic `instructions`/`tools`. As in Mastra, `size` is a method.

export class RequestContext<Values extends Record<string, any> = Record<string, any>> {
  readonly #map: Map<string, unknown>

  constructor(entries?: Iterable<readonly [string, unknown]> | Record<string, unknown>) {
    if (entries && typeof (entries as any)[Symbol.iterator] === 'function') {
      this.#map = new Map(entries as Iterable<readonly [string, unknown]>)
    } else {
      this.#map = new Map(Object.entries((entries as Record<string, unknown>) ?? {}))
    }
  }

  set<K extends keyof Values & string>(key: K, value: Values[K]): this {
    this.#map.set(key, value)
    return this
  }
  get<K extends keyof Values & string>(key: K): Values[K] | undefined {
    return this.#map.get(key) as Values[K] | undefined
  }
  has(key: string): boolean {
    return this.#map.has(key)
  }
  delete(key: string): boolean {
    return this.#map.delete(key)
  }
  clear(): void {
    this.#map.clear()
  }
  keys(): IterableIterator<string> {
    return this.#map.keys()
  }
  values(): IterableIterator<unknown> {
    return this.#map.values()
  }
  entries(): IterableIterator<[string, unknown]> {
    return this.#map.entries()
  }
  forEach(fn: (value: unknown, key: string, map: Map<string, unknown>) => void): void {
    this.#map.forEach(fn)
  }
  size(): number {
    return this.#map.size
  }
  toJSON(): Record<string, unknown> {
    return Object.fromEntries(this.#map)
  }
  [Symbol.iterator](): IterableIterator<[string, unknown]> {
    return this.#map.entries()
  }
}
