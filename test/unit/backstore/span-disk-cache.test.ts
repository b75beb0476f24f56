// SpanDiskCache: verified round trip, damaged files detected and removed, LRU bound, order and contents surviving a restart, stray temp files removed.
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { SpanDiskCache, type SpanKey } from '../../../src/backstore/span-disk-cache.js';
import { SeededRandom } from '../../helpers/random.js';
import { makeTempDir } from '../../helpers/tmpdir.js';

const LAYER = 'ab'.repeat(32);
const rng = new SeededRandom('span-disk-cache');

function span(start: number, bytes: Buffer, layerHex = LAYER): SpanKey {
  return { layerHex, start, end: start + bytes.length, sha256: createHash('sha256').update(bytes).digest() };
}

describe('SpanDiskCache', () => {
  it('returns what was put, and survives a restart', async () => {
    const dir = makeTempDir('span-cache-');
    const data = rng.bytes(5000);
    const key = span(100, data);
    const a = new SpanDiskCache(dir, 1 << 20);
    expect(await a.get(key)).toBeUndefined();
    await a.put(key, data);
    expect((await a.get(key))!.equals(data)).toBe(true);
    const b = new SpanDiskCache(dir, 1 << 20);
    expect(b.files).toBe(1);
    expect(b.bytes).toBe(5000);
    expect((await b.get(key))!.equals(data)).toBe(true);
  });

  it('a damaged or truncated file is a miss, counted and removed', async () => {
    const dir = makeTempDir('span-cache-');
    const data = rng.bytes(3000);
    const other = rng.bytes(100);
    const key = span(0, data);
    const key2 = span(9000, other);
    let corrupt = 0;
    const c = new SpanDiskCache(dir, 1 << 20, () => corrupt++);
    await c.put(key, data);
    await c.put(key2, other);
    const file = path.join(dir, LAYER, `0-${data.length}`);
    const bad = readFileSync(file);
    bad[1234]! ^= 0x40;
    writeFileSync(file, bad);
    writeFileSync(path.join(dir, LAYER, `9000-9100`), other.subarray(0, 50));
    const d = new SpanDiskCache(dir, 1 << 20, () => corrupt++);
    expect(await d.get(key)).toBeUndefined();
    expect(await d.get(key2)).toBeUndefined();
    expect(corrupt).toBe(2);
    expect(existsSync(file)).toBe(false);
    expect(d.files).toBe(0);
  });

  it('keeps its total under the bound by evicting the least recently used files, also after a restart', async () => {
    const dir = makeTempDir('span-cache-');
    const blobs = Array.from({ length: 6 }, () => rng.bytes(1000));
    const keys = blobs.map((b, i) => span(i * 1000, b));
    const c = new SpanDiskCache(dir, 3500);
    for (let i = 0; i < 3; i++) await c.put(keys[i]!, blobs[i]!);
    await c.get(keys[0]!); // 0 is now the most recently used: 1 goes first
    await c.put(keys[3]!, blobs[3]!);
    expect(c.bytes).toBeLessThanOrEqual(3500);
    expect(await c.get(keys[1]!)).toBeUndefined();
    expect(await c.get(keys[0]!)).toBeDefined();
    await new Promise((r) => setTimeout(r, 50));
    // after a restart the mtimes give the order: make 2 the oldest
    utimesSync(path.join(dir, LAYER, '2000-3000'), new Date(1000), new Date(1000));
    const d = new SpanDiskCache(dir, 2500);
    expect(d.bytes).toBeLessThanOrEqual(2500);
    expect(await d.get(keys[2]!)).toBeUndefined();
    expect(d.evictions).toBe(1);
    await new Promise((r) => setTimeout(r, 50));
    const onDisk = readdirSync(path.join(dir, LAYER)).length;
    expect(onDisk).toBe(d.files);
  });

  it('removes stray temp files of an interrupted write at open', async () => {
    const dir = makeTempDir('span-cache-');
    const c = new SpanDiskCache(dir, 1 << 20);
    const data = rng.bytes(10);
    await c.put(span(0, data), data);
    writeFileSync(path.join(dir, LAYER, '0-10.abcdef.tmp'), 'half');
    new SpanDiskCache(dir, 1 << 20);
    await new Promise((r) => setTimeout(r, 50));
    expect(readdirSync(path.join(dir, LAYER))).toEqual(['0-10']);
  });
});
