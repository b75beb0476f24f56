// Push parser over an uncompressed tar stream: reads headers only, skips data by offset arithmetic, reports exact offsets.
import { ImageError } from '../../src/errors.js';
import { MAX_TAR_META_BYTES } from '../../src/defaults.js';
import {
  decodeHeader,
  decodeSparseRuns,
  GNU_SPARSE_EXT_FLAG_OFFSET,
  isZeroBlock,
  paddingAfter,
  type SparseRun,
  TAR_BLOCK_BYTES,
} from '../../src/format/tar/header.js';
import { parsePaxRecords } from '../../src/format/tar/pax.js';
import { SparseMapV1Parser, validateSparseMap } from '../../src/format/tar/sparse.js';
import { type BuiltEntry, buildEntry, emptyMeta, type PendingMeta } from './entry-builder.js';
import type { TarEntry, TarWarning } from './tar-entry.js';

/** Scanner options. */
export interface TarScanOptions {
  /** Turn every warning into a CORRUPT error (details.warning = the warning code). */
  strict?: boolean;
  /** Called for each tolerated irregularity (also collected in `TarScanner.warnings`). */
  onWarning?: (warning: TarWarning) => void;
}

type Mode = 'header' | 'skip' | 'payload' | 'sparse-ext' | 'sparse-map' | 'trailer' | 'done';

/** What a collected payload is for. */
type PayloadKind = 'x' | 'g' | 'L' | 'K';

/**
 * Feed chunks with `push`, then call `end`. Each call returns the entries completed by it, in archive order.
 * Chunks may be split anywhere (down to single bytes); results do not depend on the split.
 */
export class TarScanner {
  readonly warnings: TarWarning[] = [];
  #mode: Mode = 'header';
  #pos = 0;
  #partial = Buffer.alloc(TAR_BLOCK_BYTES);
  #fill = 0;
  #skip = 0;
  #zeroBlocks = 0;
  #meta: PendingMeta = emptyMeta();
  #globals = new Map<string, Buffer>();
  #payloadKind: PayloadKind = 'x';
  #payload: Buffer[] = [];
  #payloadLeft = 0;
  #payloadSize = 0;
  #payloadStart = 0;
  #pendingEntry: BuiltEntry | undefined;
  #extRuns: SparseRun[] = [];
  #mapParser: SparseMapV1Parser | undefined;
  #trailerWarned = false;
  #out: TarEntry[] = [];
  #error: unknown;

  readonly #warnFn = (w: TarWarning): void => this.#warn(w);

  constructor(private readonly options: TarScanOptions = {}) {}

  /** Bytes consumed so far (the stream offset of the next byte). */
  get offset(): number {
    return this.#pos;
  }

  /** True once the end-of-archive marker (two zero blocks) was read. */
  get ended(): boolean {
    return this.#mode === 'trailer' || this.#mode === 'done';
  }

  /**
   * Consumes `chunk`; returns the entries it completed. On damage, the entries completed before it are returned
   * first and the error is thrown by the next call (or by this one when there are none).
   */
  push(chunk: Buffer): TarEntry[] {
    if (this.#error !== undefined) throw this.#error;
    try {
      this.#consume(chunk);
    } catch (err) {
      this.#error = err;
      if (this.#out.length === 0) throw err;
    }
    return this.#drain();
  }

  #consume(chunk: Buffer): void {
    const len = chunk.length;
    let i = 0;
    while (i < len) {
      const mode = this.#mode;
      if (mode === 'skip') {
        const n = Math.min(this.#skip, len - i);
        i += n;
        this.#pos += n;
        this.#skip -= n;
        if (this.#skip === 0) this.#mode = 'header';
        continue;
      }
      if (mode === 'payload') {
        const n = Math.min(this.#payloadLeft, len - i);
        this.#payload.push(Buffer.from(chunk.subarray(i, i + n))); // copied: the caller may reuse its chunk
        i += n;
        this.#pos += n;
        this.#payloadLeft -= n;
        if (this.#payloadLeft === 0) this.#finishPayload();
        continue;
      }
      if (mode === 'trailer' || mode === 'done') {
        if (!this.#trailerWarned) {
          for (let j = i; j < len; j++) {
            if (chunk[j] !== 0) {
              this.#trailerWarned = true;
              this.#warn({ code: 'TRAILING_DATA', message: 'non-zero bytes after the end-of-archive marker', offset: this.#pos + j - i });
              break;
            }
          }
        }
        this.#pos += len - i;
        i = len;
        continue;
      }
      // Block-oriented modes: take a whole block without copying when the chunk holds one.
      let block: Buffer;
      if (this.#fill === 0 && len - i >= TAR_BLOCK_BYTES) {
        block = chunk.subarray(i, i + TAR_BLOCK_BYTES);
        i += TAR_BLOCK_BYTES;
      } else {
        const n = Math.min(TAR_BLOCK_BYTES - this.#fill, len - i);
        chunk.copy(this.#partial, this.#fill, i, i + n);
        this.#fill += n;
        i += n;
        if (this.#fill < TAR_BLOCK_BYTES) {
          this.#pos += n;
          continue;
        }
        this.#pos += n - TAR_BLOCK_BYTES; // rewind to the block start; re-added below
        this.#fill = 0;
        block = this.#partial;
      }
      const blockOffset = this.#pos;
      this.#pos += TAR_BLOCK_BYTES;
      if (mode === 'header') this.#onHeader(block, blockOffset);
      else if (mode === 'sparse-ext') this.#onSparseExt(block, blockOffset);
      else this.#onSparseMap(block);
    }
  }

  /** Signals end of input; throws TRUNCATED when the stream stopped inside an entry. Returns the last entries. */
  end(): TarEntry[] {
    if (this.#error !== undefined) throw this.#error;
    const inEntry = this.#mode !== 'header' || this.#fill !== 0 || this.#meta.start !== undefined;
    if (this.#mode === 'trailer' || this.#mode === 'done') {
      this.#mode = 'done';
    } else if (inEntry) {
      throw new ImageError('TRUNCATED', 'tar stream ended inside an entry', {
        details: { offset: this.#pos, mode: this.#mode, missingBytes: this.#missing() },
      });
    } else {
      this.#warn({
        code: this.#zeroBlocks === 1 ? 'LONE_ZERO_BLOCK' : 'MISSING_END_MARKER',
        message: 'tar stream ended without the two zero blocks of the end-of-archive marker',
        offset: this.#pos,
      });
      this.#mode = 'done';
    }
    return this.#drain();
  }

  #missing(): number {
    if (this.#mode === 'skip') return this.#skip;
    if (this.#mode === 'payload') return this.#payloadLeft;
    return TAR_BLOCK_BYTES - this.#fill;
  }

  #drain(): TarEntry[] {
    const out = this.#out;
    if (out.length > 0) this.#out = [];
    return out;
  }

  #warn(w: TarWarning): void {
    if (this.options.strict) {
      throw new ImageError('CORRUPT', `tar: ${w.message}`, { details: { offset: w.offset, warning: w.code }, hint: 'drop --strict to tolerate this' });
    }
    this.warnings.push(w);
    this.options.onWarning?.(w);
  }

  #onHeader(block: Buffer, offset: number): void {
    if (isZeroBlock(block)) {
      if (this.#meta.start !== undefined) {
        throw new ImageError('CORRUPT', 'zero block after an extension header', { details: { offset } });
      }
      this.#zeroBlocks++;
      if (this.#zeroBlocks === 2) this.#mode = 'trailer';
      return;
    }
    if (this.#zeroBlocks === 1) {
      this.#warn({ code: 'LONE_ZERO_BLOCK', message: 'a single zero block between entries', offset: offset - TAR_BLOCK_BYTES });
    }
    this.#zeroBlocks = 0;
    const h = decodeHeader(block, offset);
    const tf = h.typeflag;
    if (tf === 'x' || tf === 'g' || tf === 'L' || tf === 'K' || tf === 'X') {
      if (h.size > MAX_TAR_META_BYTES) {
        throw new ImageError('LIMIT_EXCEEDED', 'tar extension header is too large', { details: { offset, size: h.size, limit: MAX_TAR_META_BYTES } });
      }
      if (tf !== 'g') this.#meta.start ??= offset;
      this.#payloadKind = tf === 'X' ? 'x' : tf;
      this.#payload = [];
      this.#payloadLeft = h.size;
      this.#payloadSize = h.size;
      this.#payloadStart = offset + TAR_BLOCK_BYTES;
      this.#mode = 'payload';
      if (h.size === 0) this.#finishPayload();
      return;
    }
    if (tf === 'M' || tf === 'N') {
      throw new ImageError('UNSUPPORTED', `GNU ${tf === 'M' ? 'multi-volume' : 'old long name'} entries are not supported`, { details: { offset, typeflag: tf } });
    }
    if (tf === 'V') {
      this.#warn({ code: 'SKIPPED_ENTRY', message: 'GNU volume label skipped', offset });
      this.#meta = emptyMeta();
      this.#skipData(h.size);
      return;
    }
    const built = buildEntry(h, offset, this.#meta, this.#globals, this.#warnFn);
    this.#meta = emptyMeta();
    this.#pendingEntry = built;
    if (built.sparseFormat === 'old-gnu' && h.sparseExtended) {
      this.#extRuns = [...(built.entry.sparse ?? [])];
      this.#mode = 'sparse-ext';
      return;
    }
    if (built.sparseFormat === 'pax-1.0') {
      this.#mapParser = new SparseMapV1Parser(this.#pos);
      if (built.storedSize < TAR_BLOCK_BYTES) {
        throw new ImageError('CORRUPT', 'GNU sparse 1.0 entry too small to hold its map', { details: { offset, size: built.storedSize } });
      }
      this.#mode = 'sparse-map';
      return;
    }
    this.#startData();
  }

  #onSparseExt(block: Buffer, offset: number): void {
    const runs = decodeSparseRuns(block, 0, 21, offset);
    for (const r of runs) this.#extRuns.push(r);
    if (block[GNU_SPARSE_EXT_FLAG_OFFSET] === 0) {
      this.#pendingEntry!.entry.sparse = this.#extRuns;
      this.#extRuns = [];
      this.#startData();
    }
  }

  #onSparseMap(block: Buffer): void {
    const parser = this.#mapParser!;
    const built = this.#pendingEntry!;
    if (parser.bytes >= built.storedSize) {
      throw new ImageError('CORRUPT', 'GNU sparse 1.0 map runs past the entry data', { details: { offset: built.entry.mainHeaderOffset } });
    }
    if (parser.feedBlock(block)) {
      built.entry.sparse = parser.runs;
      this.#mapParser = undefined;
      this.#startData(parser.bytes);
    } else if (parser.bytes >= built.storedSize) {
      throw new ImageError('CORRUPT', 'GNU sparse 1.0 map runs past the entry data', { details: { offset: built.entry.mainHeaderOffset } });
    }
  }

  /** Fixes the data offset of the pending entry, emits it and skips its data plus padding. */
  #startData(mapBytes = 0): void {
    const built = this.#pendingEntry!;
    this.#pendingEntry = undefined;
    const e = built.entry;
    e.dataOffset = this.#pos;
    e.dataBytes = built.storedSize - mapBytes;
    if (e.dataBytes < 0) throw new ImageError('CORRUPT', 'GNU sparse 1.0 map larger than the entry', { details: { offset: e.mainHeaderOffset } });
    if (e.sparse) validateSparseMap(e.sparse, e.size, e.dataBytes, e.mainHeaderOffset);
    e.endOffset = this.#pos + e.dataBytes + paddingAfter(built.storedSize);
    this.#out.push(e);
    this.#skipData(built.storedSize - mapBytes, built.storedSize);
  }

  #skipData(bytes: number, paddedFrom = bytes): void {
    const total = bytes + paddingAfter(paddedFrom);
    if (total > 0) {
      this.#skip = total;
      this.#mode = 'skip';
    } else this.#mode = 'header';
  }

  #finishPayload(): void {
    const payload = this.#payload.length === 1 ? this.#payload[0]! : Buffer.concat(this.#payload, this.#payloadSize);
    this.#payload = [];
    const at = this.#payloadStart;
    switch (this.#payloadKind) {
      case 'x':
        for (const r of parsePaxRecords(payload, at)) this.#meta.pax.push({ key: r.key, value: Buffer.from(r.value) });
        break;
      case 'g':
        for (const r of parsePaxRecords(payload, at)) {
          if (r.value.length === 0) this.#globals.delete(r.key);
          else this.#globals.set(r.key, Buffer.from(r.value));
        }
        break;
      case 'L':
      case 'K': {
        const nul = payload.indexOf(0);
        const value = Buffer.from(nul < 0 ? payload : payload.subarray(0, nul));
        if (this.#payloadKind === 'L') this.#meta.longName = value;
        else this.#meta.longLink = value;
        break;
      }
    }
    this.#skipData(0, this.#payloadSize);
  }
}
