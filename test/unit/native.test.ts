// Tests of the native zlib addon (src/native.ts): seek points over every gzip shape, reads from points
// checked byte for byte, chunking invariance down to 1-byte pushes, error codes and offsets, lifecycle.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { isImageError } from '../../src/errors.js';
import { loadNative, nativeLoadError, type NativeBinding, type NativeSeekPoint } from '../../src/native.js';
import { hasCommand, missingNeeds } from '../helpers/capabilities.js';
import { SeededRandom } from '../helpers/random.js';
import { makeTempDir } from '../helpers/tmpdir.js';

const native = loadNative();
const skipReason = native ? undefined : `native addon not loaded: ${nativeLoadError() ?? 'unknown reason'}`;
if (skipReason) console.warn(`SKIP: ${skipReason}`);

const SPAN = 64 * 1024;

interface Case {
  name: string;
  gz: Buffer;
  raw: Buffer;
  /** Uncompressed start offset of each member, in order. */
  memberStarts: number[];
  zeroPadding: number;
  span?: number;
}

/** Compressible text: words of a seeded vocabulary. */
function text(rng: SeededRandom, length: number): Buffer {
  const vocab = Array.from({ length: 256 }, (_, i) => `w${i.toString(36)}${'aeiou'[i % 5]!.repeat(1 + (i % 7))} `);
  const picks = rng.bytes(Math.ceil(length / 4));
  const parts: string[] = [];
  let size = 0;
  for (let i = 0; size < length; i++) {
    const w = vocab[picks[i % picks.length]!]!;
    parts.push(i % 97 === 96 ? `${w}\n` : w);
    size += w.length;
  }
  return Buffer.from(parts.join('')).subarray(0, length);
}

/** Text with incompressible stretches, so encoders mix stored and Huffman blocks. */
function mixed(rng: SeededRandom, length: number): Buffer {
  const parts: Buffer[] = [];
  let size = 0;
  while (size < length) {
    const n = 1000 + rng.int(150_000);
    parts.push(rng.int(3) === 0 ? rng.bytes(n) : text(rng, n));
    size += n;
  }
  return Buffer.concat(parts).subarray(0, length);
}

function tool(cmd: string, args: string[], input: Buffer): Buffer {
  return execFileSync(cmd, args, { input, maxBuffer: 1 << 30 });
}

/** A gzip member with FEXTRA, FNAME, FCOMMENT and FHCRC (RFC 1952 §2.3) around zlib raw deflate. */
function gzipWithFlags(data: Buffer): Buffer {
  const extra = Buffer.from('TO\x04\x00abcd', 'latin1');
  const xlen = Buffer.alloc(2);
  xlen.writeUInt16LE(extra.length);
  const head = Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0x02 | 0x04 | 0x08 | 0x10, 1, 2, 3, 4, 0, 3]), xlen, extra, Buffer.from('layer.tar\0'), Buffer.from('a comment\0')]);
  const hcrc = Buffer.alloc(2);
  hcrc.writeUInt16LE(zlib.crc32(head) & 0xffff);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(zlib.crc32(data), 0);
  trailer.writeUInt32LE(data.length >>> 0, 4);
  return Buffer.concat([head, hcrc, zlib.deflateRawSync(data), trailer]);
}

function members(parts: { raw: Buffer; gz: Buffer }[], zeroPadding = 0): Omit<Case, 'name'> {
  const memberStarts: number[] = [];
  let at = 0;
  for (const p of parts) {
    memberStarts.push(at);
    at += p.raw.length;
  }
  return { raw: Buffer.concat(parts.map((p) => p.raw)), gz: Buffer.concat([...parts.map((p) => p.gz), Buffer.alloc(zeroPadding)]), memberStarts, zeroPadding };
}

function one(raw: Buffer, gz: Buffer, zeroPadding = 0): Omit<Case, 'name'> {
  return members([{ raw, gz }], zeroPadding);
}

function buildCases(): Case[] {
  const rng = new SeededRandom('native.test fixtures');
  const cases: Case[] = [];
  const add = (name: string, c: Omit<Case, 'name'>): void => void cases.push({ name, ...c });
  const t3 = mixed(rng, 3_000_000);
  add('gzip -1 mixed', one(t3, tool('gzip', ['-1', '-n', '-c'], t3)));
  const t2 = text(rng, 2_000_000);
  add('gzip -9 text', one(t2, tool('gzip', ['-9', '-n', '-c'], t2)));
  if (hasCommand('pigz')) {
    add('pigz', one(t3, tool('pigz', ['-p', '2', '-c'], t3)));
    add('pigz -i', one(t3, tool('pigz', ['-p', '2', '-i', '-b', '128', '-c'], t3)));
  } else console.warn('SKIP: pigz cases need the pigz command (bash scripts/setup-system.sh)');
  const a = text(rng, 700_000);
  const b = mixed(rng, 400_000);
  const empty = Buffer.alloc(0);
  add('multi-member with empty members', members([
    { raw: a, gz: zlib.gzipSync(a) },
    { raw: empty, gz: zlib.gzipSync(empty) },
    { raw: b, gz: tool('gzip', ['-6', '-n', '-c'], b) },
    { raw: empty, gz: tool('gzip', ['-n', '-c'], empty) },
    { raw: a.subarray(0, 5000), gz: gzipWithFlags(a.subarray(0, 5000)) },
  ]));
  const s = mixed(rng, 500_000);
  add('stored only (level 0)', one(s, zlib.gzipSync(s, { level: 0 })));
  add('fixed Huffman', one(t2.subarray(0, 1_000_000), zlib.gzipSync(t2.subarray(0, 1_000_000), { strategy: zlib.constants.Z_FIXED })));
  const f = text(rng, 300_000);
  add('header flags FEXTRA FNAME FCOMMENT FHCRC', one(f, gzipWithFlags(f)));
  const p = text(rng, 200_000);
  add('zero padding', one(p, zlib.gzipSync(p), 1000));
  const m = text(rng, 60_000);
  add('small members, fed byte by byte', { ...members([
    { raw: m, gz: zlib.gzipSync(m, { memLevel: 1 }) }, // memLevel 1: 128-symbol blocks, many boundaries
    { raw: empty, gz: zlib.gzipSync(empty) },
    { raw: m.subarray(0, 20_000), gz: gzipWithFlags(m.subarray(0, 20_000)) },
  ]), span: 8 * 1024 });
  add('0-byte input', one(empty, zlib.gzipSync(empty)));
  add('1-byte input', one(Buffer.from('x'), tool('gzip', ['-c', '-n'], Buffer.from('x'))));
  const r = rng.bytes(1_000_000);
  add('random data', one(r, tool('gzip', ['-6', '-n', '-c'], r)));
  const zeros = Buffer.alloc(50 * 1024 * 1024);
  add('50 MB of zeros (multi-MB blocks)', { ...one(zeros, zlib.gzipSync(zeros, { level: 9 })), span: 1024 * 1024 });
  add('every block boundary (span 1)', { ...one(t3, tool('gzip', ['-6', '-n', '-c'], t3)), span: 1 });
  return cases;
}

async function index(n: NativeBinding, gz: Buffer, chunk: number, span: number) {
  const ix = n.createIndexer(span);
  const points: NativeSeekPoint[] = [];
  for (let i = 0; i < gz.length; i += chunk) points.push(...(await ix.push(gz.subarray(i, i + chunk))));
  const summary = await ix.finish();
  return { points, summary };
}

async function indexWithOutput(n: NativeBinding, gz: Buffer, chunk: number, span: number) {
  const ix = n.createIndexer(span, { emitOutput: true });
  const points: NativeSeekPoint[] = [];
  const output: Buffer[] = [];
  for (let i = 0; i < gz.length; i += chunk) {
    const r = await ix.push(gz.subarray(i, i + chunk));
    expect(Buffer.isBuffer(r.output)).toBe(true);
    points.push(...r.points);
    output.push(r.output);
  }
  const summary = await ix.finish();
  return { points, summary, output: Buffer.concat(output) };
}

function fingerprint(points: NativeSeekPoint[]): string[] {
  return points.map((p) => `${p.uncompressedOffset}:${p.compressedBitOffset}:${p.memberStart}:${createHash('sha256').update(p.window).digest('hex')}`);
}

/** The consumer rule: of points sharing an uncompressed offset, the later one wins. */
function effectivePoints(points: NativeSeekPoint[]): NativeSeekPoint[] {
  return points.filter((p, i) => points[i + 1]?.uncompressedOffset !== p.uncompressedOffset);
}

function memberEnd(c: Case, offset: number): number {
  return c.memberStarts.find((s) => s > offset) ?? c.raw.length;
}

function pointFor(points: NativeSeekPoint[], offset: number): NativeSeekPoint {
  let lo = 0;
  let hi = points.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if (points[mid]!.uncompressedOffset <= offset) lo = mid;
    else hi = mid - 1;
  }
  return points[lo]!;
}

function argsFor(c: Case, p: NativeSeekPoint, skipBytes: number, outBytes: number) {
  return { input: c.gz.subarray(p.compressedBitOffset >> 3), firstBitInByte: p.compressedBitOffset & 7, window: p.window, skipBytes, outBytes };
}

async function expectCode(promise: Promise<unknown>, code: string): Promise<Record<string, unknown>> {
  const err = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isImageError(err), `expected an ImageError ${code}, got ${String(err)}`).toBe(true);
  if (!isImageError(err)) return {};
  expect(err.code).toBe(code);
  expect(err.stack).toContain('native.test.ts');
  return err.details;
}

describe.skipIf(skipReason !== undefined)('native zlib addon', () => {
  const n = native!;
  const cases = skipReason ? [] : buildCases();

  it('binds to the zlib of the running Node', () => {
    expect(n.zlibVersion).toMatch(/^1\.\d+\.\d+/);
    expect(process.versions.zlib.startsWith(n.zlibVersion)).toBe(true);
  });

  it('fixtures are valid gzip (node:zlib agrees)', () => {
    for (const c of cases) expect(zlib.gunzipSync(c.gz.subarray(0, c.gz.length - c.zeroPadding)).equals(c.raw), c.name).toBe(true);
  });

  describe.each(cases.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const span = c.span ?? SPAN;
    let points: NativeSeekPoint[] = [];

    it('builds the same points for every chunking, with a correct summary', async () => {
      const whole = await index(n, c.gz, c.gz.length || 1, span);
      points = whole.points;
      expect(whole.summary).toEqual({ compressedBytes: c.gz.length, uncompressedBytes: c.raw.length, members: c.memberStarts.length, trailingZeroBytes: c.zeroPadding });
      const chunkings = [64 * 1024, ...(c.gz.length <= 400 * 1024 ? [7] : []), ...(c.gz.length <= 32 * 1024 ? [1] : [])];
      for (const chunk of chunkings) {
        const other = await index(n, c.gz, chunk, span);
        expect(fingerprint(other.points), `chunk ${chunk}`).toEqual(fingerprint(points));
        expect(other.summary).toEqual(whole.summary);
      }
    });

    it('emitOutput: push also yields the uncompressed bytes, equal to the original, with the same points', async () => {
      const plain = await index(n, c.gz, c.gz.length || 1, span);
      const chunkings = [c.gz.length || 1, 64 * 1024, ...(c.gz.length <= 400 * 1024 ? [7] : []), ...(c.gz.length <= 32 * 1024 ? [1] : [])];
      for (const chunk of chunkings) {
        const r = await indexWithOutput(n, c.gz, chunk, span);
        expect(r.output.length, `chunk ${chunk}`).toBe(c.raw.length);
        expect(r.output.equals(c.raw), `chunk ${chunk}`).toBe(true);
        expect(fingerprint(r.points), `chunk ${chunk}`).toEqual(fingerprint(plain.points));
        expect(r.summary).toEqual(plain.summary);
      }
    });

    it('points are ordered, member starts are right, windows are the preceding bytes', () => {
      expect(points.filter((p) => p.memberStart).map((p) => p.uncompressedOffset)).toEqual(c.memberStarts);
      let memberOut = 0;
      let prev: NativeSeekPoint | undefined;
      for (const p of points) {
        if (prev) {
          expect(p.compressedBitOffset).toBeGreaterThan(prev.compressedBitOffset);
          expect(p.uncompressedOffset).toBeGreaterThanOrEqual(prev.uncompressedOffset);
          if (!p.memberStart) expect(p.uncompressedOffset - prev.uncompressedOffset).toBeGreaterThanOrEqual(span);
        }
        if (p.memberStart) {
          memberOut = p.uncompressedOffset;
          expect(p.compressedBitOffset % 8).toBe(0);
          expect(p.window.length).toBe(0);
        }
        const len = Math.min(32 * 1024, p.uncompressedOffset - memberOut);
        expect(p.window.length).toBe(len);
        expect(p.window.equals(c.raw.subarray(p.uncompressedOffset - len, p.uncompressedOffset))).toBe(true);
        prev = p;
      }
      if (c.span === 1) expect(points.length).toBeGreaterThan(20);
    });

    it('inflates from every point exactly, stopping at the member end', async () => {
      for (const p of effectivePoints(points)) {
        const end = memberEnd(c, p.uncompressedOffset);
        const want = 70_000;
        const r = await n.inflateFrom(argsFor(c, p, 0, want));
        expect(r.output.equals(c.raw.subarray(p.uncompressedOffset, Math.min(p.uncompressedOffset + want, end)))).toBe(true);
        expect(r.streamEnd).toBe(p.uncompressedOffset + want > end);
        expect(r.inputExhausted).toBe(false);
      }
    });

    it('serves random (offset, length) reads byte for byte, sync and async, including the last byte', async () => {
      if (c.raw.length === 0) return;
      const eff = effectivePoints(points);
      const rng = new SeededRandom(`native reads ${c.name}`);
      const pairs: [number, number][] = [[c.raw.length - 1, 1], [0, c.raw.length]];
      for (let i = 0; i < 60; i++) pairs.push([rng.int(c.raw.length), 1 + rng.int(rng.int(2) ? 4096 : 300_000)]);
      for (const [i, [offset, length]] of pairs.entries()) {
        const p = pointFor(eff, offset);
        const end = memberEnd(c, offset);
        const args = argsFor(c, p, offset - p.uncompressedOffset, length);
        const r = i % 2 ? n.inflateFromSync(args) : await n.inflateFrom(args);
        expect(r.output.equals(c.raw.subarray(offset, Math.min(offset + length, end))), `offset ${offset} length ${length}`).toBe(true);
      }
    });
  });

  it.skipIf(missingNeeds({ commands: ['gztool'] }) !== undefined)('finds the same points as gztool (an independent zran implementation)', async () => {
    const dir = makeTempDir('native-gztool-');
    for (const c of cases.filter((x) => x.name.startsWith('gzip -') || x.name.startsWith('pigz'))) {
      const gzFile = path.join(dir, 'layer.gz');
      const idxFile = path.join(dir, 'layer.gzi');
      writeFileSync(gzFile, c.gz);
      rmSync(idxFile, { force: true });
      execFileSync('gztool', ['-v', '0', '-z', '-s', '1', '-I', idxFile, '-i', gzFile], { stdio: 'ignore' });
      const listing = execFileSync('gztool', ['-ll', '-I', idxFile, gzFile], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
      const theirs = [...listing.matchAll(/#\d+: @ (\d+) \/ (\d+)/g)].map((m) => `${m[1]}/${m[2]}`);
      // gztool places a point when more than `span` bytes passed (`>`), we when at least `span` did (`>=`).
      const { points } = await index(n, c.gz, 64 * 1024, 1024 * 1024 + 1);
      expect(points.map((p) => `${Math.ceil(p.compressedBitOffset / 8)}/${p.uncompressedOffset}`), c.name).toEqual(theirs);
    }
  });

  it('reports inputExhausted when the compressed bytes run out', async () => {
    const c = cases[0]!;
    const { points } = await index(n, c.gz, c.gz.length, SPAN);
    const p = points[Math.floor(points.length / 2)]!;
    const byte = p.compressedBitOffset >> 3;
    const r = await n.inflateFrom({ ...argsFor(c, p, 0, 1 << 20), input: c.gz.subarray(byte, byte + 3000) });
    expect(r.inputExhausted).toBe(true);
    expect(r.streamEnd).toBe(false);
    expect(r.output.length).toBeGreaterThan(0);
    expect(r.output.equals(c.raw.subarray(p.uncompressedOffset, p.uncompressedOffset + r.output.length))).toBe(true);
  });

  it('runs 50 concurrent inflateFrom calls correctly', async () => {
    const c = cases[0]!;
    const { points } = await index(n, c.gz, c.gz.length, SPAN);
    const rng = new SeededRandom('native concurrent');
    const offsets = Array.from({ length: 50 }, () => rng.int(c.raw.length - 5000));
    const results = await Promise.all(offsets.map((o) => {
      const p = pointFor(points, o);
      return n.inflateFrom(argsFor(c, p, o - p.uncompressedOffset, 5000));
    }));
    for (const [i, o] of offsets.entries()) expect(results[i]!.output.equals(c.raw.subarray(o, o + 5000))).toBe(true);
  });

  describe('errors', () => {
    const base = (): Buffer => Buffer.from(cases.find((c) => c.name === 'zero padding')!.gz.subarray(0, -1000));

    async function failIndex(gz: Buffer, code: string, chunk = 4096): Promise<Record<string, unknown>> {
      const ix = n.createIndexer(SPAN);
      const run = async () => {
        for (let i = 0; i < gz.length; i += chunk) await ix.push(gz.subarray(i, i + chunk));
        return ix.finish();
      };
      const details = await expectCode(run(), code);
      ix.destroy();
      return details;
    }

    it('a flipped CRC-32 is CORRUPT near the trailer', async () => {
      const gz = base();
      gz[gz.length - 8]! ^= 0x01;
      const d = await failIndex(gz, 'CORRUPT');
      expect(d.offset).toBeGreaterThanOrEqual(gz.length - 8);
      expect(d.offset).toBeLessThanOrEqual(gz.length);
    });

    it('a flipped byte in the deflate data is CORRUPT at or after it', async () => {
      const gz = base();
      const at = Math.floor(gz.length / 2);
      gz[at]! ^= 0x5a;
      const d = await failIndex(gz, 'CORRUPT');
      expect(d.offset).toBeGreaterThanOrEqual(at);
    });

    it('non-gzip input and garbage after a member are CORRUPT with the byte offset', async () => {
      expect((await failIndex(Buffer.from('ustar plain tar bytes'), 'CORRUPT')).offset).toBe(0);
      expect((await failIndex(Buffer.from([0x1f, 0x8c, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2]), 'CORRUPT')).offset).toBeLessThanOrEqual(2);
      const gz = base();
      expect((await failIndex(Buffer.concat([gz, Buffer.from('garbage')]), 'CORRUPT')).offset).toBe(gz.length);
      const tiny = cases.find((c) => c.name === '1-byte input')!.gz;
      expect((await failIndex(Buffer.concat([tiny, Buffer.alloc(3), Buffer.from('x')]), 'CORRUPT', 1)).offset).toBe(tiny.length + 3);
      expect((await failIndex(Buffer.concat([gz, Buffer.alloc(10), Buffer.from([0x1f, 0x8b])]), 'CORRUPT')).offset).toBe(gz.length + 10);
    });

    it('truncated input is TRUNCATED at the end offset (data, trailer, header, empty)', async () => {
      const gz = base();
      for (const cut of [Math.floor(gz.length / 2), gz.length - 3, 5]) {
        expect((await failIndex(gz.subarray(0, cut), 'TRUNCATED')).offset).toBe(cut);
      }
      expect((await failIndex(Buffer.alloc(0), 'TRUNCATED')).offset).toBe(0);
    });

    it('inflateFrom on invalid deflate data is CORRUPT; bad arguments are INVALID_ARGUMENT', async () => {
      const args = { input: Buffer.from([0x07, 0, 0]), firstBitInByte: 0, window: Buffer.alloc(0), skipBytes: 0, outBytes: 10 };
      await expectCode(n.inflateFrom(args), 'CORRUPT');
      expect(() => n.inflateFromSync(args)).toThrow(/invalid/);
      for (const bad of [{ firstBitInByte: 8 }, { window: Buffer.alloc(40_000) }, { skipBytes: -1 }, { outBytes: 1.5 }, { input: Buffer.alloc(0), firstBitInByte: 3 }]) {
        await expectCode(n.inflateFrom({ ...args, ...bad }), 'INVALID_ARGUMENT');
      }
      expect(() => n.createIndexer(0)).toThrow(/span/);
      expect(() => n.createIndexer(SPAN, { emitOutput: 'yes' as unknown as true })).toThrow(/emitOutput/);
    });
  });

  describe('lifecycle', () => {
    it('rejects overlapping pushes and use after finish, destroy or failure', async () => {
      const gz = cases[0]!.gz;
      const ix = n.createIndexer(SPAN);
      const first = ix.push(gz.subarray(0, 1 << 20));
      await expectCode(ix.push(gz.subarray(1 << 20, 2 << 20)), 'FAILED_PRECONDITION');
      expect((await first).length).toBeGreaterThan(0);
      ix.destroy();
      ix.destroy();
      await expectCode(ix.push(gz.subarray(0, 10)), 'FAILED_PRECONDITION');

      const small = cases.find((c) => c.name === '1-byte input')!.gz;
      const done = n.createIndexer(SPAN);
      await done.push(small);
      await done.finish();
      await expectCode(done.push(small), 'FAILED_PRECONDITION');
      await expectCode(done.finish(), 'FAILED_PRECONDITION');

      const failed = n.createIndexer(SPAN);
      await expectCode(failed.push(Buffer.from('nope')), 'CORRUPT');
      await expectCode(failed.push(small), 'FAILED_PRECONDITION');
      failed.destroy();
    });

    it('destroy() during a push and of many abandoned indexers frees without crashing', async () => {
      const gz = cases[0]!.gz;
      const busy = n.createIndexer(SPAN);
      const pending = busy.push(gz.subarray(0, 1 << 20));
      busy.destroy();
      expect((await pending).length).toBeGreaterThan(0);
      for (let i = 0; i < 100; i++) {
        const ix = n.createIndexer(SPAN);
        await ix.push(gz.subarray(0, 50_000));
        ix.destroy();
      }
    });

    it('TURBO_OCI_ZLIB=pako disables the addon', () => {
      const before = process.env.TURBO_OCI_ZLIB;
      process.env.TURBO_OCI_ZLIB = 'pako';
      try {
        expect(loadNative()).toBeUndefined();
        expect(nativeLoadError()).toContain('TURBO_OCI_ZLIB');
      } finally {
        if (before === undefined) delete process.env.TURBO_OCI_ZLIB;
        else process.env.TURBO_OCI_ZLIB = before;
      }
      expect(loadNative()).toBeDefined();
    });
  });
});
