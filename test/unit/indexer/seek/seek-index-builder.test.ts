// Builder + reader over every gzip fixture class with both engines: exact reads, identical indexes, coded errors.
import fc from 'fast-check';
import { beforeAll, describe, expect, it, vi } from 'vitest';

import { fileChunks } from '../../../../src/io/file-source.js';
import { buildSeekIndex } from '../../../../indexer/seek/seek-index-builder.js';
import { ImageError } from '../../../../src/errors.js';
import { decodeSeekIndex, encodeSeekIndex, spanUncompressedRange, type SeekIndex } from '../../../../src/format/seek-index.js';
import type { CompressedSource } from '../../../../src/seek/compressed-source.js';
import type { InflateEngine } from '../../../../src/seek/inflate-engine.js';
import { SpanReader } from '../../../../src/seek/span-reader.js';
import { chunksOf, gzipFixtures, testEngines, type LoadedGzipFixture } from '../../../helpers/gzip-fixture-set.js';
import { PROPERTY_SEED } from '../../../helpers/random.js';

// Shared 2-core machine: reads with pako can be slow under load, and tests must not fail on timing.
vi.setConfig({ testTimeout: 600_000, hookTimeout: 900_000 });

const SPAN = 64 * 1024;

function memorySource(buf: Buffer): CompressedSource {
  return { size: buf.length, read: async (o, l) => buf.subarray(o, Math.min(buf.length, o + l)) };
}

async function captureError(p: Promise<unknown>): Promise<ImageError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof ImageError) return err;
    throw err;
  }
  throw new Error('expected an ImageError');
}

const EXPECTED_MEMBERS: Record<string, number> = { concatenated: 6, 'header-flags': 2, 'small-multi': 3, 'plain-tar': 0, empty: 1, 'one-byte': 1 };
const EXPECTED_ZEROS: Record<string, number> = { 'zero-padding': 4096, 'small-multi': 7 };

let fixtures: LoadedGzipFixture[] = [];
const engines = testEngines();
const built = new Map<string, Map<string, SeekIndex>>();

beforeAll(async () => {
  fixtures = await gzipFixtures();
  for (const f of fixtures) {
    const perEngine = new Map<string, SeekIndex>();
    for (const engine of engines) perEngine.set(engine.name, await buildSeekIndex(fileChunks(f.file, 100_003), { spanBytes: SPAN, engine }));
    built.set(f.name, perEngine);
  }
}, 900_000);

function readers(f: LoadedGzipFixture, engine: InflateEngine): SpanReader[] {
  const index = built.get(f.name)!.get(engine.name)!;
  return [
    new SpanReader(index, memorySource(f.gz), { engine }),
    new SpanReader(index, memorySource(f.gz), { engine, cacheBytes: 0, verifySpans: true }),
    new SpanReader(index, memorySource(f.gz), { engine, cacheBytes: 0 }),
  ];
}

describe('seek index builder over the fixture classes', () => {
  it('generates every class', () => {
    expect(fixtures.map((f) => f.name)).toContain('pigz-i');
    expect(fixtures.length).toBe(15);
  });

  for (const engine of engines) {
    describe(`engine ${engine.name}`, () => {
      it('records sizes, members, padding and a valid structure', () => {
        for (const f of fixtures) {
          const index = built.get(f.name)!.get(engine.name)!;
          expect(index.uncompressedBytes, f.name).toBe(f.raw.length);
          expect(index.compressedBytes, f.name).toBe(f.gz.length);
          expect(index.identity, f.name).toBe(f.name === 'plain-tar');
          expect(index.members, f.name).toBe(EXPECTED_MEMBERS[f.name] ?? 1);
          expect(index.trailingZeroBytes, f.name).toBe(EXPECTED_ZEROS[f.name] ?? 0);
          if (!index.identity) {
            expect(index.points[0]!.memberStart).toBe(true);
            for (let i = 0; i + 1 < index.points.length; i++) {
              const gap = index.points[i + 1]!.uncompressedOffset - index.points[i]!.uncompressedOffset;
              expect(gap > 0, f.name).toBe(true);
              if (!index.points[i + 1]!.memberStart) expect(gap, f.name).toBeGreaterThanOrEqual(SPAN);
            }
          }
          expect(decodeSeekIndex(encodeSeekIndex(index)).points.length).toBe(index.points.length);
        }
      });

      it('has block points beyond 64 KiB blocks in the highly compressible stream', () => {
        const index = built.get('compressible')!.get(engine.name)!;
        const gaps = index.points.slice(1).map((p, i) => p.uncompressedOffset - index.points[i]!.uncompressedOffset);
        expect(Math.max(...gaps)).toBeGreaterThan(1024 * 1024);
      });

      it('reads whole spans, span and member boundaries and the last byte exactly', async () => {
        for (const f of fixtures) {
          for (const reader of readers(f, engine).slice(0, 2)) {
            expect((await reader.read(0, f.raw.length + 10)).equals(f.raw), f.name).toBe(true);
            const edges = new Set<number>([f.raw.length - 1, f.raw.length]);
            const index = reader.index;
            for (let i = 0; i < index.points.length; i++) {
              const { start, end } = spanUncompressedRange(index, i);
              edges.add(start);
              edges.add(end);
            }
            for (const e of edges) {
              for (const [a, b] of [[e - 1, 2], [e - 3000, 6000], [e, 1], [e - 1, 1]] as const) {
                const off = Math.max(0, a);
                const got = await reader.read(off, b);
                expect(got.equals(f.raw.subarray(off, off + b)), `${f.name} @${off}+${b}`).toBe(true);
              }
            }
          }
        }
      });

      it('random reads match the uncompressed bytes (property)', async () => {
        const big = fixtures.filter((f) => f.raw.length > 0);
        await fc.assert(
          fc.asyncProperty(fc.integer({ min: 0, max: big.length - 1 }), fc.double({ min: 0, max: 1, noNaN: true }), fc.integer({ min: 0, max: 300_000 }), fc.integer({ min: 0, max: 2 }), async (which, where, length, mode) => {
            const f = big[which]!;
            const offset = Math.floor(where * f.raw.length);
            const reader = readers(f, engine)[mode]!;
            const got = await reader.read(offset, length);
            return got.equals(f.raw.subarray(offset, offset + length));
          }),
          { seed: PROPERTY_SEED, numRuns: 150 },
        );
      });

      it('gives the same index when fed byte by byte (small inputs) and in odd chunk sizes', async () => {
        for (const f of fixtures.filter((x) => x.small)) {
          const whole = encodeSeekIndex(await buildSeekIndex(chunksOf(f.gz, f.gz.length || 1), { spanBytes: SPAN, engine }));
          const bytewise = encodeSeekIndex(await buildSeekIndex(chunksOf(f.gz, 1), { spanBytes: SPAN, engine }));
          expect(bytewise.equals(whole), f.name).toBe(true);
        }
        const f = fixtures.find((x) => x.name === 'header-flags')!;
        const a = encodeSeekIndex(built.get(f.name)!.get(engine.name)!);
        const b = encodeSeekIndex(await buildSeekIndex(chunksOf(f.gz, 4099), { spanBytes: SPAN, engine }));
        expect(b.equals(a)).toBe(true);
      });

      it('onUncompressed delivers the uncompressed stream in order, every chunking, with the same index', async () => {
        for (const f of fixtures) {
          const reference = encodeSeekIndex(built.get(f.name)!.get(engine.name)!);
          const chunkings = [f.gz.length || 1, 64 * 1024, ...(f.gz.length <= 400 * 1024 ? [7] : []), ...(f.small ? [1] : [])];
          for (const chunk of chunkings) {
            const out: Buffer[] = [];
            const index = await buildSeekIndex(chunksOf(f.gz, chunk), { spanBytes: SPAN, engine, onUncompressed: (b) => void out.push(Buffer.from(b)) });
            const got = Buffer.concat(out);
            expect(got.length, `${f.name} chunk ${chunk}`).toBe(f.raw.length);
            expect(got.equals(f.raw), `${f.name} chunk ${chunk}`).toBe(true);
            expect(encodeSeekIndex(index).equals(reference), `${f.name} chunk ${chunk}`).toBe(true);
          }
        }
      }, 300_000);

      it('awaits an async onUncompressed and fails the build with its error', async () => {
        const f = fixtures.find((x) => x.name === 'gzip-9')!;
        let delivered = 0;
        const slow = async (b: Buffer): Promise<void> => {
          await new Promise((r) => setImmediate(r));
          delivered += b.length;
        };
        await buildSeekIndex(chunksOf(f.gz, 64 * 1024), { spanBytes: SPAN, engine, onUncompressed: slow });
        expect(delivered).toBe(f.raw.length);
        const boom = new ImageError('CORRUPT', 'consumer rejected the bytes');
        const err = await captureError(buildSeekIndex(chunksOf(f.gz, 64 * 1024), { spanBytes: SPAN, engine, onUncompressed: () => { throw boom; } }));
        expect(err).toBe(boom);
      });

      it('reports truncation with the byte offset where the input ended', async () => {
        const f = fixtures.find((x) => x.name === 'gzip-1')!;
        for (const cut of [2, 9, 5000, f.gz.length - 4, f.gz.length - 1]) {
          const err = await captureError(buildSeekIndex(chunksOf(f.gz.subarray(0, cut), 65536), { spanBytes: SPAN, engine }));
          expect(err.code, `cut ${cut}`).toBe('TRUNCATED');
          expect(err.details.offset, `cut ${cut}`).toBe(cut);
        }
      });

      it('reports corrupt deflate data, bad trailers and garbage with offsets', async () => {
        const f = fixtures.find((x) => x.name === 'gzip-9')!;
        const flipped = Buffer.from(f.gz);
        flipped[Math.floor(f.gz.length / 2)]! ^= 0x55;
        let err = await captureError(buildSeekIndex(chunksOf(flipped, 65536), { spanBytes: SPAN, engine }));
        expect(err.code).toBe('CORRUPT');
        expect(Number(err.details.offset)).toBeGreaterThan(Math.floor(f.gz.length / 2) - 1);
        const badCrc = Buffer.from(f.gz);
        badCrc[badCrc.length - 6]! ^= 1;
        err = await captureError(buildSeekIndex(chunksOf(badCrc, 65536), { spanBytes: SPAN, engine }));
        expect(err.code).toBe('CORRUPT');
        expect(Number(err.details.offset)).toBeGreaterThanOrEqual(f.gz.length - 8);
        err = await captureError(buildSeekIndex(chunksOf(Buffer.concat([f.gz, Buffer.from('X')]), 65536), { spanBytes: SPAN, engine }));
        expect(err.code).toBe('CORRUPT');
        expect(err.details.offset).toBe(f.gz.length);
        err = await captureError(buildSeekIndex(chunksOf(Buffer.concat([f.gz, Buffer.from([0, 0, 5, 0])]), 65536), { spanBytes: SPAN, engine }));
        expect(err.code).toBe('CORRUPT');
        expect(err.details.offset).toBe(f.gz.length + 2);
        const badMethod = Buffer.from(f.gz);
        badMethod[2] = 7;
        err = await captureError(buildSeekIndex(chunksOf(badMethod, 65536), { spanBytes: SPAN, engine }));
        expect(err.code).toBe('CORRUPT');
      });
    });
  }

  it('both engines produce byte-identical index files and identical errors', async () => {
    if (engines.length < 2) return expect(engines[0]!.name).toBe('pako');
    for (const f of fixtures) {
      const [a, b] = engines.map((e) => encodeSeekIndex(built.get(f.name)!.get(e.name)!));
      expect(a!.equals(b!), f.name).toBe(true);
    }
    const f = fixtures.find((x) => x.name === 'pigz')!;
    const flipped = Buffer.from(f.gz);
    flipped[1000]! ^= 0xff;
    const errs = await Promise.all(engines.map((engine) => captureError(buildSeekIndex(chunksOf(flipped, 65536), { spanBytes: SPAN, engine }))));
    expect(errs[0]!.code).toBe(errs[1]!.code);
    expect(errs[0]!.details.offset).toBe(errs[1]!.details.offset);
  });

  it('rejects spans below the minimum', async () => {
    const err = await captureError(buildSeekIndex(chunksOf(Buffer.from('x'), 1), { spanBytes: 1000, engine: engines[0]! }));
    expect(err.code).toBe('INVALID_ARGUMENT');
  });
});
