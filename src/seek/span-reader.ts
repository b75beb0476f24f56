// The span reader: uncompressed reads over a seek index and a compressed byte source, with a span LRU and single-flight.
import { createHash } from 'node:crypto';

import { DEFAULT_SPAN_CACHE_BYTES } from '../defaults.js';
import { ImageError, isImageError } from '../errors.js';
import {
  findSpan,
  loadWindow,
  spanCompressedRange,
  spanUncompressedRange,
  type SeekIndex,
  type SeekPointRecord,
} from '../format/seek-index.js';
import { ByteLru } from './byte-lru.js';
import type { CompressedSource } from './compressed-source.js';
import type { InflateEngine, InflateFromResult } from './inflate-engine.js';

/** Prefix reads fetch this factor more compressed bytes than the span's average ratio predicts. */
const PREFIX_MARGIN = 1.5;
/** ...plus this many bytes, so short reads at the start of a span rarely need a second fetch. */
const PREFIX_EXTRA_BYTES = 64 * 1024;

/** Options of a SpanReader. */
export interface SpanReaderOptions {
  /** The inflate engine (native or pako). */
  engine: InflateEngine;
  /** Byte budget of the decompressed-span LRU; 0 disables it (each read inflates only what it needs). */
  cacheBytes?: number;
  /** Fetch exactly each span's compressed range and check its sha256 against the index before inflating. */
  verifySpans?: boolean;
}

/** Serves read(offset, length) of the uncompressed layer by inflating from the nearest seek point. */
export class SpanReader {
  readonly index: SeekIndex;
  readonly #source: CompressedSource;
  readonly #engine: InflateEngine;
  readonly #verify: boolean;
  readonly #cache: ByteLru<number>;
  readonly #cacheEnabled: boolean;
  readonly #inflight = new Map<number, Promise<Buffer>>();
  /** Number of whole-span inflates performed (for tests and stats). */
  spanInflates = 0;
  /** Number of partial reads whose estimated compressed prefix was too short and were redone on the whole span. */
  prefixRefetches = 0;

  constructor(index: SeekIndex, source: CompressedSource, options: SpanReaderOptions) {
    if (source.size !== index.compressedBytes) {
      throw new ImageError('FAILED_PRECONDITION', 'the layer does not match the seek index (size differs)', {
        details: { layerBytes: source.size, indexedBytes: index.compressedBytes },
        hint: 'pass the layer the index was built from',
      });
    }
    this.index = index;
    this.#source = source;
    this.#engine = options.engine;
    this.#verify = options.verifySpans ?? false;
    const cacheBytes = options.cacheBytes ?? DEFAULT_SPAN_CACHE_BYTES;
    this.#cacheEnabled = cacheBytes > 0;
    this.#cache = new ByteLru<number>(cacheBytes);
  }

  /** Size of the uncompressed layer. */
  get size(): number {
    return this.index.uncompressedBytes;
  }

  /** Uncompressed bytes [offset, offset + length), clamped at the end of the layer. */
  async read(offset: number, length: number): Promise<Buffer> {
    if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || offset < 0 || length < 0) {
      throw new ImageError('INVALID_ARGUMENT', 'offset and length must be non-negative integers', { details: { offset, length } });
    }
    const end = Math.min(offset + length, this.size);
    if (offset >= end) return Buffer.alloc(0);
    if (this.index.identity) return this.#source.read(offset, end - offset);
    const parts: Promise<Buffer>[] = [];
    for (let i = findSpan(this.index, offset); i < this.index.points.length; i++) {
      const span = spanUncompressedRange(this.index, i);
      if (span.start >= end) break;
      if (span.end <= offset) continue;
      const a = Math.max(offset, span.start);
      const b = Math.min(end, span.end);
      if (this.#cacheEnabled) parts.push(this.span(i).then((buf) => buf.subarray(a - span.start, b - span.start)));
      else parts.push(this.#inflate(i, a - span.start, b - a));
    }
    const buffers = await Promise.all(parts);
    return buffers.length === 1 ? buffers[0]! : Buffer.concat(buffers);
  }

  /** The whole decompressed span `i`, from the LRU or inflated once however many callers ask at the same time. */
  span(i: number): Promise<Buffer> {
    const cached = this.#cache.get(i);
    if (cached) return Promise.resolve(cached);
    const running = this.#inflight.get(i);
    if (running) return running;
    const { start, end } = spanUncompressedRange(this.index, i);
    const job = this.#inflate(i, 0, end - start).then(
      (buf) => {
        this.spanInflates++;
        this.#inflight.delete(i);
        this.#cache.set(i, buf);
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

  /** The compressed bytes of span `i` (see spanCompressedRange); digest-checked when verifySpans is set. */
  async fetchSpan(i: number): Promise<Buffer> {
    const { start, end } = spanCompressedRange(this.index, i);
    const bytes = await this.#source.read(start, end - start);
    if (bytes.length !== end - start) {
      throw new ImageError('TRUNCATED', 'compressed source returned fewer bytes than the span needs', {
        details: { span: i, offset: start, expected: end - start, actual: bytes.length },
      });
    }
    if (this.#verify) this.verifySpan(i, bytes);
    return bytes;
  }

  /** Throws CORRUPT unless `bytes` hash to span `i`'s recorded sha256. */
  verifySpan(i: number, bytes: Buffer): void {
    const expected = this.index.points[i]!.spanSha256;
    const actual = createHash('sha256').update(bytes).digest();
    if (!actual.equals(expected)) {
      const { start, end } = spanCompressedRange(this.index, i);
      throw new ImageError('CORRUPT', 'compressed span does not match its sha256 in the seek index', {
        details: { span: i, offset: start, end, expected: expected.toString('hex'), actual: actual.toString('hex') },
      });
    }
  }

  /** Releases the source. */
  async close(): Promise<void> {
    await this.#source.close?.();
  }

  async #inflate(i: number, skipBytes: number, outBytes: number): Promise<Buffer> {
    const point = this.index.points[i]!;
    const range = spanCompressedRange(this.index, i);
    const span = spanUncompressedRange(this.index, i);
    const spanBytes = span.end - span.start;
    // Without verification a partial read needs only a prefix of the span's compressed bytes: estimate it from the
    // span's ratio with a margin, and fall back to the whole range if inflate runs out of input.
    let input: Buffer;
    let whole = true;
    if (!this.#verify && skipBytes + outBytes < spanBytes) {
      const compressed = range.end - range.start;
      const guess = Math.ceil((compressed * (skipBytes + outBytes)) / spanBytes * PREFIX_MARGIN) + PREFIX_EXTRA_BYTES;
      if (guess < compressed) {
        input = await this.#source.read(range.start, guess);
        whole = false;
      } else input = await this.fetchSpan(i);
    } else input = await this.fetchSpan(i);
    let result = await this.#inflateInput(i, point, input, skipBytes, outBytes);
    if (!whole && result.output.length < outBytes && result.inputExhausted) {
      this.prefixRefetches++;
      result = await this.#inflateInput(i, point, await this.fetchSpan(i), skipBytes, outBytes);
    }
    if (result.output.length !== outBytes) {
      throw new ImageError('CORRUPT', 'span inflated to fewer bytes than the seek index promises', {
        details: { span: i, offset: range.start, expected: outBytes, actual: result.output.length, engine: this.#engine.name },
        hint: 'the layer or the index is damaged; rebuild the index from a verified layer',
      });
    }
    return result.output;
  }

  async #inflateInput(i: number, point: SeekPointRecord, input: Buffer, skipBytes: number, outBytes: number): Promise<InflateFromResult> {
    const start = Math.floor(point.compressedBitOffset / 8);
    try {
      return await this.#engine.inflateFrom({
        input,
        firstBitInByte: point.compressedBitOffset & 7,
        window: loadWindow(point),
        skipBytes,
        outBytes,
      });
    } catch (err) {
      if (!isImageError(err) || (err.code !== 'CORRUPT' && err.code !== 'TRUNCATED')) throw err;
      const rel = typeof err.details.offset === 'number' ? err.details.offset : 0;
      throw new ImageError(err.code, err.message, { details: { span: i, offset: start + rel }, cause: err });
    }
  }
}
