// The backstore serving a lower prefix of an indexed image (`layers: n`, `--layers n`): byte-identical to `turbo-index ext4 materialize` of the first n layers, the tree of umoci unpack of that prefix, and INVALID_ARGUMENT outside 1..layer count.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, lstatSync, openSync, readdirSync, readFileSync, readlinkSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';

import type { LazyBlockDevice } from '../../src/backstore/lazy-device.js';
import { openLazyImage, type OpenLazyImageOptions } from '../../src/backstore/open-image.js';
import { openExt4, type Ext4Volume } from '../../src/ext4/reader/ext4-volume.js';
import { OciLayoutStore } from '../../src/registry/oci-layout-store.js';
import { forwardedImageArgs, lazyImageOptions, type ImageDeviceArgs } from '../../src/cli/commands/image-device-options.js';
import { missingNeeds } from '../helpers/capabilities.js';
import { DEBIAN_LAYER_COUNT } from '../helpers/images.js';
import { indexedDebian, type IndexedDebian } from '../helpers/indexed-debian.js';
import { materializedPrefix } from '../helpers/indexed-debian-prefix.js';
import { turboIndex } from '../helpers/turbo-index-cli.js';
import { makeTempDir } from '../helpers/tmpdir.js';
import { mountsUnder } from '../helpers/containerd.js';
import { listMountStates } from '../../src/mount/mount-state.js';

const skip = missingNeeds({ root: true, commands: ['debootstrap', 'umoci', 'skopeo'] });
const skipMount = skip || missingNeeds({ commands: ['nbdfuse', 'losetup', 'fusermount3', 'mount'], paths: ['/dev/fuse', '/dev/loop-control'] });

let fx: IndexedDebian;

async function openPrefix(layers: number | undefined, options: OpenLazyImageOptions = {}) {
  const store = await OciLayoutStore.open(fx.layoutDir, { create: false });
  try {
    return await openLazyImage(store, 'latest', { closeStore: true, cacheDir: null, ...(layers === undefined ? {} : { layers }), ...options });
  } catch (err) {
    await store.close();
    throw err;
  }
}

/** Every path under `root` (relative, leading '/'), directories included. */
function hostTree(root: string, rel = ''): string[] {
  const out: string[] = [];
  for (const e of readdirSync(path.join(root, rel), { withFileTypes: true })) {
    const r = `${rel}/${e.name}`;
    out.push(r);
    if (e.isDirectory()) out.push(...hostTree(root, r));
  }
  return out;
}

/** Every path of the ext4 volume (relative, leading '/'), without our own /lost+found. */
async function volumeTree(vol: Ext4Volume, rel = ''): Promise<string[]> {
  const out: string[] = [];
  for (const e of await vol.readdir(rel === '' ? '/' : rel)) {
    if (e.name === '.' || e.name === '..' || (rel === '' && e.name === 'lost+found')) continue;
    const r = `${rel}/${e.name}`;
    out.push(r);
    if (e.type === 'dir') out.push(...(await volumeTree(vol, r)));
  }
  return out;
}

/** sha256 over the device map's pieces (positions, sources, metadata bytes). */
function piecesDigest(dev: LazyBlockDevice): string {
  const h = createHash('sha256');
  for (const p of dev.map.pieces) {
    const { block, ...rest } = p.source as typeof p.source & { block?: Buffer };
    h.update(JSON.stringify([p.sector, p.sectors, rest]));
    if (block) h.update(block);
  }
  return h.digest('hex');
}

beforeAll(async () => {
  if (skip) return;
  fx = await indexedDebian();
}, 600_000);

describe.skipIf(skip)('lazy backstore: a lower prefix of an indexed image', () => {
  it('the first 2 layers read byte for byte as `ext4 materialize` of those layers at the same device size', async () => {
    const raw = await materializedPrefix(fx, 2);
    const dev = await openPrefix(2);
    try {
      expect(dev.sizeBytes).toBe(statSync(raw).size);
      expect(dev.layers.length).toBe(2);
      expect(dev.info.layers.map((l) => l.digest)).toEqual(fx.debian.layers.slice(0, 2).map((l) => l.digest));
      expect(dev.map.pieces.every((p) => p.source.kind !== 'tar' || p.source.layer < 2)).toBe(true);
      // The whole device in odd-sized reads (crossing blocks, pieces and both layers), against the raw image.
      const fd = openSync(raw, 'r');
      try {
        const chunk = 8 * 1024 * 1024 + 4097;
        const want = Buffer.alloc(chunk);
        let compared = 0;
        for (let offset = 0; offset < dev.sizeBytes; offset += chunk) {
          const length = Math.min(chunk, dev.sizeBytes - offset);
          const got = await dev.read(offset, length);
          const n = readSync(fd, want, 0, length, offset);
          expect(n).toBe(length);
          if (!got.equals(want.subarray(0, length))) expect.fail(`read at ${offset}+${length} differs from the materialized prefix`);
          compared += length;
        }
        expect(compared).toBe(dev.sizeBytes);
      } finally {
        closeSync(fd);
      }
      // and it differs from the whole image's raw image (the upper layers' deltas are not applied).
      const whole = openSync(fx.rawImage, 'r');
      try {
        const sb = Buffer.alloc(4096);
        readSync(whole, sb, 0, 4096, 0);
        expect((await dev.read(0, 4096)).equals(sb)).toBe(false);
      } finally {
        closeSync(whole);
      }
      expect(dev.metrics.verificationFailures).toBe(0);
    } finally {
      await dev.close();
    }
  }, 300_000);

  it('the base layer alone has the tree and the bytes of umoci unpack of that layer', async () => {
    const root = await fx.debian.unpackedRoot(1);
    const dev = await openPrefix(1);
    const vol = await openExt4(dev);
    try {
      expect(dev.info.layers.length).toBe(1);
      const want = hostTree(root).sort();
      const got = (await volumeTree(vol)).sort();
      expect(want.length).toBeGreaterThan(1000);
      expect(got).toEqual(want);
      let files = 0;
      for (const rel of want) {
        const st = lstatSync(path.join(root, rel));
        if (st.isFile()) {
          if (!(await vol.readFile(rel)).equals(readFileSync(path.join(root, rel)))) expect.fail(`${rel} differs`);
          files++;
        } else if (st.isSymbolicLink()) expect(await vol.readlink(rel), rel).toBe(readlinkSync(path.join(root, rel)));
      }
      expect(files).toBeGreaterThan(1000);
      // Nothing of the upper layers: /opt/turbo comes with layer 2.
      await expect(vol.stat('/opt/turbo')).rejects.toMatchObject({ code: 'NOT_FOUND' });
    } finally {
      await vol.close();
    }
  }, 300_000);

  it('background fetch downloads only the served layers', async () => {
    const dev = await openPrefix(2, { backgroundFetch: {} });
    try {
      await dev.backgroundFetch;
      expect(dev.metrics.layersLocal).toBe(2);
      expect(dev.metrics.bytesFetched).toBe(fx.debian.layers[0]!.size + fx.debian.layers[1]!.size);
      const vol = await openExt4(dev);
      expect((await vol.readFile('/etc/os-release')).toString()).toContain('ID=debian');
    } finally {
      await dev.close();
    }
  }, 120_000);

  it.each([0, DEBIAN_LAYER_COUNT + 1, 1.5, -1, Number.NaN])('layers: %s is INVALID_ARGUMENT naming the layer count', async (n) => {
    await expect(openPrefix(n)).rejects.toMatchObject({ code: 'INVALID_ARGUMENT', details: expect.objectContaining({ layerCount: DEBIAN_LAYER_COUNT, image: fx.debian.manifestDigest }) });
  });

  it('layers: the layer count serves the whole image (the same device as without the option)', async () => {
    const all = await openPrefix(DEBIAN_LAYER_COUNT);
    const dflt = await openPrefix(undefined);
    try {
      expect(all.layers.length).toBe(DEBIAN_LAYER_COUNT);
      expect(all.map.pieces.length).toBe(dflt.map.pieces.length);
      expect(piecesDigest(all)).toBe(piecesDigest(dflt));
    } finally {
      await all.close();
      await dflt.close();
    }
  });

  it('indexDigest: the recorded index is opened by digest with no referrers lookup; a digest that is not an index of the image fails', async () => {
    const dflt = await openPrefix(undefined);
    const expected = piecesDigest(dflt);
    const indexDigest = dflt.info.indexDigest;
    await dflt.close();
    const store = await OciLayoutStore.open(fx.layoutDir, { create: false });
    let lookups = 0;
    const listReferrers = store.listReferrers.bind(store);
    store.listReferrers = (...args) => {
      lookups++;
      return listReferrers(...args);
    };
    const byDigest = await openLazyImage(store, 'latest', { closeStore: true, cacheDir: null, indexDigest });
    try {
      expect(byDigest.info.indexDigest).toBe(indexDigest);
      expect(piecesDigest(byDigest)).toBe(expected);
      expect(lookups).toBe(0);
    } finally {
      await byDigest.close();
    }
    // The image's own manifest is no index artifact of it.
    await expect(openPrefix(undefined, { indexDigest: fx.debian.manifestDigest })).rejects.toMatchObject({ code: 'CORRUPT' });
    const bad = await turboIndex(['ls', fx.ref, '/', '--index-digest', 'sha256:xyz', '--no-disk-cache']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('INVALID_ARGUMENT');
  });

  it('CLI: --layers n reads the prefix, is forwarded to serve-nbd, and is rejected outside 1..count', async () => {
    // opt/turbo/opaque-dir/new.txt is written by layer 3.
    const file = '/opt/turbo/opaque-dir/new.txt';
    const three = await turboIndex(['cat', fx.ref, file, '--layers', '3', '--no-disk-cache']);
    expect(three.stderr).toBe('');
    expect(three.stdout).toBe(execFileSync('tar', ['-xOf', fx.debian.layers[2]!.uncompressedTarPath, file.slice(1)]).toString());
    const two = await turboIndex(['cat', fx.ref, file, '--layers', '2', '--no-disk-cache']);
    expect(two.status).toBe(3);
    expect(two.stderr).toContain('NOT_FOUND');
    const zero = await turboIndex(['ls', fx.ref, '/', '--layers', '0', '--no-disk-cache']);
    expect(zero.status).toBe(2);
    expect(zero.stderr).toContain('INVALID_ARGUMENT');
    expect(zero.stderr).toContain(`layerCount=${DEBIAN_LAYER_COUNT}`);
    const argv = { 'image-ref': fx.ref, 'disk-cache': true, 'cache-max-bytes': '1G', 'memory-cache-bytes': '1M', 'read-timeout-ms': 1000, readahead: 1, layers: 2 } as ImageDeviceArgs;
    expect(forwardedImageArgs(argv)).toContain('--layers=2');
    expect(lazyImageOptions(argv).layers).toBe(2);
  }, 120_000);

  it.skipIf(skipMount)('turbo-index mount --layers 1 mounts the base layer alone (the flag reaches the serve-nbd daemon); umount leaves nothing', async () => {
    const work = makeTempDir('turbo-backstore-prefix-');
    const dir = path.join(work, 'mnt');
    const stateDir = path.join(work, 'state');
    const root = await fx.debian.unpackedRoot(1);
    const m = await turboIndex(['mount', fx.ref, dir, '--state-dir', stateDir, '--layers', '1', '--no-disk-cache']);
    expect(m.status, m.stderr).toBe(0);
    const [state] = await listMountStates(stateDir);
    try {
      expect(readFileSync(`/proc/${state!.serverPid}/cmdline`, 'utf8').split('\0')).toContain('--layers=1');
      expect(readdirSync(dir).filter((n) => n !== 'lost+found').sort()).toEqual(readdirSync(root).sort());
      expect(readdirSync(path.join(dir, 'opt')).sort()).toEqual(readdirSync(path.join(root, 'opt')).sort());
      for (const f of ['etc/os-release', 'usr/bin/env', 'etc/motd']) expect(readFileSync(path.join(dir, f)).equals(readFileSync(path.join(root, f))), f).toBe(true);
    } finally {
      const u = await turboIndex(['umount', dir, '--state-dir', stateDir]);
      expect(u.status, u.stderr).toBe(0);
    }
    expect(mountsUnder(work)).toEqual([]);
    expect(await listMountStates(stateDir)).toEqual([]);
    expect(existsSync(`/proc/${state!.serverPid}/cmdline`) ? readFileSync(`/proc/${state!.serverPid}/cmdline`, 'utf8') : '').not.toMatch(/serve-nbd/);
  }, 120_000);
});
