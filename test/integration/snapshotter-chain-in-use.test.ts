// A lazy chain mount is never pulled from under a mount that still uses it (root): Commit or Remove of a still-mounted container leaves it for a later Cleanup.
import { execFile } from 'node:child_process';
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';
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
import { CLI_PATH } from '../helpers/turbo-index-cli.js';

const skip = missingNeeds({ root: true, commands: ['debootstrap', 'umoci', 'nbdfuse', 'losetup'] });

/** Reads a file in a child process (the lazy device is served by a separate daemon; a blocking read here is fine, but keep tests uniform). */
async function readInChild(file: string): Promise<Buffer> {
  return (await promisify(execFile)('cat', [file], { encoding: 'buffer', maxBuffer: 1 << 24 })).stdout;
}

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
    sn = new OverlaySnapshotter(path.join(dir, 'root'), { serveNbd: { command: [process.execPath, CLI_PATH], extraArgs: ['--no-disk-cache'] } });
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
});
