// Property tests (fixed seed): random trees → tar (our encoder in several dialects, and GNU tar) → scan → equal;
// arbitrary or damaged bytes → entries or an ImageError with a code, never another exception.
import { execFileSync } from 'node:child_process';
import { mkdirSync, writeFileSync, symlinkSync, rmSync, utimesSync, chmodSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isImageError } from '../../../../src/errors.js';
import { TarBuilder } from '../../../../src/format/tar/tar-builder.js';
import { TarScanner } from '../../../../indexer/tar/tar-scanner.js';
import { entrySegments, type TarEntry } from '../../../../indexer/tar/tar-entry.js';
import { missingNeeds } from '../../../helpers/capabilities.js';
import { PROPERTY_SEED } from '../../../helpers/random.js';
import { makeTempDir } from '../../../helpers/tmpdir.js';

interface Item {
  path: string;
  kind: 'file' | 'dir' | 'symlink';
  data: Buffer;
  target: string;
  mode: number;
  uid: number;
  mtime: number;
  nsec: number;
  xattr: Buffer | undefined;
}

const segment = fc.oneof(
  fc.stringMatching(/^[a-z0-9_.-]{1,12}$/).filter((s) => s !== '.' && s !== '..'),
  fc.constantFrom('é', 'ü-ß', '\u{1F600}', 'a'.repeat(150), 'b'.repeat(255)),
);
const item: fc.Arbitrary<Item> = fc.record({
  path: fc.array(segment, { minLength: 1, maxLength: 4 }).map((p) => p.join('/')),
  kind: fc.constantFrom('file', 'file', 'dir', 'symlink') as fc.Arbitrary<Item['kind']>,
  data: fc.uint8Array({ maxLength: 1500 }).map((u) => Buffer.from(u)),
  target: fc.oneof(segment, fc.constant('x'.repeat(300))),
  mode: fc.integer({ min: 0, max: 0o7777 }),
  uid: fc.oneof(fc.integer({ min: 0, max: 65535 }), fc.integer({ min: 0, max: 2 ** 32 - 1 })),
  mtime: fc.oneof(fc.integer({ min: 0, max: 2 ** 33 - 1 }), fc.integer({ min: -(2 ** 31), max: 2 ** 36 })),
  nsec: fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 999_999_999 })),
  xattr: fc.option(fc.uint8Array({ maxLength: 40 }).map((u) => Buffer.from(u)), { nil: undefined }),
});

/** A pax time for (sec, nsec) with 0 ≤ nsec < 1e9: negative values are written as the signed decimal. */
function paxTime(sec: number, nsec: number): string {
  if (nsec === 0) return String(sec);
  if (sec >= 0) return `${sec}.${String(nsec).padStart(9, '0')}`;
  return `-${-sec - 1}.${String(1_000_000_000 - nsec).padStart(9, '0')}`;
}

/** Writes items in one of our dialects: 'pax' (pax records for what ustar cannot hold) or 'gnu' (L/K + base-256). */
function encode(items: Item[], dialect: 'pax' | 'gnu'): Buffer {
  const b = new TarBuilder();
  for (const it of items) {
    const name = it.kind === 'dir' ? `${it.path}/` : it.path;
    const typeflag = it.kind === 'file' ? '0' : it.kind === 'dir' ? '5' : '2';
    const data = it.kind === 'file' ? it.data : Buffer.alloc(0);
    const nameBytes = Buffer.from(name);
    const linkBytes = Buffer.from(it.kind === 'symlink' ? it.target : '');
    if (dialect === 'pax') {
      const recs: [string, string | Buffer][] = [];
      if (nameBytes.length > 100) recs.push(['path', name]);
      if (linkBytes.length > 100) recs.push(['linkpath', it.target]);
      if (it.nsec !== 0 || it.mtime < 0 || it.mtime >= 8 ** 11) recs.push(['mtime', paxTime(it.mtime, it.nsec)]);
      if (it.uid >= 8 ** 7) recs.push(['uid', String(it.uid)]);
      if (it.xattr) recs.push(['SCHILY.xattr.user.t', it.xattr]);
      if (recs.length) b.pax(recs);
      const short = (buf: Buffer): Buffer => (buf.length > 100 ? buf.subarray(0, 100) : buf);
      b.entry({ name: short(nameBytes), linkname: short(linkBytes), typeflag, mode: it.mode, uid: it.uid >= 8 ** 7 ? 0 : it.uid, mtime: Math.max(0, Math.min(it.mtime, 8 ** 11 - 1)) }, data);
    } else {
      if (nameBytes.length > 100) b.gnuLong('L', nameBytes);
      if (linkBytes.length > 100) b.gnuLong('K', linkBytes);
      b.entry(
        { name: nameBytes.subarray(0, 100), linkname: linkBytes.subarray(0, 100), typeflag, mode: it.mode, uid: it.uid, mtime: it.mtime, magic: 'gnu' },
        data,
      );
    }
  }
  return b.end().toBuffer();
}

function scanChunked(tar: Buffer, cuts: number[]): TarEntry[] {
  const s = new TarScanner();
  const out: TarEntry[] = [];
  let prev = 0;
  for (const c of [...cuts.map((x) => x % (tar.length + 1))].sort((a, b) => a - b)) {
    out.push(...s.push(tar.subarray(prev, c)));
    prev = c;
  }
  out.push(...s.push(tar.subarray(prev)), ...s.end());
  return out;
}

function checkAgainst(items: Item[], entries: TarEntry[], tar: Buffer, dialect: 'pax' | 'gnu'): void {
  expect(entries).toHaveLength(items.length);
  items.forEach((it, i) => {
    const e = entries[i]!;
    expect(e.path.replace(/\/$/, '')).toBe(it.path);
    expect(e.type).toBe(it.kind);
    expect(e.mode).toBe(it.mode);
    expect(e.uid).toBe(it.uid);
    expect(e.mtime).toEqual({ sec: it.mtime, nsec: dialect === 'pax' ? it.nsec : 0 });
    if (it.kind === 'symlink') expect(e.linkname).toBe(it.target);
    if (it.kind === 'file') {
      const segs = entrySegments(e);
      const bytes = Buffer.concat(segs.map((s) => tar.subarray(s.tarOffset, s.tarOffset + s.length)));
      expect(bytes.equals(it.data)).toBe(true);
    }
    if (dialect === 'pax' && it.xattr) expect(e.xattrs.get('user.t')).toEqual(it.xattr);
  });
}

describe('tar scanner properties', () => {
  it('encoder trees scan back equal under any chunking', () => {
    fc.assert(
      fc.property(fc.array(item, { maxLength: 12 }), fc.constantFrom('pax', 'gnu') as fc.Arbitrary<'pax' | 'gnu'>, fc.array(fc.nat(), { maxLength: 6 }), (items, dialect, cuts) => {
        const tar = encode(items, dialect);
        checkAgainst(items, scanChunked(tar, cuts), tar, dialect);
      }),
      { seed: PROPERTY_SEED, numRuns: 150 },
    );
  });

  it('arbitrary bytes give entries or an ImageError, never another exception', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 3000 }), fc.array(fc.nat(), { maxLength: 4 }), (bytes, cuts) => {
        try {
          scanChunked(Buffer.from(bytes), cuts);
        } catch (err) {
          if (!isImageError(err)) throw err;
        }
      }),
      { seed: PROPERTY_SEED, numRuns: 300 },
    );
  });

  it('damaged valid archives give entries or an ImageError, never another exception', () => {
    const base = encode(
      fc.sample(item, { seed: PROPERTY_SEED, numRuns: 6 }).map((x, i) => ({ ...x, path: `${x.path}${i}` })),
      'pax',
    );
    const sparse = new TarBuilder()
      .gnuSparse({ name: 's' }, Buffer.alloc(9000, 1), Array.from({ length: 6 }, (_, i) => ({ offset: i * 1024, length: 512 })))
      .paxSparse1({ name: 'GNUSparseFile.0/t' }, 't', Buffer.alloc(4096, 2), [{ offset: 512, length: 512 }])
      .end()
      .toBuffer();
    for (const tar of [base, sparse]) {
      fc.assert(
        fc.property(fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }), fc.nat(), (edits, cut) => {
          const t = Buffer.from(tar);
          for (const [at, v] of edits) t[at % t.length] = v;
          try {
            scanChunked(t.subarray(0, t.length - (cut % 700)), [cut]);
          } catch (err) {
            if (!isImageError(err)) throw err;
            expect(['CORRUPT', 'TRUNCATED', 'UNSUPPORTED', 'LIMIT_EXCEEDED']).toContain(err.code);
          }
        }),
        { seed: PROPERTY_SEED, numRuns: 300 },
      );
    }
  });
});

describe.skipIf(missingNeeds({ commands: ['tar'] }))('tar scanner against GNU tar', () => {
  const tmp = makeTempDir('turbo-oci-tarprop-');

  it('random trees archived by GNU tar (gnu and posix formats) scan back equal', () => {
    let run = 0;
    fc.assert(
      fc.property(fc.uniqueArray(item, { minLength: 1, maxLength: 10, selector: (x) => x.path.split('/')[0] }), fc.constantFrom('gnu', 'posix'), (raw, format) => {
        const dir = path.join(tmp, `t${run++}`);
        mkdirSync(dir, { recursive: true });
        // one top-level name per item, so no item is the parent of another
        const items = raw.map((x) => ({ ...x, path: x.path.split('/')[0]!, mtime: Math.abs(x.mtime) % 2 ** 32, mode: x.kind === 'dir' ? 0o755 : 0o644 }));
        for (const it of items) {
          const p = path.join(dir, it.path);
          if (it.kind === 'file') writeFileSync(p, it.data);
          else if (it.kind === 'dir') mkdirSync(p);
          else symlinkSync(it.target, p);
          if (it.kind !== 'symlink') {
            chmodSync(p, it.mode);
            utimesSync(p, it.mtime, it.mtime);
          }
        }
        const names = items.map((i) => i.path).sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
        const tar = execFileSync('tar', [`--format=${format}`, '--owner=0', '--group=0', '--numeric-owner', ...(format === 'posix' ? ['--pax-option=delete=atime,delete=ctime'] : []), '-cf', '-', '--no-recursion', '--', ...names], {
          cwd: dir,
          maxBuffer: 1 << 26,
        });
        rmSync(dir, { recursive: true, force: true });
        const entries = scanChunked(tar, [run * 37]);
        expect(entries.map((e) => e.path.replace(/\/$/, ''))).toEqual(names);
        for (const e of entries) {
          const it = items.find((x) => x.path === e.path.replace(/\/$/, ''))!;
          expect(e.type).toBe(it.kind);
          if (it.kind === 'symlink') expect(e.linkname).toBe(it.target);
          else expect(e.mtime.sec).toBe(it.mtime);
          if (it.kind === 'file') {
            const bytes = Buffer.concat(entrySegments(e).map((s) => tar.subarray(s.tarOffset, s.tarOffset + s.length)));
            expect(bytes.equals(it.data)).toBe(true);
          }
        }
      }),
      { seed: PROPERTY_SEED, numRuns: 25 },
    );
  });
});
