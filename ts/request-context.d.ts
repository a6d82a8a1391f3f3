export declare class RequestContext<Values extends Record<string, any> = Record<string, any>> {
    #private;
    constructor(entries?: Iterable<readonly [string, unknown]> | Record<string, unknown>);
    set<K extends keyof Values & string>(key: K, value: Values[K]): this;
    get<K extends keyof Values & string>(key: K): Values[K] | undefined;
    has(key: string): boolean;
    delete(key: string): boolean;
    clear(): void;
    keys(): IterableIterator<string>;
    values(): IterableIterator<unknown>;
    entries(): IterableIterator<[string, unknown]>;
    forEach(fn: (value: unknown, key: string, map: Map<string, unknown>) => void): void;
    size(): number;
    toJSON(): Record<string, unknown>;
    [Symbol.iterator](): IterableIterator<[string, unknown]>;
}
