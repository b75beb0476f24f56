// A byte-bounded least-recently-used map for decompressed spans.

/** LRU map whose budget counts the byte length of the values; 0 bytes disables caching. */
export class ByteLru<K> {
  readonly #maxBytes: number;
  readonly #map = new Map<K, Buffer>();
  #bytes = 0;

  constructor(maxBytes: number) {
    this.#maxBytes = Math.max(0, maxBytes);
  }

  /** Bytes currently held. */
  get bytes(): number {
    return this.#bytes;
  }

  /** Number of entries held. */
  get size(): number {
    return this.#map.size;
  }

  /** The value for `key`, marking it most recently used. */
  get(key: K): Buffer | undefined {
    const v = this.#map.get(key);
    if (v !== undefined) {
      this.#map.delete(key);
      this.#map.set(key, v);
    }
    return v;
  }

  /** Drops `key` if held. */
  delete(key: K): void {
    const old = this.#map.get(key);
    if (old === undefined) return;
    this.#map.delete(key);
    this.#bytes -= old.length;
  }

  /** Stores `value`, evicting the least recently used entries beyond the budget; values over budget are not kept. */
  set(key: K, value: Buffer): void {
    const old = this.#map.get(key);
    if (old !== undefined) {
      this.#map.delete(key);
      this.#bytes -= old.length;
    }
    if (value.length > this.#maxBytes) return;
    this.#map.set(key, value);
    this.#bytes += value.length;
    for (const [k, v] of this.#map) {
      if (this.#bytes <= this.#maxBytes) break;
      this.#map.delete(k);
      this.#bytes -= v.length;
    }
  }
}
