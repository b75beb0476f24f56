// Fetches the verified compressed bytes of a layer's spans: disk cache first, else HTTP Range reads with adjacent spans coalesced.
import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';

import { ImageError, isImageError } from '../errors.js';
import { parseDigest } from '../format/oci/digest.js';
import { spanCompressedRange, type SeekIndex } from '../format/seek-index.js';
import type { ImageStore } from '../registry/image-store.js';
import { ByteLru } from '../seek/byte-lru.js';
import type { BackstoreMetrics } from './backstore-metrics.js';
import type { SpanDiskCache, SpanKey } from './span-disk-cache.js';
import { withDeadline } from './deadline.js';

/** Options of a SpanFetcher. */
export interface SpanFetcherOptions {
  store: ImageStore;
  /** The original layer blob's digest. */
  layerDigest: string;
  index: SeekIndex;
  metrics: BackstoreMetrics;
  diskCache?: SpanDiskCache | undefined;
  /** Largest single range request when adjacent spans are coalesced. */
  maxCoalesceBytes: number;
  /** Attempts per span when the bytes fail their sha256 (the registry client retries transport errors itself). */
  verifyAttempts: number;
  /** Deadline of one range request; past it the waiting reads fail TIMEOUT. */
  requestTimeoutMs: number;
  /** Budget of compressed spans fetched ahead of use (readahead) kept in memory when there is no disk cache. */
  readaheadMemoryBytes: number;
}

interface Waiter {
  span: number;
  resolve: (b: Buffer) => void;
  reject: (e: unknown) => void;
}

/** One layer's span source: `fetch(i)` resolves to span i's compressed bytes, checked against the seek index's sha256. */
export class SpanFetcher {
  readonly #o: SpanFetcherOptions;
  readonly #layerHex: string;
  readonly #queue: Waiter[] = [];
  readonly #ahead: ByteLru<number>;
  /** Prefetches running: their compressed bytes, shared with a fetch of the same span meanwhile. */
  readonly #aheadRunning = new Map<number, Promise<Buffer | undefined>>();
  #scheduled = false;
  #local: Promise<FileHandle> | undefined;
  /** Verified spans whose disk cache write is still running (served from here meanwhile). */
  readonly #writing = new Map<number, Buffer>();

  constructor(options: SpanFetcherOptions) {
    this.#o = options;
    this.#layerHex = parseDigest(options.layerDigest).hex;
    this.#ahead = new ByteLru<number>(options.readaheadMemoryBytes);
  }

  #key(i: number): SpanKey {
    const { start, end } = spanCompressedRange(this.#o.index, i);
    return { layerHex: this.#layerHex, start, end, sha256: this.#o.index.points[i]!.spanSha256 };
  }

  #verified(i: number, bytes: Buffer): boolean {
    return createHash('sha256').update(bytes).digest().equals(this.#o.index.points[i]!.spanSha256);
  }

  /** Serves spans from a complete, digest-verified local copy of the layer blob from now on. */
  useLocalCopy(file: string): void {
    this.#local = open(file, 'r');
    this.#local.catch(() => (this.#local = undefined));
  }

  /** Closes the local copy. */
  async close(): Promise<void> {
    const h = this.#local;
    this.#local = undefined;
    await (await h?.catch(() => undefined))?.close();
  }

  /** Span `i`'s verified compressed bytes. */
  async fetch(i: number): Promise<Buffer> {
    if (this.#local) {
      const { start, end } = spanCompressedRange(this.#o.index, i);
      const buf = Buffer.allocUnsafe(end - start);
      const { bytesRead } = await (await this.#local).read(buf, 0, buf.length, start);
      if (bytesRead === buf.length && this.#verified(i, buf)) {
        this.#o.metrics.localReads++;
        return buf;
      }
      this.#o.metrics.verificationFailures++;
      this.#local = undefined; // a damaged local copy: back to the registry
    }
    const ahead = this.#ahead.get(i) ?? this.#writing.get(i) ?? (await this.#aheadRunning.get(i));
    if (ahead) return ahead;
    const cached = await this.#o.diskCache?.get(this.#key(i));
    if (cached) {
      this.#o.metrics.diskCacheHits++;
      return cached;
    }
    return new Promise<Buffer>((resolve, reject) => this.#enqueue({ span: i, resolve, reject }));
  }

  /** Fetches span `i` in the background (into the disk cache, or the readahead memory) unless it is already local; never rejects. */
  prefetch(i: number): Promise<void> {
    if (this.#local || i >= this.#o.index.points.length || this.#aheadRunning.has(i) || this.#ahead.get(i) || this.#writing.has(i)) return Promise.resolve();
    const bytes = (async () => {
      if (this.#o.diskCache?.has(this.#key(i))) return undefined; // presence only: reading and hashing it here would compete with foreground reads
      const got = await new Promise<Buffer>((resolve, reject) => this.#enqueue({ span: i, resolve, reject }));
      if (!this.#o.diskCache) this.#ahead.set(i, got);
      return got;
    })().catch(() => undefined);
    this.#aheadRunning.set(i, bytes);
    return bytes.then(() => void this.#aheadRunning.delete(i));
  }

  #enqueue(w: Waiter): void {
    this.#queue.push(w);
    if (this.#scheduled) return;
    this.#scheduled = true;
    // Requests made in the same turn of the event loop (a read crossing spans, its readahead, concurrent readers)
    // are flushed together so adjacent spans become one range request.
    setImmediate(() => {
      this.#scheduled = false;
      const batch = this.#queue.splice(0);
      for (const group of this.#groups(batch)) void this.#fetchGroup(group);
    });
  }

  /** Waiters sorted by span and cut into runs of adjacent spans no longer than maxCoalesceBytes. */
  #groups(batch: Waiter[]): Waiter[][] {
    batch.sort((a, b) => a.span - b.span);
    const groups: Waiter[][] = [];
    let cur: Waiter[] = [];
    let curStart = 0;
    for (const w of batch) {
      const r = spanCompressedRange(this.#o.index, w.span);
      const last = cur[cur.length - 1];
      if (last && (w.span === last.span || (w.span === last.span + 1 && r.end - curStart <= this.#o.maxCoalesceBytes))) {
        cur.push(w);
        continue;
      }
      if (cur.length) groups.push(cur);
      cur = [w];
      curStart = r.start;
    }
    if (cur.length) groups.push(cur);
    return groups;
  }

  async #fetchGroup(group: Waiter[]): Promise<void> {
    const first = spanCompressedRange(this.#o.index, group[0]!.span);
    const last = spanCompressedRange(this.#o.index, group[group.length - 1]!.span);
    let bytes: Buffer;
    try {
      bytes = await this.#range(first.start, last.end - first.start);
    } catch (err) {
      for (const w of group) w.reject(err);
      return;
    }
    for (const w of group) {
      const r = spanCompressedRange(this.#o.index, w.span);
      const piece = bytes.subarray(r.start - first.start, r.end - first.start);
      if (piece.length === r.end - r.start && this.#verified(w.span, piece)) {
        this.#accept(w, piece.length === bytes.length ? piece : Buffer.from(piece)); // a copy only when other spans share the response
        continue;
      }
      this.#o.metrics.verificationFailures++;
      void this.#refetch(w, 1);
    }
  }

  /** Fetches a span alone after a failed check, up to verifyAttempts in total; CORRUPT when every attempt fails. */
  async #refetch(w: Waiter, attempt: number): Promise<void> {
    const r = spanCompressedRange(this.#o.index, w.span);
    if (attempt >= this.#o.verifyAttempts) {
      w.reject(
        new ImageError('CORRUPT', `span ${w.span} of layer ${this.#o.layerDigest} failed its sha256 check on every fetch`, {
          details: { layer: this.#o.layerDigest, span: w.span, offset: r.start, end: r.end, attempts: attempt },
          hint: 'the registry serves bytes that differ from the indexed layer',
        }),
      );
      return;
    }
    this.#o.metrics.retries++;
    try {
      const piece = await this.#range(r.start, r.end - r.start);
      if (piece.length === r.end - r.start && this.#verified(w.span, piece)) return this.#accept(w, piece);
      this.#o.metrics.verificationFailures++;
      return this.#refetch(w, attempt + 1);
    } catch (err) {
      w.reject(err);
    }
  }

  #accept(w: Waiter, bytes: Buffer): void {
    const cache = this.#o.diskCache;
    if (cache) {
      this.#writing.set(w.span, bytes);
      void cache.put(this.#key(w.span), bytes).finally(() => this.#writing.delete(w.span));
    }
    w.resolve(bytes);
  }

  /** One range request with the request deadline; counts bytes and requests. */
  async #range(offset: number, length: number): Promise<Buffer> {
    this.#o.metrics.requests++;
    const what = { layer: this.#o.layerDigest, offset, length };
    const bytes = await withDeadline(this.#o.store.getBlobRange(this.#o.layerDigest, offset, length), this.#o.requestTimeoutMs, () => ({
      message: `range read of layer ${this.#o.layerDigest} took longer than ${this.#o.requestTimeoutMs} ms`,
      details: what,
    })).catch((err: unknown) => {
      if (isImageError(err)) throw err;
      throw new ImageError('UNAVAILABLE', `range read of layer ${this.#o.layerDigest} failed`, { details: what, cause: err });
    });
    this.#o.metrics.bytesFetched += bytes.length;
    return bytes;
  }
}
