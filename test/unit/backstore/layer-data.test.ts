// LayerData's partial-span path: a cold read inflates its span only up to the read's end; reads below, inside and beyond the cached prefix, across spans and concurrent ones equal the layer's tar bytes.
import { closeSync, openSync, readSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { LayerData } from '../../../src/backstore/layer-data.js';
import type { LazyBlockDevice } from '../../../src/backstore/lazy-device.js';
import { openLazyImage, type OpenLazyImageOptions } from '../../../src/backstore/open-image.js';
import { spanUncompressedRange } from '../../../src/format/seek-index.js';
import { OciLayoutStore } from '../../../src/registry/oci-layout-store.js';
import { indexedDebian, type IndexedDebian } from '../../helpers/indexed-debian.js';
import { SeededRandom } from '../../helpers/random.js';

let fx: IndexedDebian;
const opened: LazyBlockDevice[] = [];

/** The device over the fixture and its gzip layer with the most spans, plus that layer's original tar file. */
async function open(options: OpenLazyImageOptions): Promise<{ dev: LazyBlockDevice; layer: LayerData; tar: string }> {
  const store = await OciLayoutStore.open(fx.layoutDir, { create: false });
  const dev = await openLazyImage(store, 'latest', { closeStore: true, cacheDir: null, readaheadSpans: 0, ...options });
  opened.push(dev);
  let best = 0;
  dev.layers.forEach((l, i) => {
    if (!l.index.identity && l.index.points.length > dev.layers[best]!.index.points.length) best = i;
  });
  return { dev, layer: dev.layers[best]!, tar: fx.debian.layers[best]!.uncompressedTarPath };
}

function tarBytes(file: string, offset: number, length: number): Buffer {
  const fd = openSync(file, 'r');
  try {
    const b = Buffer.alloc(length);
    expect(readSync(fd, b, 0, length, offset)).toBe(length);
    return b;
  } finally {
    closeSync(fd);
  }
}

async function expectRead(layer: LayerData, tar: string, offset: number, length: number): Promise<void> {
  const got = await layer.read(offset, length);
  expect(got.length).toBe(length);
  expect(got.equals(tarBytes(tar, offset, length)), `${offset}+${length}`).toBe(true);
}

beforeAll(async () => {
  fx = await indexedDebian();
}, 600_000);

afterAll(async () => {
  for (const d of opened) await d.close();
});

describe('LayerData partial spans', () => {
  it('reads below, at the end of, and beyond a cached prefix return the tar bytes; the prefix serves what it covers', async () => {
    const { dev, layer, tar } = await open({ memoryCacheBytes: 64 * 1024 * 1024 });
    expect(layer.index.points.length).toBeGreaterThan(3);
    const s = spanUncompressedRange(layer.index, 2);
    const mid = s.start + Math.floor((s.end - s.start) / 2);
    await expectRead(layer, tar, mid - 4096, 4096); // cold: inflates [s.start, mid)
    const requests = dev.metrics.requests;
    const hits = dev.metrics.memoryCacheHits;
    await expectRead(layer, tar, s.start, 100); // below
    await expectRead(layer, tar, s.start + 12345, mid - s.start - 12345); // up to exactly the prefix end
    expect(dev.metrics.memoryCacheHits).toBe(hits + 2);
    await expectRead(layer, tar, mid - 10, 20); // crosses the prefix end: re-inflated whole from the kept compressed bytes
    expect(dev.metrics.requests).toBe(requests);
    await expectRead(layer, tar, s.end - 4096, 4096); // now whole: a hit
    expect(dev.metrics.memoryCacheHits).toBe(hits + 3);
    await expectRead(layer, tar, s.end - 500, 1000 + (spanUncompressedRange(layer.index, 3).end - s.end)); // whole span 3 after a cached span 2
    await expectRead(layer, tar, s.start, s.end - s.start); // the whole span
  }, 120_000);

  it('concurrent reads of one cold span (short and long prefixes) all get the tar bytes', async () => {
    const { dev, layer, tar } = await open({ memoryCacheBytes: 64 * 1024 * 1024 });
    const s = spanUncompressedRange(layer.index, 1);
    const rng = new SeededRandom('layer-data-concurrent');
    const reads = Array.from({ length: 12 }, () => {
      const len = 1 + rng.int(8192);
      return [s.start + rng.int(s.end - s.start - len), len] as const;
    });
    await Promise.all(reads.map(([o, l]) => expectRead(layer, tar, o, l)));
    expect(dev.metrics.requests).toBeLessThanOrEqual(2);
    for (const [o, l] of reads) await expectRead(layer, tar, o, l);
  }, 120_000);

  it('with the memory cache off every read inflates its own prefix and is exact', async () => {
    const { layer, tar } = await open({ memoryCacheBytes: 0 });
    const rng = new SeededRandom('layer-data-nocache');
    for (let k = 0; k < 20; k++) {
      const len = 1 + rng.int(3 * 4096);
      await expectRead(layer, tar, rng.int(layer.size - len), len);
    }
    const s = spanUncompressedRange(layer.index, 1);
    await Promise.all([expectRead(layer, tar, s.start, 10), expectRead(layer, tar, s.end - 10, 10), expectRead(layer, tar, s.start + 5000, 4096)]);
  }, 120_000);
});
