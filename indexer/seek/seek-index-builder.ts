// Builds a seek index in one streaming pass over a layer's bytes: gzip or plain detection, points, digests, layer sha256.
import { createHash } from 'node:crypto';

import { MIN_SPAN_BYTES, WINDOW_BYTES, WINDOW_ZSTD_LEVEL } from '../../src/defaults.js';
import { ImageError } from '../../src/errors.js';
import type { SeekIndex } from '../../src/format/seek-index.js';
import type { EngineIndexSummary, EngineSeekPoint, InflateEngine } from '../../src/seek/inflate-engine.js';
import { PointAssembler } from './point-assembler.js';

/** Options of buildSeekIndex. */
export interface BuildSeekIndexOptions {
  /** Minimum uncompressed distance between block-boundary points (>= MIN_SPAN_BYTES). */
  spanBytes: number;
  /** The inflate engine that finds the points. */
  engine: InflateEngine;
  /** zstd level for the stored windows (default WINDOW_ZSTD_LEVEL). */
  windowLevel?: number;
  /**
   * Receives the layer's uncompressed bytes in stream order, from the same inflate that finds the points (for a
   * plain layer: the input chunks themselves). Awaited before the next delivery; a throw fails the build.
   */
  onUncompressed?: (chunk: Buffer) => void | Promise<void>;
}

/** One engine push's outcome: its points and, when onUncompressed is set, its uncompressed bytes. */
interface Pushed {
  points: EngineSeekPoint[];
  output?: Buffer;
}

/** True when the first bytes are the gzip magic (RFC 1952 §2.3.1: ID1 0x1f, ID2 0x8b). */
function looksLikeGzip(head: Buffer): boolean {
  return head.length >= 2 && head[0] === 0x1f && head[1] === 0x8b;
}

/**
 * Reads `chunks` once and returns the seek index of the layer. Gzip input (first bytes 1f 8b) gets points;
 * anything else gets an identity index. The layer sha256 is computed while the engine inflates (the native
 * engine runs on a worker thread, so hashing overlaps it). Errors: CORRUPT/TRUNCATED with details.offset.
 */
export async function buildSeekIndex(chunks: AsyncIterable<Buffer>, options: BuildSeekIndexOptions): Promise<SeekIndex> {
  const { spanBytes, engine, onUncompressed } = options;
  const windowLevel = options.windowLevel ?? WINDOW_ZSTD_LEVEL;
  if (!Number.isSafeInteger(spanBytes) || spanBytes < MIN_SPAN_BYTES || spanBytes > 0xffffffff) {
    throw new ImageError('INVALID_ARGUMENT', `span must be an integer between ${MIN_SPAN_BYTES} and 4 GiB - 1`, { details: { spanBytes } });
  }
  const layerHash = createHash('sha256');
  const assembler = new PointAssembler(windowLevel);
  let total = 0;
  let head: Buffer | undefined = Buffer.alloc(0);
  let indexer: { finish(): Promise<EngineIndexSummary>; destroy(): void } | undefined;
  let push: ((chunk: Buffer) => Promise<Pushed>) | undefined;
  let identity = false;
  const startIndexer = (): void => {
    if (onUncompressed) {
      const ix = engine.createIndexer(spanBytes, { emitOutput: true });
      indexer = ix;
      push = (chunk) => ix.push(chunk);
    } else {
      const ix = engine.createIndexer(spanBytes);
      indexer = ix;
      push = async (chunk) => ({ points: await ix.push(chunk) });
    }
  };
  const deliver = async (pushed: Pushed): Promise<void> => {
    for (const p of pushed.points) assembler.addPoint(p);
    if (onUncompressed && pushed.output && pushed.output.length > 0) await onUncompressed(pushed.output);
  };

  // Pipeline: the engine inflates chunk k (on a worker thread for the native engine) while this thread
  // digests the points and output of chunk k-1 (zstd windows, span sha256, onUncompressed) and hashes chunk k.
  let inflight: Promise<Pushed> | undefined;
  const drain = async (): Promise<void> => {
    if (!inflight) return;
    const pushed = await inflight;
    inflight = undefined;
    await deliver(pushed);
  };
  const feed = async (chunk: Buffer): Promise<void> => {
    if (identity) {
      layerHash.update(chunk);
      await onUncompressed?.(chunk);
      return;
    }
    const previous = inflight;
    inflight = undefined;
    const earlier = previous ? await previous : undefined;
    inflight = push!(chunk);
    // Mark as handled now: it is awaited only after the next chunk arrives.
    inflight.catch(() => undefined);
    assembler.appendBytes(chunk);
    layerHash.update(chunk);
    if (earlier) await deliver(earlier);
  };

  try {
    for await (const raw of chunks) {
      const chunk = Buffer.isBuffer(raw) ? raw : Buffer.from(raw as Uint8Array);
      if (chunk.length === 0) continue;
      total += chunk.length;
      if (head !== undefined) {
        head = Buffer.concat([head, chunk]);
        if (head.length < 2) continue;
        identity = !looksLikeGzip(head);
        if (!identity) startIndexer();
        const first = head;
        head = undefined;
        await feed(first);
        continue;
      }
      await feed(chunk);
    }
    if (head !== undefined) {
      identity = true;
      layerHash.update(head);
      if (head.length > 0) await onUncompressed?.(head);
    }
    const layerSha256 = layerHash.digest();
    if (identity) {
      return {
        identity: true,
        spanBytes,
        windowBytes: WINDOW_BYTES,
        windowLevel,
        compressedBytes: total,
        uncompressedBytes: total,
        trailingZeroBytes: 0,
        members: 0,
        layerSha256,
        points: [],
      };
    }
    await drain();
    const summary = await indexer!.finish();
    if (summary.compressedBytes !== total) {
      throw new ImageError('INTERNAL', 'engine consumed a different number of bytes than were read', {
        details: { engine: engine.name, read: total, consumed: summary.compressedBytes },
      });
    }
    const points = assembler.finish(summary.compressedBytes - summary.trailingZeroBytes);
    return {
      identity: false,
      spanBytes,
      windowBytes: WINDOW_BYTES,
      windowLevel,
      compressedBytes: summary.compressedBytes,
      uncompressedBytes: summary.uncompressedBytes,
      trailingZeroBytes: summary.trailingZeroBytes,
      members: summary.members,
      layerSha256,
      points,
    };
  } finally {
    // A failed run may leave a push in flight: let it settle before freeing the engine state.
    await inflight?.catch(() => undefined);
    indexer?.destroy();
  }
}
