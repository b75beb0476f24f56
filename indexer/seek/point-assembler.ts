// Turns an engine's raw point stream into final seek point records: later-wins dedupe, zstd windows, span digests.
import { compressWindow, type SeekPointRecord } from '../../src/format/seek-index.js';
import type { EngineSeekPoint } from '../../src/seek/inflate-engine.js';
import { ByteWindow } from './byte-window.js';

interface PendingPoint {
  point: EngineSeekPoint;
  windowStored: Buffer;
}

/**
 * Assembles records while the compressed bytes stream by. A point is final once a later point with a larger
 * uncompressed offset arrives (two points at one offset: the later wins). Span i's digest covers the compressed
 * bytes [floor(bit_i / 8), ceil(bit_{i+1} / 8)), the last span ends at the end of the last member.
 */
export class PointAssembler {
  readonly #bytes = new ByteWindow();
  readonly #records: SeekPointRecord[] = [];
  readonly #windowLevel: number;
  /** Points not yet digested: [confirmed-but-open-span?, tentative]. */
  #open: PendingPoint[] = [];

  constructor(windowLevel: number) {
    this.#windowLevel = windowLevel;
  }

  /** Appends compressed bytes (before the points found in them are added). */
  appendBytes(chunk: Buffer): void {
    this.#bytes.append(chunk);
  }

  /** Adds the next raw point from the engine. */
  addPoint(point: EngineSeekPoint): void {
    const last = this.#open[this.#open.length - 1];
    if (last && last.point.uncompressedOffset === point.uncompressedOffset) this.#open.pop();
    this.#open.push({ point, windowStored: compressWindow(point.window, this.#windowLevel) });
    // With three open points the middle one is confirmed, so the first one's span is known.
    while (this.#open.length >= 3) this.#closeFirst(Math.ceil(this.#open[1]!.point.compressedBitOffset / 8));
  }

  /** Closes the remaining spans; `dataEnd` is the end of the last member (layer size minus zero padding). */
  finish(dataEnd: number): SeekPointRecord[] {
    while (this.#open.length >= 2) this.#closeFirst(Math.ceil(this.#open[1]!.point.compressedBitOffset / 8));
    if (this.#open.length === 1) this.#closeFirst(dataEnd);
    return this.#records;
  }

  #closeFirst(end: number): void {
    const { point, windowStored } = this.#open.shift()!;
    const start = Math.floor(point.compressedBitOffset / 8);
    this.#records.push({
      uncompressedOffset: point.uncompressedOffset,
      compressedBitOffset: point.compressedBitOffset,
      memberStart: point.memberStart,
      windowBytes: point.window.length,
      windowStored,
      spanSha256: this.#bytes.sha256(start, end),
    });
    const next = this.#open[0];
    this.#bytes.dropBefore(next ? Math.floor(next.point.compressedBitOffset / 8) : end);
  }
}
