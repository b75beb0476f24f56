// Span reader: single-flight, byte-bounded LRU, span digest verification, source checks; pako vs native inflate.
import { gzipSync } from 'node:zlib';
import { beforeAll, describe, expect, it, vi } from 'vitest';

import { buildSeekIndex } from '../../../indexer/seek/seek-index-builder.js';
import { ImageError } from '../../../src/errors.js';
import { loadWindow, spanUncompressedRange, type SeekIndex } from '../../../src/format/seek-index.js';
import { ByteLru } from '../../../src/seek/byte-lru.js';
import type { CompressedSource } from '../../../src/seek/compressed-source.js';
import { pakoEngine, pakoInflateFrom } from '../../../src/seek/pako-engine.js';
import { SpanReader } from '../../../src/seek/span-reader.js';
import { chunksOf, gzipFixtures, testEngines, type LoadedGzipFixture } from '../../helpers/gzip-fixture-set.js';
import { SeededRandom } from '../../helpers/random.js';

// Shared 2-core machine: reads with pako can be slow under load, and tests must not fail on timing.
vi.setConfig({ testTimeout: 600_000, hookTimeout: 900_000 });

function countingSource(buf: Buffer, tamper?: number): CompressedSource & { reads: number } {
  const src = {
    size: buf.length,
    reads: 0,
    read: async (o: number, l: number) => {
      src.reads++;
      const out = Buffer.from(buf.subarray(o, Math.min(buf.length, o + l)));
      if (tamper !== undefined && tamper >= o && tamper < o + out.length) out[tamper - o]! ^= 0x10;
      return out;
    },
  };
  return src;
}

async function codeOf(p: Promise<unknown>): Promise<ImageError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ImageError) return err;
    throw err;
  }
  throw new Error('expected an ImageError');
}

let f: LoadedGzipFixture;
let index: SeekIndex;
beforeAll(async () => {
  f = (await gzipFixtures()).find((x) => x.name === 'gzip-9')!;
  index = await buildSeekIndex(chunksOf(f.gz, 1 << 20), { spanBytes: 256 * 1024, engine: pakoEngine });
});

describe('SpanReader', () => {
  it('inflates a span once for concurrent readers (single-flight) and serves repeats from the LRU', async () => {
    const reader = new SpanReader(index, countingSource(f.gz), { engine: pakoEngine });
    const { start, end } = spanUncompressedRange(index, 1);
    const reads = await Promise.all(Array.from({ length: 10 }, (_, k) => reader.read(start + k * 1000, 5000)));
    reads.forEach((r, k) => expect(r.equals(f.raw.subarray(start + k * 1000, start + k * 1000 + 5000))).toBe(true));
    expect(reader.spanInflates).toBe(1);
    await reader.read(end - 10, 5);
    expect(reader.spanInflates).toBe(1);
  });

  it('keeps the LRU within its byte budget', async () => {
    const spanMax = Math.max(...index.points.map((_, i) => spanUncompressedRange(index, i).end - spanUncompressedRange(index, i).start));
    const reader = new SpanReader(index, countingSource(f.gz), { engine: pakoEngine, cacheBytes: 2 * spanMax });
    for (let i = 0; i < index.points.length; i++) await reader.read(spanUncompressedRange(index, i).start, 1);
    const inflates = reader.spanInflates;
    await reader.read(spanUncompressedRange(index, 0).start, 1);
    expect(reader.spanInflates).toBe(inflates + 1);
    const lru = new ByteLru<number>(10);
    lru.set(1, Buffer.alloc(4));
    lru.set(2, Buffer.alloc(4));
    lru.get(1);
    lru.set(3, Buffer.alloc(4));
    expect([lru.get(1)?.length, lru.get(2), lru.get(3)?.length, lru.bytes]).toEqual([4, undefined, 4, 8]);
    lru.set(4, Buffer.alloc(11));
    expect(lru.get(4)).toBeUndefined();
  });

  it('verifies span digests: a changed compressed byte is CORRUPT with the span and its offset', async () => {
    const i = 2;
    const at = Math.floor(index.points[i]!.compressedBitOffset / 8) + 100;
    const reader = new SpanReader(index, countingSource(f.gz, at), { engine: pakoEngine, cacheBytes: 0, verifySpans: true });
    const err = await codeOf(reader.read(spanUncompressedRange(index, i).start + 10, 10));
    expect(err.code).toBe('CORRUPT');
    expect(err.details.span).toBe(i);
    expect(err.details.offset).toBe(Math.floor(index.points[i]!.compressedBitOffset / 8));
    expect((await reader.read(0, 100)).equals(f.raw.subarray(0, 100))).toBe(true);
  });

  it('refuses a layer of another size and bad read arguments', async () => {
    expect(() => new SpanReader(index, countingSource(f.gz.subarray(1)), { engine: pakoEngine })).toThrow(ImageError);
    const reader = new SpanReader(index, countingSource(f.gz), { engine: pakoEngine });
    expect((await codeOf(reader.read(-1, 5))).code).toBe('INVALID_ARGUMENT');
    expect((await reader.read(f.raw.length, 5)).length).toBe(0);
  });

  it('pako and native inflate identically from every point with skips', async () => {
    const engines = testEngines();
    for (let i = 0; i < index.points.length; i++) {
      const p = index.points[i]!;
      const start = Math.floor(p.compressedBitOffset / 8);
      const args = { input: f.gz.subarray(start), firstBitInByte: p.compressedBitOffset & 7, window: loadWindow(p), skipBytes: 777 * i, outBytes: 4096 };
      const expected = f.raw.subarray(p.uncompressedOffset + args.skipBytes, p.uncompressedOffset + args.skipBytes + 4096);
      expect(pakoInflateFrom(args).output.equals(expected)).toBe(true);
      for (const e of engines) expect((await e.inflateFrom(args)).output.equals(expected), e.name).toBe(true);
    }
  });
});

describe('SpanReader cold partial reads', () => {
  it('refetches the whole span when the estimated compressed prefix is too short', async () => {
    // Random bytes then a long zero run in one span: the span's average ratio underestimates the random part.
    const raw = Buffer.concat([new SeededRandom('prefix').bytes(300 * 1024), Buffer.alloc(3 * 1024 * 1024)]);
    const gz = gzipSync(raw);
    const idx = await buildSeekIndex(chunksOf(gz, 1 << 20), { spanBytes: 1024 * 1024, engine: pakoEngine });
    for (const engine of testEngines()) {
      const reader = new SpanReader(idx, countingSource(gz), { engine, cacheBytes: 0 });
      for (const off of [0, 100_000, 250_000, 290_000, 400_000, raw.length - 4096]) {
        expect((await reader.read(off, 4096)).equals(raw.subarray(off, off + 4096)), `${engine.name} @${off}`).toBe(true);
      }
      expect(reader.prefixRefetches, engine.name).toBeGreaterThan(0);
    }
  });
});
