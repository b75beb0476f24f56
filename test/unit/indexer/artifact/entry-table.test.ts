// Tar entry table v1: golden vector, round trip equal to the tar scan, malformed tables rejected with stable codes.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { compress } from 'zstd-napi';
import { describe, expect, it } from 'vitest';

import { ARTIFACT_GOLDEN_DIR, goldenEntryTable, goldenTar } from '../../../../fixtures/artifact-golden.js';
import { decodeEntryTable, encodeEntryTable } from '../../../../indexer/artifact/entry-table.js';
import { scanTarBuffer } from '../../../../indexer/tar/scan-tar.js';
import { isImageError } from '../../../../src/errors.js';
import { SeededRandom } from '../../../helpers/random.js';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isImageError(err) ? err.code : 'NOT_IMAGE_ERROR';
  }
  return undefined;
}

describe('tar entry table v1', () => {
  it('the generator reproduces the committed golden vector byte for byte', () => {
    expect(goldenEntryTable().equals(readFileSync(path.join(ARTIFACT_GOLDEN_DIR, 'entry-table.bin')))).toBe(true);
  });

  it('decodes to exactly the scanned entries (every field, xattr bytes, sparse maps)', () => {
    const tar = goldenTar();
    const table = decodeEntryTable(goldenEntryTable());
    expect(table.tarBytes).toBe(tar.length);
    expect(table.entries).toEqual(scanTarBuffer(tar));
    expect(table.entries.map((e) => e.type).sort()).toEqual(['char', 'dir', 'fifo', 'file', 'file', 'file', 'hardlink', 'symlink']);
    expect(encodeEntryTable(table).equals(goldenEntryTable())).toBe(true);
  });

  it('round-trips sparse runs, optional times and odd strings', () => {
    const base = scanTarBuffer(goldenTar())[1]!;
    const e = { ...base, path: 'n\u00e9\ud800x', sparse: [{ offset: 0, length: 512 }, { offset: 4096, length: 0 }], atime: { sec: -5, nsec: 999_999_999 }, ctime: { sec: 2 ** 40, nsec: 0 } };
    const table = { diffId: `sha256:${'0'.repeat(64)}`, tarBytes: goldenTar().length, entries: [e] };
    expect(decodeEntryTable(encodeEntryTable(table))).toEqual(table);
  });

  it('rejects truncation, bad versions, counts and fields', () => {
    const text = (s: string): Buffer => compress(Buffer.from(s));
    const good = decodeEntryTable(goldenEntryTable());
    const lines = JSON.stringify({ magic: 'TOCITARE', version: 1, diffId: good.diffId, tarBytes: good.tarBytes, entries: good.entries.length });
    expect(codeOf(() => decodeEntryTable(goldenEntryTable().subarray(0, 40)))).toBe('CORRUPT');
    expect(codeOf(() => decodeEntryTable(text(`${lines.replace('"version":1', '"version":2')}\n`)))).toBe('UNSUPPORTED');
    expect(codeOf(() => decodeEntryTable(text(`${lines}\n`)))).toBe('CORRUPT');
    expect(codeOf(() => decodeEntryTable(text(`${lines.replace('TOCITARE', 'XXXXXXXX')}\n`)))).toBe('CORRUPT');
    const rng = new SeededRandom('entry-table');
    const raw = JSON.stringify([0, 0, 'a', 'file', '0', '', 420, 0, 0, '', '', [0, 0], null, null, 0, 0, 0, 512, 0, null, [], 1024]);
    const one = (entry: string): Buffer => text(`${lines.replace(/"entries":\d+/, '"entries":1')}\n${entry}\n`);
    expect(decodeEntryTable(one(raw)).entries[0]!.path).toBe('a');
    const tuple = JSON.parse(raw) as unknown[];
    for (let i = 0; i < tuple.length; i++) {
      const bad = [...tuple];
      bad[i] = rng.int(2) === 0 ? { x: 1 } : -1.5;
      expect(codeOf(() => decodeEntryTable(one(JSON.stringify(bad)))), `field ${i}`).toBe('CORRUPT');
    }
  });
});
