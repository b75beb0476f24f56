// Seek index v1 codec: golden vectors reproduced byte for byte, full validation, every corrupted byte detected.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it, vi } from 'vitest';

import { GOLDEN_DIR, goldenSeekIndexes } from '../../../fixtures/seek-index-golden.js';
import { ImageError } from '../../../src/errors.js';
import {
  decodeSeekIndex,
  encodeSeekIndex,
  findSpan,
  loadWindow,
  spanCompressedRange,
  SEEK_INDEX_HEADER_BYTES,
  SEEK_POINT_RECORD_BYTES,
  type SeekIndex,
} from '../../../src/format/seek-index.js';
import { pakoEngine } from '../../../src/seek/pako-engine.js';
import { SpanReader } from '../../../src/seek/span-reader.js';

// Shared 2-core machine: reads with pako can be slow under load, and tests must not fail on timing.
vi.setConfig({ testTimeout: 600_000, hookTimeout: 900_000 });

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    if (err instanceof ImageError) return err.code;
    throw err;
  }
  return 'no error';
}

let vectors: Awaited<ReturnType<typeof goldenSeekIndexes>> = [];
beforeAll(async () => {
  vectors = await goldenSeekIndexes();
});

describe('seek index v1 codec', () => {
  it('the generator reproduces the committed golden vectors byte for byte', () => {
    expect(vectors.map((v) => v.name)).toEqual(['seek-index-multimember.bin', 'seek-index-identity.bin']);
    for (const v of vectors) expect(v.index.equals(readFileSync(path.join(GOLDEN_DIR, v.name))), v.name).toBe(true);
  });

  it('decodes the golden multi-member index: header, points, windows, span digests', async () => {
    const v = vectors[0]!;
    const index = decodeSeekIndex(readFileSync(path.join(GOLDEN_DIR, v.name)));
    expect(index.identity).toBe(false);
    expect(index.members).toBe(3);
    expect(index.trailingZeroBytes).toBe(5);
    expect(index.compressedBytes).toBe(v.input.length);
    expect(index.uncompressedBytes).toBe(v.data.length);
    // The empty second member's start shares its offset with the third member's start: the later one is kept.
    expect(index.points.filter((p) => p.memberStart).length).toBe(2);
    expect(index.points.some((p) => p.compressedBitOffset % 8 !== 0)).toBe(true);
    for (const p of index.points) {
      const w = loadWindow(p);
      expect(w.equals(v.data.subarray(p.uncompressedOffset - w.length, p.uncompressedOffset))).toBe(true);
    }
    const source = { size: v.input.length, read: async (o: number, l: number) => v.input.subarray(o, o + l) };
    const reader = new SpanReader(index, source, { engine: pakoEngine, verifySpans: true });
    for (let i = 0; i < index.points.length; i++) {
      const { start, end } = spanCompressedRange(index, i);
      expect(end).toBeGreaterThan(start);
      await reader.fetchSpan(i);
    }
    expect((await reader.read(0, v.data.length)).equals(v.data)).toBe(true);
    expect(findSpan(index, v.data.length - 1)).toBe(index.points.length - 1);
  });

  it('decodes the golden identity index', () => {
    const v = vectors[1]!;
    const index = decodeSeekIndex(readFileSync(path.join(GOLDEN_DIR, v.name)));
    expect(index.identity).toBe(true);
    expect(index.points).toEqual([]);
    expect(index.uncompressedBytes).toBe(v.input.length);
  });

  it('detects a change of any single byte (CORRUPT; UNSUPPORTED for the version field)', () => {
    const bytes = vectors[0]!.index;
    for (let i = 0; i < bytes.length; i++) {
      const bad = Buffer.from(bytes);
      bad[i]! ^= 0x01;
      expect(codeOf(() => decodeSeekIndex(bad)), `byte ${i}`).toBe(i === 8 || i === 9 ? 'UNSUPPORTED' : 'CORRUPT');
    }
  });

  it('rejects truncated and oversized files', () => {
    const bytes = vectors[0]!.index;
    for (const n of [0, 10, SEEK_INDEX_HEADER_BYTES, bytes.length - 1]) expect(codeOf(() => decodeSeekIndex(bytes.subarray(0, n)))).toBe('CORRUPT');
    expect(codeOf(() => decodeSeekIndex(Buffer.concat([bytes, Buffer.alloc(1)])))).toBe('CORRUPT');
  });

  it('rejects structurally wrong indexes even with a valid checksum', () => {
    const good = decodeSeekIndex(vectors[0]!.index);
    const variants: ((x: SeekIndex) => void)[] = [
      (x) => x.points.reverse(),
      (x) => (x.points[0]!.memberStart = false),
      (x) => (x.points[1]!.uncompressedOffset = x.uncompressedBytes + 1),
      (x) => (x.points[1]!.compressedBitOffset = x.compressedBytes * 8 + 8),
      (x) => (x.points[1]!.windowBytes = 40000),
      (x) => (x.identity = true),
      (x) => (x.points = []),
    ];
    for (const change of variants) {
      const x: SeekIndex = { ...good, points: good.points.map((p) => ({ ...p })) };
      change(x);
      expect(codeOf(() => decodeSeekIndex(encodeSeekIndex(x))), change.toString()).toBe('CORRUPT');
    }
    const wrongWindow = { ...good, points: good.points.map((p) => ({ ...p })) };
    wrongWindow.points[1]!.windowBytes -= 1;
    const decoded = decodeSeekIndex(encodeSeekIndex(wrongWindow));
    expect(codeOf(() => loadWindow(decoded.points[1]!))).toBe('CORRUPT');
  });

  it('uses fixed-size records', () => {
    const index = decodeSeekIndex(vectors[0]!.index);
    const windows = index.points.reduce((s, p) => s + p.windowStored.length, 0);
    expect(vectors[0]!.index.length).toBe(SEEK_INDEX_HEADER_BYTES + index.points.length * SEEK_POINT_RECORD_BYTES + windows + 32);
  });
});
