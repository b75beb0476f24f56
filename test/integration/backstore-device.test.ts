// The lazy backstore over the indexed Debian OCI layout: every file equals umoci unpack, device bytes equal the materialized image at layer/span/block boundaries and in unmapped ranges, concurrency, and the persistent span cache.
import { closeSync, openSync, readdirSync, readFileSync, readSync, readlinkSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { LazyBlockDevice } from '../../src/backstore/lazy-device.js';
import { openLazyImage, type OpenLazyImageOptions } from '../../src/backstore/open-image.js';
import { openExt4, type Ext4Volume } from '../../src/ext4/reader/ext4-volume.js';
import { spanUncompressedRange } from '../../src/format/seek-index.js';
import { OciLayoutStore } from '../../src/registry/oci-layout-store.js';
import { indexedDebian, type IndexedDebian } from '../helpers/indexed-debian.js';
import { SeededRandom, PROPERTY_SEED } from '../helpers/random.js';
import { makeTempDir } from '../helpers/tmpdir.js';

let fx: IndexedDebian;
let root: string;
let work: string;
let files: string[];
let links: string[];

async function open(options: OpenLazyImageOptions): Promise<{ dev: LazyBlockDevice; vol: Ext4Volume }> {
  const store = await OciLayoutStore.open(fx.layoutDir, { create: false });
  const dev = await openLazyImage(store, 'latest', { closeStore: true, ...options });
  return { dev, vol: await openExt4(dev) };
}

function walk(dir: string, rel: string, outFiles: string[], outLinks: string[]): void {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const r = `${rel}/${e.name}`;
    if (e.isDirectory()) walk(path.join(dir, e.name), r, outFiles, outLinks);
    else if (e.isFile()) outFiles.push(r);
    else if (e.isSymbolicLink()) outLinks.push(r);
  }
}

function rawBytes(offset: number, length: number): Buffer {
  const fd = openSync(fx.rawImage, 'r');
  try {
    const b = Buffer.alloc(length);
    readSync(fd, b, 0, length, offset);
    return b;
  } finally {
    closeSync(fd);
  }
}

beforeAll(async () => {
  fx = await indexedDebian();
  root = await fx.debian.unpackedRoot();
  work = makeTempDir('turbo-backstore-');
  files = [];
  links = [];
  walk(root, '', files, links);
  files.sort();
}, 600_000);

afterAll(() => undefined);

describe('lazy backstore over an OCI layout', () => {
  it('reads every regular file and symlink exactly as umoci unpack has them', async () => {
    const { dev, vol } = await open({ cacheDir: null });
    try {
      expect(files.length).toBeGreaterThan(1000);
      let bytes = 0;
      for (const f of files) {
        const want = readFileSync(path.join(root, f));
        const got = await vol.readFile(f);
        if (!got.equals(want)) expect.fail(`${f} differs (${got.length} vs ${want.length} bytes)`);
        bytes += want.length;
      }
      for (const l of links) expect(await vol.readlink(l), l).toBe(readlinkSync(path.join(root, l)));
      expect(bytes).toBeGreaterThan(50 * 1024 * 1024);
      expect(dev.metrics.verificationFailures).toBe(0);
    } finally {
      await vol.close();
    }
  }, 300_000);

  it('device reads crossing layer, span and block boundaries, and unmapped ranges, equal the materialized image', async () => {
    const { dev, vol } = await open({ cacheDir: null });
    try {
      expect(dev.sizeBytes).toBe(statSync(fx.rawImage).size);
      const pieces = dev.map.pieces;
      const probes: [number, number, string][] = [];
      // piece boundaries where the source changes (metadata, another file, another layer) and gaps (unmapped: zeros)
      let layerSwitches = 0;
      let gaps = 0;
      let tarLayerSwitches = 0;
      for (let i = 1; i < pieces.length; i++) {
        const a = pieces[i - 1]!;
        const b = pieces[i]!;
        const aEnd = (a.sector + a.sectors) * 512;
        if (aEnd === b.sector * 512) {
          const la = a.source.kind === 'tar' ? a.source.layer : -1;
          const lb = b.source.kind === 'tar' ? b.source.layer : -1;
          const continues = a.source.kind === 'tar' && b.source.kind === 'tar' && la === lb && a.source.tarOffset + a.sectors * 512 === b.source.tarOffset;
          if (!continues && layerSwitches < 200) {
            layerSwitches++;
            probes.push([Math.max(0, aEnd - 700), 1400, 'layer switch']);
          }
        } else if (gaps < 200) {
          gaps++;
          const gap = b.sector * 512 - aEnd;
          probes.push([aEnd, Math.min(gap, 8192), 'gap start']);
          probes.push([Math.max(aEnd - 100, 0), Math.min(gap, 4096) + 200, 'into gap']);
        }
      }
      expect(layerSwitches).toBeGreaterThan(10);
      // reads from one layer's data into the next layer's data (nearest tar pieces of different layers)
      const tarPieces = pieces.filter((p) => p.source.kind === 'tar');
      for (let i = 1; i < tarPieces.length && tarLayerSwitches < 50; i++) {
        const a = tarPieces[i - 1]!;
        const b = tarPieces[i]!;
        if (a.source.kind !== 'tar' || b.source.kind !== 'tar' || a.source.layer === b.source.layer) continue;
        const from = (a.sector + a.sectors) * 512 - 700;
        const to = b.sector * 512 + 700;
        if (to - from > 4 * 1024 * 1024) continue;
        probes.push([from, to - from, 'layer crossing']);
        tarLayerSwitches++;
      }
      expect(tarLayerSwitches).toBeGreaterThan(0);
      expect(gaps).toBeGreaterThan(10);
      // uncompressed span boundaries inside tar pieces
      let spanCrossings = 0;
      for (const p of pieces) {
        if (p.source.kind !== 'tar' || spanCrossings > 300) continue;
        const src = p.source;
        const index = dev.layers[src.layer]!.index;
        for (let s = 1; s < index.points.length; s++) {
          const at = spanUncompressedRange(index, s).start;
          if (at > src.tarOffset && at < src.tarOffset + p.sectors * 512) {
            probes.push([p.sector * 512 + (at - src.tarOffset) - 333, 666, 'span boundary']);
            spanCrossings++;
          }
        }
      }
      expect(spanCrossings).toBeGreaterThan(10);
      const rng = new SeededRandom(`backstore-${PROPERTY_SEED}`);
      const lastTar = [...pieces].reverse().find((p) => p.source.kind === 'tar')!;
      const top = (lastTar.sector + lastTar.sectors) * 512;
      for (let i = 0; i < 300; i++) {
        const block = 1 + rng.int(Math.floor(top / 4096) - 1);
        probes.push([block * 4096 - 1 - rng.int(600), 2 + rng.int(9000), 'block boundary']);
      }
      probes.push([dev.sizeBytes - 8192, 8192, 'device end']);
      for (const [offset, length, what] of probes) {
        const got = await dev.read(offset, length);
        if (!got.equals(rawBytes(offset, length))) expect.fail(`${what} read at ${offset}+${length} differs from the materialized image`);
      }
      // and the whole used part of the device in odd-sized reads (each crosses blocks, pieces and layers)
      const chunk = 1024 * 1024 + 4097;
      for (let offset = 0; offset < top; offset += chunk) {
        const length = Math.min(chunk, dev.sizeBytes - offset);
        if (!(await dev.read(offset, length)).equals(rawBytes(offset, length))) expect.fail(`sweep read at ${offset}+${length} differs`);
      }
      const gapPiece = probes.find((p) => p[2] === 'gap start')!;
      expect((await dev.read(gapPiece[0], gapPiece[1])).every((b) => b === 0)).toBe(true);
      await expect(dev.read(dev.sizeBytes - 10, 20)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    } finally {
      await vol.close();
    }
  }, 300_000);

  it('32 concurrent readers get the right bytes (single-flight shares the fetches)', async () => {
    const { dev, vol } = await open({ cacheDir: null });
    try {
      const big = files.filter((f) => statSync(path.join(root, f)).size > 200_000).slice(0, 16);
      const jobs = Array.from({ length: 32 }, (_, i) => big[i % big.length]!).map(async (f) => {
        const got = await vol.readFile(f);
        expect(got.equals(readFileSync(path.join(root, f))), f).toBe(true);
      });
      await Promise.all(jobs);
      const spans = dev.layers.reduce((n, l) => n + l.index.points.length, 0);
      expect(dev.metrics.requests).toBeLessThanOrEqual(spans);
    } finally {
      await vol.close();
    }
  }, 120_000);

  it('a second run on the same cache directory fetches 0 bytes for the same reads', async () => {
    const cacheDir = path.join(work, 'restart-cache');
    const sample = files.filter((_, i) => i % 97 === 0);
    const first = await open({ cacheDir });
    for (const f of sample) await first.vol.readFile(f);
    const fetched = first.dev.metrics.bytesFetched;
    await first.vol.close();
    expect(fetched).toBeGreaterThan(0);
    const second = await open({ cacheDir });
    try {
      for (const f of sample) expect((await second.vol.readFile(f)).equals(readFileSync(path.join(root, f))), f).toBe(true);
      expect(second.dev.metrics.bytesFetched).toBe(0);
      expect(second.dev.metrics.requests).toBe(0);
      expect(second.dev.metrics.diskCacheHits).toBeGreaterThan(0);
    } finally {
      await second.vol.close();
    }
  }, 120_000);

  it('a damaged cache file is detected and fetched again', async () => {
    const cacheDir = path.join(work, 'corrupt-cache');
    const f = files.find((x) => statSync(path.join(root, x)).size > 100_000)!;
    const first = await open({ cacheDir, readaheadSpans: 0 });
    await first.vol.readFile(f);
    await first.vol.close();
    const spanFiles: string[] = [];
    for (const layer of readdirSync(cacheDir)) for (const name of readdirSync(path.join(cacheDir, layer))) spanFiles.push(path.join(cacheDir, layer, name));
    expect(spanFiles.length).toBeGreaterThan(0);
    for (const file of spanFiles) {
      const b = readFileSync(file);
      b[b.length >> 1]! ^= 0x01;
      writeFileSync(file, b);
    }
    const second = await open({ cacheDir, readaheadSpans: 0 });
    try {
      expect((await second.vol.readFile(f)).equals(readFileSync(path.join(root, f)))).toBe(true);
      expect(second.dev.metrics.diskCacheCorrupt).toBeGreaterThan(0);
      expect(second.dev.metrics.bytesFetched).toBeGreaterThan(0);
    } finally {
      await second.vol.close();
    }
  }, 120_000);

  it('the disk cache stays under its size bound (LRU eviction)', async () => {
    const cacheDir = path.join(work, 'bounded-cache');
    const bound = 3 * 1024 * 1024;
    const { dev, vol } = await open({ cacheDir, cacheMaxBytes: bound, memoryCacheBytes: 0 });
    try {
      for (const f of files.filter((_, i) => i % 13 === 0)) expect((await vol.readFile(f)).equals(readFileSync(path.join(root, f))), f).toBe(true);
      await new Promise((r) => setTimeout(r, 200)); // let background writes and removals finish
      let total = 0;
      for (const layer of readdirSync(cacheDir)) for (const name of readdirSync(path.join(cacheDir, layer))) total += statSync(path.join(cacheDir, layer, name)).size;
      expect(dev.metrics.bytesFetched).toBeGreaterThan(bound);
      expect(total).toBeLessThanOrEqual(bound);
      expect(total).toBeGreaterThan(0);
    } finally {
      await vol.close();
    }
  }, 180_000);

  it('a recorded read trace, prefetched by the next run, makes the same reads need no request', async () => {
    const trace = path.join(work, 'trace.json');
    const picks = files.filter((_, i) => i % 151 === 7);
    const first = await open({ cacheDir: null, recordTrace: trace });
    for (const f of picks) await first.vol.readFile(f);
    await first.vol.close();
    const recorded = JSON.parse(readFileSync(trace, 'utf8')) as { version: number; image: string; ranges: [number, number][] };
    expect(recorded.version).toBe(1);
    expect(recorded.image).toBe(fx.debian.manifestDigest);
    expect(recorded.ranges.length).toBeGreaterThan(0);
    const second = await open({ cacheDir: path.join(work, 'trace-cache'), prefetchTrace: trace, readaheadSpans: 0 });
    try {
      await second.dev.prefetchDone;
      const requests = second.dev.metrics.requests;
      expect(requests).toBeGreaterThan(0);
      for (const f of picks) expect((await second.vol.readFile(f)).equals(readFileSync(path.join(root, f))), f).toBe(true);
      expect(second.dev.metrics.requests).toBe(requests);
    } finally {
      await second.vol.close();
    }
  }, 120_000);
});
