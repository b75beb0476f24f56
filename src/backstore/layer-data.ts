// One layer's uncompressed tar bytes on demand: spans from the SpanFetcher, inflated from their seek point, kept in a shared LRU.
import { ImageError, isImageError } from '../errors.js';
import { findSpan, loadWindow, spanUncompressedRange, type SeekIndex } from '../format/seek-index.js';
import type { ImageStore } from '../registry/image-store.js';
import type { ByteLru } from '../seek/byte-lru.js';
import type { InflateEngine } from '../seek/inflate-engine.js';
import type { BackstoreMetrics } from './backstore-metrics.js';
import { withDeadline } from './deadline.js';
import type { SpanFetcher } from './span-fetcher.js';

/** Options of a LayerData. */
export interface LayerDataOptions {
  position: number;
  layerDigest: string;
  index: SeekIndex;
  fetcher: SpanFetcher;
  engine: InflateEngine;
  /** Decompressed spans of every layer, keyed `<position>:<span>`. */
  spanCache: ByteLru<string>;
  metrics: BackstoreMetrics;
  /** Spans after a missed one fetched ahead (compressed only). */
  readaheadSpans: number;
  /** For plain tar layers (identity index): range reads straight from the store. */
  store: ImageStore;
  requestTimeoutMs: number;
}

/** Serves read(tarOffset, length) of one layer's uncompressed tar. */
export class LayerData {
  readonly #o: LayerDataOptions;
  readonly #inflight = new Map<number, Promise<Buffer>>();
  /** A local copy of a plain tar layer after a background download (gzip layers: SpanFetcher.useLocalCopy). */
  local: { read(offset: number, length: number): Promise<Buffer> } | undefined;

  constructor(options: LayerDataOptions) {
    this.#o = options;
  }

  /** The layer's span fetcher. */
  get fetcher(): SpanFetcher {
    return this.#o.fetcher;
  }

  /** The layer's seek index. */
  get index(): SeekIndex {
    return this.#o.index;
  }

  /** Uncompressed size of the layer. */
  get size(): number {
    return this.#o.index.uncompressedBytes;
  }

  /** Exactly `length` tar bytes from `offset` (INTERNAL if the device map points past the layer). */
  async read(offset: number, length: number): Promise<Buffer> {
    const { index } = this.#o;
    if (offset + length > index.uncompressedBytes) {
      throw new ImageError('INTERNAL', 'the device map points past the end of a layer', { details: { layer: this.#o.position, offset, length, layerBytes: index.uncompressedBytes } });
    }
    if (length === 0) return Buffer.alloc(0);
    if (index.identity) return this.#plain(offset, length);
    const parts: Promise<Buffer>[] = [];
    for (let i = findSpan(index, offset); i < index.points.length; i++) {
      const span = spanUncompressedRange(index, i);
      if (span.start >= offset + length) break;
      if (span.end <= offset) continue;
      const a = Math.max(offset, span.start) - span.start;
      const b = Math.min(offset + length, span.end) - span.start;
      parts.push(this.span(i).then((buf) => buf.subarray(a, b)));
    }
    const out = await Promise.all(parts);
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  /** The whole decompressed span `i`: from the LRU, else inflated once for all concurrent callers. */
  span(i: number): Promise<Buffer> {
    const key = `${this.#o.position}:${i}`;
    const hit = this.#o.spanCache.get(key);
    if (hit) {
      this.#o.metrics.memoryCacheHits++;
      return Promise.resolve(hit);
    }
    const running = this.#inflight.get(i);
    if (running) return running;
    const job = this.#load(i).then(
      (buf) => {
        this.#inflight.delete(i);
        this.#o.spanCache.set(key, buf);
        return buf;
      },
      (err: unknown) => {
        this.#inflight.delete(i);
        throw err;
      },
    );
    this.#inflight.set(i, job);
    return job;
  }

  async #load(i: number): Promise<Buffer> {
    const { index } = this.#o;
    const span = spanUncompressedRange(index, i);
    for (let k = 1; k <= this.#o.readaheadSpans; k++) void this.#o.fetcher.prefetch(i + k);
    const input = await this.#o.fetcher.fetch(i);
    const point = index.points[i]!;
    let result;
    try {
      result = await this.#o.engine.inflateFrom({ input, firstBitInByte: point.compressedBitOffset & 7, window: loadWindow(point), skipBytes: 0, outBytes: span.end - span.start });
    } catch (err) {
      if (!isImageError(err)) throw err;
      throw new ImageError(err.code, `layer ${this.#o.layerDigest} span ${i}: ${err.message}`, { details: { layer: this.#o.layerDigest, span: i }, cause: err });
    }
    if (result.output.length !== span.end - span.start) {
      throw new ImageError('CORRUPT', 'a verified span inflated to fewer bytes than the seek index promises', {
        details: { layer: this.#o.layerDigest, span: i, expected: span.end - span.start, actual: result.output.length },
        hint: 'the seek index does not describe this layer; rebuild the index',
      });
    }
    return result.output;
  }

  /** Plain tar layer: no spans to verify, ranges read directly (verification needs a gzip seek index). */
  async #plain(offset: number, length: number): Promise<Buffer> {
    if (this.local) return this.local.read(offset, length);
    this.#o.metrics.requests++;
    const bytes = await withDeadline(this.#o.store.getBlobRange(this.#o.layerDigest, offset, length), this.#o.requestTimeoutMs, () => ({
      message: `range read of layer ${this.#o.layerDigest} took too long`,
      details: { layer: this.#o.layerDigest, offset, length },
    }));
    this.#o.metrics.bytesFetched += bytes.length;
    if (bytes.length !== length) throw new ImageError('TRUNCATED', 'the registry returned fewer bytes than asked', { details: { layer: this.#o.layerDigest, offset, length, got: bytes.length } });
    return bytes;
  }
}
