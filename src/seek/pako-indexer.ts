// Pure-JS (pako 3.0.3) gzip point finder: Z_BLOCK inflate + data_type, the same point rules as the native addon.
import { ZStream, Z_BLOCK, Z_BUF_ERROR, Z_OK, Z_STREAM_END, zlibInflateEnd, zlibInflateInit2, zlibInflate, zlibInflateReset2 } from 'pako';

import { WINDOW_BYTES } from '../defaults.js';
import { ImageError } from '../errors.js';
import type { EngineIndexer, EngineIndexSummary, EngineOutputIndexer, EnginePushResult, EngineSeekPoint } from './inflate-engine.js';

/** Output buffer beyond the kept window: large so inflate runs long stretches between slides. */
const OUT_CHUNK_BYTES = 512 * 1024;
/** windowBits 15 + 16: gzip wrapper only (RFC 1952); CRC-32 and ISIZE are checked at each trailer. */
const GZIP_WINDOW_BITS = 31;

type Phase = 'expect-first' | 'in-member' | 'after-member' | 'zero-padding' | 'failed' | 'done';

/** A streaming pako indexer implementing EngineIndexer's point rules exactly. */
export class PakoIndexer implements EngineIndexer {
  readonly #span: number;
  #strm: ZStream | undefined;
  #phase: Phase = 'expect-first';
  #totalIn = 0;
  #totalOut = 0;
  #memberStartOut = 0;
  #memberStartIn = 0;
  #lastPointOut = 0;
  #pointInMember = false;
  #members = 0;
  #zeroBytes = 0;
  #out = new Uint8Array(WINDOW_BYTES + OUT_CHUNK_BYTES);
  #have = 0;
  /** Copies of the output produced by the running pushSyncWithOutput, undefined otherwise. */
  #pieces: Buffer[] | undefined;

  constructor(spanBytes: number) {
    this.#span = Math.max(1, spanBytes);
  }

  /** Consumes the next chunk; resolves to the points found in it. */
  push(chunk: Buffer): Promise<EngineSeekPoint[]> {
    try {
      return Promise.resolve(this.pushSync(chunk));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Synchronous form of push. */
  pushSync(chunk: Buffer): EngineSeekPoint[] {
    if (this.#phase === 'failed' || this.#phase === 'done') {
      throw new ImageError('FAILED_PRECONDITION', `the indexer is ${this.#phase === 'failed' ? 'failed' : 'finished'}`);
    }
    const points: EngineSeekPoint[] = [];
    let pos = 0;
    while (pos < chunk.length) {
      if (this.#phase === 'in-member') {
        pos = this.#inflateSome(chunk, pos, points);
      } else if (this.#phase === 'zero-padding') {
        const start = pos;
        while (pos < chunk.length && chunk[pos] === 0) pos++;
        this.#zeroBytes += pos - start;
        this.#totalIn += pos - start;
        if (pos < chunk.length) {
          throw this.#fail('CORRUPT', `non-zero byte 0x${hex(chunk[pos]!)} in the zero padding after the last gzip member`);
        }
      } else {
        const b = chunk[pos]!;
        if (b === 0x1f) this.#startMember();
        else if (b === 0 && this.#phase === 'after-member') this.#phase = 'zero-padding';
        else {
          throw this.#fail(
            'CORRUPT',
            this.#phase === 'expect-first'
              ? `input is not gzip: byte 0x${hex(b)} where the gzip magic 1f 8b must start`
              : `garbage after gzip member: byte 0x${hex(b)} is neither a gzip header nor zero padding`,
          );
        }
      }
    }
    return points;
  }

  /** pushSync that also returns the uncompressed bytes the chunk produced (copied before the buffer slides). */
  pushSyncWithOutput(chunk: Buffer): EnginePushResult {
    const pieces: Buffer[] = [];
    this.#pieces = pieces;
    try {
      const points = this.pushSync(chunk);
      return { points, output: pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces) };
    } finally {
      this.#pieces = undefined;
    }
  }

  /** Declares the end of input. */
  finish(): Promise<EngineIndexSummary> {
    try {
      return Promise.resolve(this.finishSync());
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Synchronous form of finish. */
  finishSync(): EngineIndexSummary {
    if (this.#phase === 'failed' || this.#phase === 'done') throw new ImageError('FAILED_PRECONDITION', 'the indexer is finished or failed');
    if (this.#phase === 'expect-first') throw this.#fail('TRUNCATED', 'empty input: no gzip member');
    if (this.#phase === 'in-member') {
      throw this.#fail(
        'TRUNCATED',
        `input ends inside gzip member ${this.#members} (starting at byte ${this.#memberStartIn}) after ${this.#totalIn} compressed bytes`,
      );
    }
    const summary = {
      compressedBytes: this.#totalIn,
      uncompressedBytes: this.#totalOut,
      members: this.#members,
      trailingZeroBytes: this.#zeroBytes,
    };
    this.#phase = 'done';
    this.destroy();
    return summary;
  }

  /** Frees the inflate state. */
  destroy(): void {
    if (this.#strm) zlibInflateEnd(this.#strm);
    this.#strm = undefined;
    if (this.#phase !== 'failed') this.#phase = 'done';
  }

  #fail(code: 'CORRUPT' | 'TRUNCATED', message: string): ImageError {
    this.#phase = 'failed';
    return new ImageError(code, message, { details: { offset: this.#totalIn, member: this.#members } });
  }

  #startMember(): void {
    if (!this.#strm) {
      this.#strm = new ZStream();
      if (zlibInflateInit2(this.#strm, GZIP_WINDOW_BITS) !== Z_OK) throw new ImageError('INTERNAL', 'pako inflateInit2 failed');
    } else if (zlibInflateReset2(this.#strm, GZIP_WINDOW_BITS) !== Z_OK) {
      throw new ImageError('INTERNAL', 'pako inflateReset2 failed');
    }
    this.#memberStartOut = this.#totalOut;
    this.#memberStartIn = this.#totalIn;
    this.#pointInMember = false;
    this.#phase = 'in-member';
  }

  /** Inflates chunk[pos..] until the input is used up or the member ends; returns the new position. */
  #inflateSome(chunk: Buffer, pos: number, points: EngineSeekPoint[]): number {
    const strm = this.#strm!;
    strm.input = chunk;
    strm.next_in = pos;
    strm.avail_in = chunk.length - pos;
    for (;;) {
      if (this.#have === this.#out.length) {
        this.#out.copyWithin(0, this.#have - WINDOW_BYTES, this.#have);
        this.#have = WINDOW_BYTES;
      }
      strm.output = this.#out as Uint8Array<ArrayBuffer>;
      strm.next_out = this.#have;
      strm.avail_out = this.#out.length - this.#have;
      const inBefore = strm.next_in;
      const ret = zlibInflate(strm, Z_BLOCK);
      const consumed = strm.next_in - inBefore;
      const produced = strm.next_out - this.#have;
      this.#totalIn += consumed;
      this.#totalOut += produced;
      if (this.#pieces && produced > 0) this.#pieces.push(Buffer.from(this.#out.subarray(this.#have, this.#have + produced)));
      this.#have += produced;
      if (ret === Z_STREAM_END) {
        this.#members++;
        this.#phase = 'after-member';
        return strm.next_in;
      }
      if (ret !== Z_OK && ret !== Z_BUF_ERROR) {
        throw this.#fail('CORRUPT', `invalid gzip data: ${strm.msg || `zlib error ${ret}`} (gzip member ${this.#members} starting at byte ${this.#memberStartIn})`);
      }
      const dataType = strm.data_type;
      if ((dataType & 0xc0) === 0x80 && (!this.#pointInMember || this.#totalOut - this.#lastPointOut >= this.#span)) {
        this.#addPoint(points, dataType & 7, !this.#pointInMember);
      }
      if (strm.avail_out !== 0 && strm.avail_in === 0) return chunk.length;
      if (ret === Z_BUF_ERROR && strm.avail_out !== 0) {
        throw new ImageError('INTERNAL', 'pako inflate made no progress with input and output space available', {
          details: { offset: this.#totalIn },
        });
      }
    }
  }

  #addPoint(points: EngineSeekPoint[], unusedBits: number, memberStart: boolean): void {
    const len = Math.min(WINDOW_BYTES, this.#totalOut - this.#memberStartOut);
    points.push({
      uncompressedOffset: this.#totalOut,
      compressedBitOffset: this.#totalIn * 8 - unusedBits,
      memberStart,
      window: Buffer.from(this.#out.subarray(this.#have - len, this.#have)),
    });
    this.#lastPointOut = this.#totalOut;
    this.#pointInMember = true;
  }
}

/** A PakoIndexer whose push also resolves with the uncompressed bytes of each chunk. */
export class PakoOutputIndexer implements EngineOutputIndexer {
  readonly #inner: PakoIndexer;

  constructor(spanBytes: number) {
    this.#inner = new PakoIndexer(spanBytes);
  }

  /** Consumes the next chunk; resolves to its points and output. */
  push(chunk: Buffer): Promise<EnginePushResult> {
    try {
      return Promise.resolve(this.#inner.pushSyncWithOutput(chunk));
    } catch (err) {
      return Promise.reject(err);
    }
  }

  /** Declares the end of input. */
  finish(): Promise<EngineIndexSummary> {
    return this.#inner.finish();
  }

  /** Frees the inflate state. */
  destroy(): void {
    this.#inner.destroy();
  }
}

function hex(b: number): string {
  return b.toString(16).padStart(2, '0');
}
