// The ext4 reader on images of our own ext4 writer (indexer/ext4 chain writer, materialized raw image): every
// layer prefix reads back as exactly the tree the writer was given.
import path from 'node:path';
import { rmSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Ext4ChainWriter } from '../../indexer/ext4/chain-writer.js';
import type { DirNode, FsNode } from '../../indexer/tree/fs-tree.js';
import { openExt4 } from '../../src/ext4/reader/ext4-volume.js';
import { describeVolume, imageDevice } from '../helpers/ext4-reader-fixture.js';
import { materialize } from '../helpers/ext4-image.js';
import { LayerBuilder, treeEntriesOf } from '../helpers/fs-tree-builder.js';
import { compareTrees } from '../helpers/images/tree.js';
import { SeededRandom } from '../helpers/random.js';
import { makeTempDir } from '../helpers/tmpdir.js';

/** A copy of the tree's directories sharing the (immutable) leaf nodes: what the writer sees after a layer. */
function snapshot(dir: DirNode): DirNode {
  const copy: DirNode = { ...dir, xattrs: new Map(dir.xattrs), children: new Map() };
  for (const [name, child] of dir.children) copy.children.set(name, child.kind === 'dir' ? snapshot(child) : child);
  return copy;
}

describe('ext4 reader on materialized writer images', { timeout: 900_000 }, () => {
  it('reads every layer prefix as the tree given to the writer', async () => {
    const work = makeTempDir('turbo-ext4-reader-mat-');
    const rng = new SeededRandom('reader-materialized');
    const ids = { next: 1 };
    const l0 = new LayerBuilder(0, ids);
    const root = l0.dir();
    const sym = (l: LayerBuilder, target: string): FsNode => ({ ...l.base('symlink', 0o777), kind: 'symlink', target });
    const etc = l0.dir();
    root.children.set('etc', etc);
    etc.children.set('hosts', l0.file(Buffer.from('127.0.0.1 localhost\n')));
    etc.children.set('hosts.link', etc.children.get('hosts')!);
    for (const n of [0, 1, 4095, 4096, 4097, 1_000_003]) root.children.set(`f-${n}`, l0.file(rng.bytes(n)));
    const wide = l0.dir();
    root.children.set('wide', wide);
    for (let i = 0; i < 1500; i++) wide.children.set(`entry-${i}-${rng.bytes(3).toString('hex')}`, l0.file(Buffer.from(`content ${i}\n`)));
    const pieces = [0, 2 ** 32 - 512, 2 ** 32 + 512, 6 * 2 ** 30 - 1024].map((offset) => ({ offset, content: rng.bytes(1024) }));
    root.children.set('sparse', l0.sparse(6 * 2 ** 30, pieces));
    root.children.set('fragmented', l0.sparse(12 << 20, Array.from({ length: 12 }, (_, i) => ({ offset: i * (1 << 20), content: rng.bytes(4608) }))));
    for (const n of [59, 60, 61, 300]) root.children.set(`link-${n}`, sym(l0, 'x'.repeat(n)));
    root.children.set('null', { ...l0.base('char', 0o666), kind: 'char', major: 1, minor: 3 });
    root.children.set('nvme', { ...l0.base('block', 0o660), kind: 'block', major: 259, minor: 70000 });
    root.children.set('pipe', { ...l0.base('fifo', 0o644), kind: 'fifo' });
    const cap = l0.file(Buffer.from('#!/bin/true\n'), 0o4755);
    cap.uid = 4_000_000_000;
    cap.gid = 200_000;
    cap.xattrs.set('security.capability', Buffer.from('0100000200200000000000000000000000000000', 'hex'));
    cap.xattrs.set('user.big', Buffer.alloc(400, 1));
    root.children.set('cap', cap);
    // Times before 1970 and after 2038 (ext4's epoch bits in the extra time fields), with nanoseconds.
    const old = l0.file(Buffer.from('old'));
    old.mtime = { sec: -86400 * 365, nsec: 5 };
    root.children.set('old', old);
    const future = l0.file(Buffer.from('future'));
    future.mtime = { sec: 2 ** 32 + 100, nsec: 999_999_999 };
    root.children.set('future', future);
    const roots = [snapshot(root)];
    const l1 = new LayerBuilder(1, ids);
    root.children.delete('f-4096');
    root.children.set('f-1', l1.file(Buffer.from('replaced\n')));
    etc.children.set('added', l1.file(rng.bytes(5000)));
    for (let i = 0; i < 500; i++) wide.children.delete([...wide.children.keys()][0]!);
    roots.push(snapshot(root));

    const layers = [l0, l1];
    const bytes = layers.map((l) => l.bytes());
    const writer = new Ext4ChainWriter({ deviceBytes: 8 * 2 ** 30 });
    const deltas = roots.map((r, i) => writer.writeLayer(r, i));
    for (let k = 0; k < roots.length; k++) {
      const img = path.join(work, `prefix-${k}.img`);
      await materialize(deltas.slice(0, k + 1), (i) => layers[i]!.stream(), img);
      const vol = await openExt4(await imageDevice(img));
      try {
        // The 6 GiB sparse file is checked piece by piece (hashing 6 GiB twice would dominate the test).
        const skip = { ignorePaths: ['/sparse'] };
        const withoutSparse: DirNode = { ...roots[k]!, children: new Map([...roots[k]!.children].filter(([name]) => name !== 'sparse')) };
        expect(compareTrees(treeEntriesOf(withoutSparse, bytes), await describeVolume(vol, { skip: ['/sparse'] }), skip)).toEqual([]);
        expect((await vol.stat('/sparse')).size).toBe(6 * 2 ** 30);
        expect((await vol.stat('/future')).mtime).toEqual({ sec: 2 ** 32 + 100, nsec: 999_999_999 });
        expect((await vol.stat('/old')).mtime).toEqual({ sec: -86400 * 365, nsec: 5 });
        expect((await vol.stat('/cap')).uid).toBe(4_000_000_000);
        const expectedAt = (off: number, len: number): Buffer => {
          const want = Buffer.alloc(len);
          for (const p of pieces) if (p.offset < off + len && p.offset + 1024 > off) p.content.copy(want, Math.max(0, p.offset - off), Math.max(0, off - p.offset));
          return want;
        };
        for (const p of pieces) {
          const off = Math.max(0, p.offset - 700);
          const got = await vol.read('/sparse', off, 3000);
          expect(got.equals(expectedAt(off, got.length)), `piece @${p.offset}`).toBe(true);
        }
      } finally {
        await vol.close();
        rmSync(img);
      }
    }
  });
});
