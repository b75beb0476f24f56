// Remote-snapshotter discovery of indexed layers on Prepare (pinned labels, catalog by chain ID, else ordinary unpack) without mounting anything.
import { createHash } from 'node:crypto';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ImageError } from '../../../src/errors.js';
import { lazyLabels, TARGET_SNAPSHOT_LABEL, type LazyLayer } from '../../../src/snapshotter/lazy-layer.js';
import { OverlaySnapshotter } from '../../../src/snapshotter/overlay-snapshotter.js';
import { makeTempDir } from '../../helpers/tmpdir.js';

const sha = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'resolved';
  } catch (err) {
    return err instanceof ImageError ? err.code : String(err);
  }
}

describe('lazy layers on Prepare', () => {
  const base: LazyLayer = { imageRef: '127.0.0.1:1/x@' + sha('m'), indexDigest: sha('i'), layerIndex: 0, layerCount: 2 };
  const top: LazyLayer = { ...base, layerIndex: 1 };
  const chain0 = sha('c0');
  const chain1 = sha('c1');

  it('a chain ID in the catalog becomes a committed lazy snapshot and Prepare answers ALREADY_EXISTS', async () => {
    const sn = new OverlaySnapshotter(path.join(makeTempDir(), 'root'));
    try {
      sn.catalog.record([{ chainId: chain0, layer: base }, { chainId: chain1, layer: top }]);
      // containerd's metadata layer names the target `<namespace>/<id>/<chain id>`.
      const target0 = `default/3/${chain0}`;
      expect(await codeOf(sn.prepare(`default/2/extract-1 ${chain0}`, '', { [TARGET_SNAPSHOT_LABEL]: target0, keep: 'me' }))).toBe('ALREADY_EXISTS');
      const info0 = await sn.stat(target0);
      expect(info0.kind).toBe('COMMITTED');
      expect(info0.labels).toEqual({ [TARGET_SNAPSHOT_LABEL]: target0, keep: 'me', ...lazyLabels(base) });
      expect(await codeOf(sn.prepare(`default/4/extract-2 ${chain1}`, target0, { [TARGET_SNAPSHOT_LABEL]: chain1 }))).toBe('ALREADY_EXISTS');
      expect((await sn.stat(chain1)).parent).toBe(target0);
      // Asking again for an existing target is ALREADY_EXISTS too, and nothing active was left behind.
      expect(await codeOf(sn.prepare('again', target0, { [TARGET_SNAPSHOT_LABEL]: chain1 }))).toBe('ALREADY_EXISTS');
      expect((await sn.walk()).map((i) => [i.name, i.kind])).toEqual([[target0, 'COMMITTED'], [chain1, 'COMMITTED']]);
      // Without a launcher, mounting a container on top fails clearly and leaves no active snapshot behind.
      await expect(sn.prepare('ctr', chain1)).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
      // A chain below the top of its image (a shared base) needs the launcher too (serve-nbd --layers 1).
      await expect(sn.view('v0', target0)).rejects.toMatchObject({ code: 'FAILED_PRECONDITION' });
      expect((await sn.walk()).map((i) => i.name)).toEqual([target0, chain1]);
      await sn.remove(chain1);
      await sn.remove(target0);
      expect(await sn.walk()).toEqual([]);
    } finally {
      await sn.close();
    }
  });

  it('pinned labels take precedence over the catalog; unknown chain IDs and prepares without a target unpack as before', async () => {
    const sn = new OverlaySnapshotter(path.join(makeTempDir(), 'root'));
    try {
      sn.catalog.record([{ chainId: chain0, layer: base }]);
      const pinned: LazyLayer = { imageRef: 'reg/pinned@' + sha('p'), indexDigest: sha('pi'), layerIndex: 0, layerCount: 1 };
      expect(await codeOf(sn.prepare(`extract-1 ${chain0}`, '', { [TARGET_SNAPSHOT_LABEL]: chain0, ...lazyLabels(pinned) }))).toBe('ALREADY_EXISTS');
      expect((await sn.stat(chain0)).labels).toEqual({ [TARGET_SNAPSHOT_LABEL]: chain0, ...lazyLabels(pinned) });
      // containerd's metadata layer looks the new snapshot up by its target label.
      expect((await sn.walk([`labels."${TARGET_SNAPSHOT_LABEL}"==${chain0}`])).map((i) => i.name)).toEqual([chain0]);
      const other = sha('other');
      const mounts = await sn.prepare(`extract-2 ${other}`, '', { [TARGET_SNAPSHOT_LABEL]: other });
      expect(mounts[0]!.type).toBe('bind');
      expect((await sn.stat(`extract-2 ${other}`)).kind).toBe('ACTIVE');
      expect((await sn.prepare(`extract-3 ${chain0}x`, '')).length).toBe(1);
    } finally {
      await sn.close();
    }
  });
});
