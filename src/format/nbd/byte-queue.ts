// A FIFO of received byte chunks for incremental protocol parsers: peek, take and skip across chunk boundaries.

/** Bytes received but not yet parsed, kept as the chunks they arrived in. */
export class ByteQueue {
  #chunks: Buffer[] = [];
  #head = 0; // bytes of #chunks[0] already consumed
  #length = 0;

  /** Bytes available. */
  get length(): number {
    return this.#length;
  }

  /** Appends a received chunk (kept by reference: callers must not reuse it). */
  push(chunk: Buffer): void {
    if (chunk.length === 0) return;
    this.#chunks.push(chunk);
    this.#length += chunk.length;
  }

  /** The first `n` bytes without consuming them (n <= length). */
  peek(n: number): Buffer {
    const first = this.#chunks[0];
    if (first && first.length - this.#head >= n) return first.subarray(this.#head, this.#head + n);
    const out = Buffer.allocUnsafe(n);
    let done = 0;
    let head = this.#head;
    for (const chunk of this.#chunks) {
      if (done === n) break;
      const k = Math.min(n - done, chunk.length - head);
      chunk.copy(out, done, head, head + k);
      done += k;
      head = 0;
    }
    return out;
  }

  /** Removes and returns the first `n` bytes (n <= length). */
  take(n: number): Buffer {
    const out = this.peek(n);
    this.skip(n);
    return out;
  }

  /** Drops up to `n` bytes; returns how many were dropped. */
  skip(n: number): number {
    let left = Math.min(n, this.#length);
    const dropped = left;
    while (left > 0) {
      const first = this.#chunks[0]!;
      const avail = first.length - this.#head;
      if (avail > left) {
        this.#head += left;
        left = 0;
      } else {
        this.#chunks.shift();
        this.#head = 0;
        left -= avail;
      }
    }
    this.#length -= dropped;
    return dropped;
  }
}
