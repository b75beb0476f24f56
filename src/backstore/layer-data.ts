// One layer's uncompressed tar bytes on demand: spans from the SpanFetcher, inflated from their seek point (a cold miss only up to the end of the read), kept in a shared LRU.
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
  /** Decompressed spans (or prefixes of them) of every layer, keyed `<position>:<span>`; `<position>:<span>:z` holds the verified compressed bytes of a span cached as a prefix only. */
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
  /** Inflates running per span: how many bytes of the span each will produce. */
  readonly #inflight = new Map<number, { upTo: number; job: Promise<Buffer> }>();
  /** Compressed span fetches running, shared by a prefix inflate and a whole-span one started meanwhile. */
  readonly #fetching = new Map<number, Promise<Buffer>>();
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
      parts.push(this.#prefix(i, b).then((buf) => buf.subarray(a, b)));
    }
    const out = await Promise.all(parts);
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  /** The whole decompressed span `i`. */
  span(i: number): Promise<Buffer> {
    const span = spanUncompressedRange(this.#o.index, i);
    return this.#prefix(i, span.end - span.start);
  }

  /**
   * At least the first `need` decompressed bytes of span `i`: from the LRU, else from a running inflate that goes far
   * enough, else inflated now. A cold span is inflated only up to `need` (a random read pays for half a span on
   * average); a span read again beyond its cached or running prefix is inflated whole, so sequential reads inflate
   * each span at most twice. Every inflate starts from compressed bytes the fetcher verified in full.
   */
  #prefix(i: number, need: number): Promise<Buffer> {
    const key = `${this.#o.position}:${i}`;
    const hit = this.#o.spanCache.get(key);
    if (hit && hit.length >= need) {
      this.#o.metrics.memoryCacheHits++;
      return Promise.resolve(hit);
    }
    const running = this.#inflight.get(i);
    if (running && running.upTo >= need) return running.job;
    const span = spanUncompressedRange(this.#o.index, i);
    const upTo = hit || running ? span.end - span.start : need;
    const job: Promise<Buffer> = this.#load(i, upTo).then(
      (buf) => {
        if (this.#inflight.get(i)?.job === job) this.#inflight.delete(i);
        if ((this.#o.spanCache.get(key)?.length ?? -1) < buf.length) this.#o.spanCache.set(key, buf);
        return buf;
      },
      (err: unknown) => {
        if (this.#inflight.get(i)?.job === job) this.#inflight.delete(i);
        throw err;
      },
    );
    this.#inflight.set(i, { upTo, job });
    return job;
  }

  /** The first `upTo` decompressed bytes of span `i`, inflated from its point out of the verified compressed span. */
  async #load(i: number, upTo: number): Promise<Buffer> {
    const { index, spanCache } = this.#o;
    const zKey = `${this.#o.position}:${i}:z`;
    const input = spanCache.get(zKey) ?? (await this.#input(i));
    // readahead starts once the foreground span's bytes are here, so it never delays them
    for (let k = 1; k <= this.#o.readaheadSpans; k++) void this.#o.fetcher.prefetch(i + k);
    const point = index.points[i]!;
    let result;
    try {
      result = await this.#o.engine.inflateFrom({ input, firstBitInByte: point.compressedBitOffset & 7, window: loadWindow(point), skipBytes: 0, outBytes: upTo });
    } catch (err) {
      if (!isImageError(err)) throw err;
      throw new ImageError(err.code, `layer ${this.#o.layerDigest} span ${i}: ${err.message}`, { details: { layer: this.#o.layerDigest, span: i }, cause: err });
    }
    if (result.output.length !== upTo) {
      throw new ImageError('CORRUPT', 'a verified span inflated to fewer bytes than the seek index promises', {
        details: { layer: this.#o.layerDigest, span: i, expected: upTo, actual: result.output.length },
        hint: 'the seek index does not describe this layer; rebuild the index',
      });
    }
    const span = spanUncompressedRange(index, i);
    const whole = span.end - span.start;
    // verified already: a later read beyond the prefix re-inflates from these bytes instead of fetching them again
    if (upTo < whole && (spanCache.get(`${this.#o.position}:${i}`)?.length ?? 0) < whole) spanCache.set(zKey, input);
    else spanCache.delete(zKey);
    return result.output;
  }

  /** Span `i`'s verified compressed bytes, one fetch for all concurrent inflates of the span. */
  #input(i: number): Promise<Buffer> {
    let running = this.#fetching.get(i);
    if (!running) {
      running = this.#o.fetcher.fetch(i).finally(() => this.#fetching.delete(i));
      this.#fetching.set(i, running);
    }
    return running;
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
