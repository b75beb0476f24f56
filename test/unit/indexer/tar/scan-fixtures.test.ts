// Scans every tar fixture: generator reproduces the committed tars and golden JSON; any chunking gives the same entries;
// data offsets are checked against GNU tar's own extraction (`tar -xO`) and the generator's known contents.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildTarFixtures, type TarFixture } from '../../../../fixtures/tar-fixtures.js';
import { goldenText, scanForGolden } from '../../../../fixtures/tar-golden.js';
import { scanTar, scanTarBatches } from '../../../../indexer/tar/scan-tar.js';
import { entrySegments, type TarEntry } from '../../../../indexer/tar/tar-entry.js';
import { missingNeeds } from '../../../helpers/capabilities.js';

const ROOT = path.resolve(import.meta.dirname, '../../../..');
let fixtures: TarFixture[] = [];

/** The file's bytes as the entry describes them: runs at their offsets, holes zero. */
function contentFromSegments(tar: Buffer, e: TarEntry): Buffer {
  const out = Buffer.alloc(e.size);
  for (const s of entrySegments(e)) tar.copy(out, s.fileOffset, s.tarOffset, s.tarOffset + s.length);
  return out;
}

/** Members GNU tar cannot name on its command line or refuses; their data is checked against `contents` only. */
const NOT_FOR_GNU_TAR = new Set(['nul-in-path.tar', 'signed-checksum.tar']); // NUL and non-UTF-8 names; damaged fixtures are skipped too

describe.skipIf(missingNeeds({ commands: ['tar'] }))('tar fixtures', () => {
  beforeAll(() => {
    fixtures = buildTarFixtures();
  });

  it('the generator reproduces the committed tars and golden JSON byte for byte', () => {
    expect(fixtures.length).toBeGreaterThan(30);
    for (const f of fixtures) {
      const committed = readFileSync(path.join(ROOT, 'fixtures', 'tar', f.name));
      expect(committed.equals(f.tar), `${f.name} bytes`).toBe(true);
      const golden = readFileSync(path.join(ROOT, 'fixtures', 'golden', 'tar', f.name.replace(/\.tar$/, '.json')), 'utf8');
      expect(goldenText(f.name, f.tar), f.name).toBe(golden);
    }
  });

  it('whole, chunked and byte-by-byte scans agree', async () => {
    for (const f of fixtures) {
      const whole = scanForGolden(f.tar);
      for (const chunk of [1, 7, 511, 512, 513, 4099]) expect(scanForGolden(f.tar, chunk), `${f.name} chunk ${chunk}`).toEqual(whole);
      if (!whole.error) {
        const chunks = [f.tar.subarray(0, 100), f.tar.subarray(100, 1500), f.tar.subarray(1500)];
        const viaAsync: TarEntry[] = [];
        for await (const e of scanTar(chunks)) viaAsync.push(e);
        expect(viaAsync, f.name).toEqual(whole.entries);
        const batches: TarEntry[][] = [];
        for await (const batch of scanTarBatches(chunks)) batches.push(batch);
        expect(batches.flat(), f.name).toEqual(whole.entries);
        expect(batches.every((b) => b.length > 0)).toBe(true);
      }
    }
  });

  it('data offsets point at each member’s bytes (checked with tar -xO and known contents)', () => {
    let checked = 0;
    for (const f of fixtures) {
      const { entries, error } = scanForGolden(f.tar);
      for (const e of entries) {
        if (e.type !== 'file') continue;
        if (e.dataOffset + e.dataBytes > f.tar.length) continue; // truncated fixture
        expect(e.dataOffset % 512, `${f.name}:${e.path}`).toBe(0);
        const mine = contentFromSegments(f.tar, e);
        const known = f.contents.get(e.mainHeaderOffset);
        if (f.source === 'encoder') {
          expect(known, `${f.name}:${e.path} has known content`).toBeDefined();
          expect(mine.equals(known!), `${f.name}:${e.path} vs known`).toBe(true);
        }
        const unique = entries.filter((x) => x.path.startsWith(e.path)).length === 1; // tar -xO prints every member it matches
        if (!NOT_FOR_GNU_TAR.has(f.name) && !error && unique && !e.path.split('/').includes('..')) {
          const theirs = execFileSync('tar', ['-xOf', '-', '--', e.path], { input: f.tar, maxBuffer: 1 << 26, stdio: ['pipe', 'pipe', 'ignore'] });
          expect(mine.equals(theirs), `${f.name}:${e.path} vs tar -xO`).toBe(true);
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(60);
  });

  it('records the expected dialect facts', () => {
    const scan = (name: string): TarEntry[] => scanForGolden(fixtures.find((f) => f.name === name)!.tar).entries;
    const byPath = (name: string, p: string): TarEntry => scan(name).find((e) => e.path === p)!;
    expect(byPath('base256-uid.tar', 'big-ids')).toMatchObject({ uid: 3_000_000_000, gid: 4_000_000_000 });
    expect(byPath('base256-uid.tar', 'negative-mtime').mtime).toEqual({ sec: -86_400, nsec: 0 });
    expect(byPath('pax-times.tar', 'fractional')).toMatchObject({
      mtime: { sec: 1_700_000_000, nsec: 123_456_789 },
      atime: { sec: 1_700_000_001, nsec: 500_000_000 },
      ctime: { sec: 1_700_000_002, nsec: 1 },
    });
    expect(byPath('pax-times.tar', 'before-epoch').mtime).toEqual({ sec: -2, nsec: 750_000_000 });
    const ping = byPath('pax-xattr.tar', 'usr/bin/ping');
    expect(ping.xattrs.get('security.capability')).toEqual(Buffer.from('0100000200200000000000000000000000000000', 'hex'));
    expect(byPath('pax-xattr.tar', 'usr/').xattrs.get('user.dir')).toEqual(Buffer.from([0, 1, 2, 255]));
    const la = byPath('libarchive-xattr.tar', 'file').xattrs;
    expect(la.get('user.a=b')).toEqual(Buffer.from('binary\0value'));
    expect(la.get('user.été')).toEqual(Buffer.from('summer'));
    expect(la.get('user.plain')).toEqual(Buffer.from('schily'));
    expect(scan('pax-global.tar').map((e) => [e.uid, e.gname])).toEqual([
      [1234, 'global'],
      [99, 'global'],
      [1234, ''],
    ]);
    expect(byPath('pax-size-uid.tar', 'pax/overridden-name')).toMatchObject({ size: 1500, uid: 4294967294, gid: 70000, uname: 'ünïcode' });
    expect(byPath('devices.tar', 'dev/big')).toMatchObject({ type: 'char', devmajor: 4095, devminor: 1048575 });
    expect(scan('contiguous-and-v7.tar').map((e) => e.type)).toEqual(['file', 'file', 'file']);
    for (const v of ['0.0', '0.1', '1.0']) {
      expect(byPath(`pax-sparse-${v}.tar`, 'sparse.bin').sparse, v).toEqual(byPath('gnu-sparse-old.tar', 'sparse.bin').sparse);
    }
    expect(byPath('gnu-sparse-ext.tar', 'many-runs').sparse).toHaveLength(31);
    expect(byPath('pax-long-path.tar', 'longsym').linkname).toBe(`../${'s'.repeat(300)}`);
    expect(byPath('gnu-long-link.tar', 'sym').linkname).toBe(`/${'t'.repeat(150)}/target`);
  });

  it('reports damage with codes and offsets', () => {
    const golden = (name: string): ReturnType<typeof scanForGolden> => scanForGolden(fixtures.find((f) => f.name === name)!.tar);
    expect(golden('bad-checksum.tar').error).toMatchObject({ code: 'CORRUPT', details: { offset: 1024 } });
    expect(golden('truncated-header.tar').error).toMatchObject({ code: 'TRUNCATED', details: { offset: 1324 } });
    expect(golden('truncated-data.tar').error).toMatchObject({ code: 'TRUNCATED', details: { offset: 2236 } });
    expect(golden('truncated-pax.tar').error).toMatchObject({ code: 'TRUNCATED', details: { offset: 900 } });
    expect(golden('trailing-garbage.tar').warnings.map((w) => [w.code, w.offset])).toEqual([['TRAILING_DATA', 3072]]);
    expect(golden('no-end-marker.tar').warnings.map((w) => w.code)).toEqual(['MISSING_END_MARKER']);
    expect(golden('signed-checksum.tar').entries).toHaveLength(1);
  });
});
