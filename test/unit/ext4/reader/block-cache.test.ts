// The reader's metadata cache: repeated walks are served from memory, concurrent misses share one device read,
// and a zero-byte cache still reads correctly (every metadata block from the device).
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { openExt4 } from '../../../../src/ext4/reader/ext4-volume.js';
import { missingNeeds } from '../../../helpers/capabilities.js';
import { imageDevice, mkfsFromTree } from '../../../helpers/ext4-reader-fixture.js';
import { SeededRandom } from '../../../helpers/random.js';
import { makeTempDir } from '../../../helpers/tmpdir.js';

describe.skipIf(missingNeeds({ commands: ['mke2fs', 'e2fsck'] }))('ext4 reader metadata cache', { timeout: 600_000 }, () => {
  let image: string;
  const names: string[] = [];

  beforeAll(async () => {
    const work = makeTempDir('turbo-ext4-cache-');
    const src = path.join(work, 'src');
    mkdirSync(path.join(src, 'd'), { recursive: true });
    const rng = new SeededRandom('ext4-cache');
    for (let i = 0; i < 600; i++) {
      const name = `f${i}-${rng.bytes(4).toString('hex')}`;
      names.push(name);
      writeFileSync(path.join(src, 'd', name), rng.bytes(i));
    }
    image = path.join(work, 'img');
    await mkfsFromTree(src, image, 16);
  }, 600_000);

  it('serves a second walk from memory and shares concurrent misses', async () => {
    const dev = await imageDevice(image);
    const vol = await openExt4(dev);
    const first = await Promise.all(names.map((n) => vol.lstat(`/d/${n}`)));
    const readsAfterFirst = dev.reads;
    const second = await Promise.all(names.map((n) => vol.lstat(`/d/${n}`)));
    expect(second).toEqual(first);
    expect(dev.reads).toBe(readsAfterFirst);
    expect(vol.cacheStats.hits).toBeGreaterThan(vol.cacheStats.misses);
    // Concurrent cold lookups read each metadata block once: no more device reads than a sequential cold walk.
    const seqDev = await imageDevice(image);
    const seq = await openExt4(seqDev);
    for (const n of names) await seq.lstat(`/d/${n}`);
    expect(readsAfterFirst).toBeLessThanOrEqual(seqDev.reads);
    await vol.close();
    await seq.close();
  });

  it('reads correctly with caching disabled', async () => {
    const cached = await openExt4(await imageDevice(image));
    const dev = await imageDevice(image);
    const uncached = await openExt4(dev, { cacheBytes: 0 });
    for (const n of names.slice(0, 50)) {
      expect(await uncached.lstat(`/d/${n}`)).toEqual(await cached.lstat(`/d/${n}`));
      expect(await uncached.readFile(`/d/${n}`)).toEqual(await cached.readFile(`/d/${n}`));
    }
    expect(uncached.cacheStats.hits).toBe(0);
    expect((await uncached.readdir('/d')).length).toBe(600);
    expect(uncached.cacheStats.bytes).toBe(0);
    await cached.close();
    await uncached.close();
  });

  it('keeps the cache within its byte bound', async () => {
    const vol = await openExt4(await imageDevice(image), { cacheBytes: 3 * 4096 });
    for (const n of names) await vol.lstat(`/d/${n}`);
    expect(vol.cacheStats.bytes).toBeGreaterThan(0);
    expect(vol.cacheStats.bytes).toBeLessThanOrEqual(3 * 4096);
    expect((await vol.readdir('/d')).length).toBe(600);
    await vol.close();
  });
});
