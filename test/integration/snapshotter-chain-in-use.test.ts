// Lifetime of lazy chain mounts (root): never pulled from under a mount that still uses it; mounted ahead at the lazy Prepare of an image's top layer, dropped when unused.
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseReference, referenceTarget } from '../../src/format/oci/reference.js';
import { openImageStore } from '../../src/registry/open-store.js';
import { lazyLabels, TARGET_SNAPSHOT_LABEL } from '../../src/snapshotter/lazy-layer.js';
import { resolveLazyImage, type ResolvedLazyImage } from '../../src/snapshotter/lazy-image-resolver.js';
import { OverlaySnapshotter } from '../../src/snapshotter/overlay-snapshotter.js';
import { missingNeeds } from '../helpers/capabilities.js';
import { mountsUnder } from '../helpers/containerd.js';
import { indexedDebian, type IndexedDebian } from '../helpers/indexed-debian.js';
import { withMounts } from '../helpers/snapshot-mounts.js';
import { makeTempDir } from '../helpers/tmpdir.js';
import { processesMentioning } from '../helpers/processes.js';
import { readInChild, UNCACHED_SERVE_NBD } from '../helpers/lazy-serving.js';

const skip = missingNeeds({ root: true, commands: ['debootstrap', 'umoci', 'nbdfuse', 'losetup'] });

describe.skipIf(skip)('chain mounts in use', () => {
  let fixture: IndexedDebian;
  let resolved: ResolvedLazyImage;
  let dir: string;
  let sn: OverlaySnapshotter | undefined;

  beforeAll(async () => {
    fixture = await indexedDebian();
    const ref = parseReference(fixture.ref);
    const store = await openImageStore(ref);
    try {
      resolved = await resolveLazyImage(store, ref, referenceTarget(ref));
    } finally {
      await store.close();
    }
  }, 600_000);

  afterAll(async () => {
    for (const info of (await sn?.walk()) ?? []) if (info.kind !== 'COMMITTED') await sn!.remove(info.name);
    await sn?.cleanup();
    await sn?.close();
    if (dir) expect(mountsUnder(dir)).toEqual([]);
  });

  it('Commit and Remove of a container whose overlay is still mounted keep the chain; Cleanup tears it down once unmounted', async () => {
    dir = makeTempDir('turbo-oci-chaininuse-');
    sn = new OverlaySnapshotter(path.join(dir, 'root'), { serveNbd: UNCACHED_SERVE_NBD });
    const top = resolved.entries.at(-1)!;
    await expect(sn.prepare(`extract ${top.chainId}`, '', { [TARGET_SNAPSHOT_LABEL]: top.chainId, ...lazyLabels(top.layer) })).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    const expected = execFileSync('tar', ['-xOf', fixture.debian.layers[0]!.uncompressedTarPath, 'usr/lib/os-release']);
    const chainDir = () => mountsUnder(path.join(dir, 'root', 'lazy'));

    for (const [name, end] of [
      ['commit', (s: OverlaySnapshotter) => s.commit('committed-c1', 'c1')],
      ['remove', (s: OverlaySnapshotter) => s.remove('c2')],
    ] as const) {
      const key = name === 'commit' ? 'c1' : 'c2';
      const mounts = await sn.prepare(key, top.chainId);
      await withMounts(mounts, async (root) => {
        expect((await readInChild(path.join(root, 'etc/os-release'))).equals(expected)).toBe(true);
        const before = chainDir();
        expect(before.some((m) => m.endsWith('/mnt'))).toBe(true);
        // The container's overlay still stacks on the chain: ending the snapshot's use must not unmount it.
        await end(sn!);
        expect(chainDir()).toEqual(before);
        await sn!.cleanup();
        expect(chainDir()).toEqual(before);
        expect((await readInChild(path.join(root, 'usr/lib/os-release'))).equals(expected)).toBe(true);
      });
      // Unmounted now: Cleanup tears the unused chain down.
      await sn.cleanup();
      expect(chainDir()).toEqual([]);
    }
    await sn.remove('committed-c1');
  }, 300_000);

  /** Polls `check` every 100 ms for up to 60 s; resolves to its last value. */
  async function until(check: () => boolean): Promise<boolean> {
    for (let i = 0; i < 600 && !check(); i++) await new Promise((r) => setTimeout(r, 100));
    return check();
  }

  it('the lazy Prepare of an image\'s top layer mounts its chain ahead; the first container uses it; unused, it goes after the idle time or at close', async () => {
    const root = makeTempDir('turbo-oci-mountahead-');
    const top = resolved.entries.at(-1)!;
    const base = resolved.entries[0]!;
    const options = (mountAheadIdleMs: number) => ({ serveNbd: UNCACHED_SERVE_NBD, mountAheadIdleMs });
    const lazyPrepare = (s: OverlaySnapshotter, entry: typeof top) => expect(s.prepare(`extract ${entry.chainId}`, '', { [TARGET_SNAPSHOT_LABEL]: entry.chainId, ...lazyLabels(entry.layer) })).rejects.toMatchObject({ code: 'ALREADY_EXISTS' });
    const chainMounted = (r: string) => mountsUnder(path.join(r, 'lazy')).some((m) => m.endsWith('/mnt'));
    const daemons = (r: string) => processesMentioning('serve-nbd', r);

    // Default idle time: mounted without any Mounts call, kept by Cleanup, shared by the first container, gone with it.
    const a = new OverlaySnapshotter(path.join(root, 'a'), options(60_000));
    try {
      await lazyPrepare(a, top);
      expect(await until(() => chainMounted(path.join(root, 'a')))).toBe(true);
      const daemon = daemons(path.join(root, 'a'));
      expect(daemon.length).toBe(1);
      await a.cleanup();
      expect(chainMounted(path.join(root, 'a'))).toBe(true);
      const mounts = await a.prepare('c', top.chainId);
      expect(daemons(path.join(root, 'a'))).toEqual(daemon);
      await withMounts(mounts, async (d) => expect((await readInChild(path.join(d, 'etc/os-release'))).length).toBeGreaterThan(50));
      await a.remove('c');
      expect(chainMounted(path.join(root, 'a'))).toBe(false);
      expect(daemons(path.join(root, 'a'))).toEqual([]);
      // Only the top layer's chain is mounted ahead: a lower layer's Prepare mounts nothing.
      await lazyPrepare(a, base);
      await a.cleanup();
      expect(chainMounted(path.join(root, 'a'))).toBe(false);
    } finally {
      await a.close();
    }

    // A short idle time: the unused chain goes by itself.
    const b = new OverlaySnapshotter(path.join(root, 'b'), options(300));
    try {
      await lazyPrepare(b, top);
      expect(await until(() => chainMounted(path.join(root, 'b')))).toBe(true);
      expect(await until(() => !chainMounted(path.join(root, 'b')) && daemons(path.join(root, 'b')).length === 0)).toBe(true);
    } finally {
      await b.close();
    }

    // Closing the snapshotter tears down an unused chain it mounted ahead; 0 disables mounting ahead.
    const c = new OverlaySnapshotter(path.join(root, 'c'), options(60_000));
    await lazyPrepare(c, top);
    expect(await until(() => chainMounted(path.join(root, 'c')))).toBe(true);
    await c.close();
    expect(chainMounted(path.join(root, 'c'))).toBe(false);
    expect(daemons(path.join(root, 'c'))).toEqual([]);
    const off = new OverlaySnapshotter(path.join(root, 'off'), options(0));
    try {
      await lazyPrepare(off, top);
      await new Promise((r) => setTimeout(r, 1000));
      expect(mountsUnder(path.join(root, 'off'))).toEqual([]);
    } finally {
      await off.close();
    }
    expect(mountsUnder(root)).toEqual([]);
  }, 300_000);
});
