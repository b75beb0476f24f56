// The ext4 writer on hand-built trees: every layer prefix is e2fsck-clean and (as root) mounts with exactly
// the expected tree; deltas stay small and later layers never disturb what they do not touch.
import { rmSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { Ext4ChainWriter } from '../../../indexer/ext4/chain-writer.js';
import { DeviceBlockMap } from '../../../src/ext4/block-map.js';
import type { DirNode, FsNode } from '../../../indexer/tree/fs-tree.js';
import type { Ext4Delta } from '../../../src/format/ext4/delta-types.js';
import { missingNeeds } from '../../helpers/capabilities.js';
import { debugfs, fsck, materialize, withMount } from '../../helpers/ext4-image.js';
import { LayerBuilder, treeEntriesOf } from '../../helpers/fs-tree-builder.js';
import { compareTrees, expectedTree } from '../../helpers/images.js';
import { makeTempDir } from '../../helpers/tmpdir.js';

const noTools = missingNeeds({ commands: ['e2fsck', 'debugfs'] });
const noRoot = missingNeeds({ root: true, commands: ['mount', 'python3'] });
const GiB = 2 ** 30;

/** Three layers exercising every node kind, xattrs, htree, hardlinks, deletions and replacements. */
function buildChain(): { roots: DirNode[]; layers: LayerBuilder[] } {
  const ids = { next: 1 };
  const l0 = new LayerBuilder(0, ids);
  const root = l0.dir();
  const etc = l0.dir();
  root.children.set('etc', etc);
  etc.children.set('hosts', l0.file(Buffer.from('127.0.0.1 localhost\n')));
  etc.children.set('hosts.hardlink', etc.children.get('hosts')!);
  root.children.set('big', l0.file(Buffer.alloc(300_001, 7)));
  root.children.set('empty', l0.file(Buffer.alloc(0)));
  const wide = l0.dir();
  root.children.set('wide', wide);
  for (let i = 0; i < 2500; i++) wide.children.set(`entry-${i}-name`, l0.file(Buffer.from(`content ${i}\n`)));
  // 8000 entries with 250-byte names need > 507 leaves: a two-level htree (dx_root → dx_node → leaves).
  const deep = l0.dir();
  for (let i = 0; i < 8000; i++) deep.children.set(`${String(i).padStart(5, '0')}-${'n'.repeat(244)}`, { ...l0.base('symlink', 0o777), kind: 'symlink', target: `t${i}` });
  root.children.set('deep-htree', deep);
  const sub = l0.dir(0o1777);
  for (let i = 0; i < 5; i++) sub.children.set(`d${i}`, l0.dir(0o700));
  root.children.set('sub', sub);
  const sym = (target: string): FsNode => ({ ...l0.base('symlink', 0o777), kind: 'symlink', target });
  root.children.set('fast-link', sym('etc/hosts'));
  root.children.set('slow-link', sym(`/${'long-component/'.repeat(10)}end`));
  root.children.set('null', { ...l0.base('char', 0o666), kind: 'char', major: 1, minor: 3 });
  root.children.set('nvme', { ...l0.base('block', 0o660), kind: 'block', major: 259, minor: 70000 });
  root.children.set('pipe', { ...l0.base('fifo', 0o644), kind: 'fifo' });
  const cap = l0.file(Buffer.from('#!/bin/true\n'), 0o4755);
  cap.uid = 100000;
  cap.gid = 200000;
  cap.xattrs.set('security.capability', Buffer.from('0100000200200000000000000000000000000000', 'hex'));
  cap.xattrs.set('user.big', Buffer.alloc(400, 1));
  root.children.set('cap', cap);
  const small = l0.file(Buffer.from('x'));
  small.xattrs.set('user.a', Buffer.from('b'));
  small.mtime = { sec: -86400 * 365, nsec: 0 };
  root.children.set('small', small);
  // Many extents: a sparse file with 12 pieces forces an extent tree block.
  root.children.set('fragmented', l0.sparse(64 * 1024 * 1024, Array.from({ length: 12 }, (_, i) => ({ offset: i * 4 * 1024 * 1024, content: Buffer.alloc(4096 + 512, i + 1) }))));
  root.children.set('sparse', l0.sparse(GiB / 4, [{ offset: 0, content: Buffer.alloc(1024, 0x41) }, { offset: 100 * 2 ** 20, content: Buffer.alloc(8192, 3) }]));
  const roots: DirNode[] = [structuredCloneTree(root)];

  // Layer 1: delete, replace, add, hardlink to a lower file, chmod a dir.
  const l1 = new LayerBuilder(1, ids);
  root.children.delete('big');
  root.children.set('small', l1.file(Buffer.from('replaced\n')));
  etc.children.set('added', l1.file(Buffer.alloc(5000, 9)));
  etc.children.set('hosts.link2', etc.children.get('hosts')!);
  etc.mode = 0o750;
  for (let i = 0; i < 500; i++) wide.children.delete(`entry-${i}-name`);
  roots.push(structuredCloneTree(root));

  // Layer 2: remove the wide directory entirely and the sparse file; add a new dir tree.
  const l2 = new LayerBuilder(2, ids);
  root.children.delete('wide');
  root.children.delete('sparse');
  const opt = l2.dir();
  opt.children.set('file', l2.file(Buffer.from('layer two\n')));
  root.children.set('opt', opt);
  roots.push(structuredCloneTree(root));
  return { roots, layers: [l0, l1, l2] };
}

/** Snapshot of a tree: containers copied, nodes shared by identity (what the writer sees after each layer). */
function structuredCloneTree(dir: DirNode, seen = new Map<number, FsNode>()): DirNode {
  const copy: DirNode = { ...dir, xattrs: new Map(dir.xattrs), children: new Map() };
  for (const [name, child] of dir.children) {
    if (child.kind === 'dir') copy.children.set(name, structuredCloneTree(child, seen));
    else {
      if (!seen.has(child.id)) seen.set(child.id, child);
      copy.children.set(name, seen.get(child.id)!);
    }
  }
  return copy;
}

describe.skipIf(noTools)('ext4 chain writer', () => {
  const dir = makeTempDir('turbo-ext4-writer-');
  const { roots, layers } = buildChain();
  const writer = new Ext4ChainWriter({ deviceBytes: 8 * GiB });
  const deltas: Ext4Delta[] = roots.map((r, i) => writer.writeLayer(r, i));
  const bytes = layers.map((l) => l.bytes());

  it('is deterministic: a second writer produces identical deltas', () => {
    const again = new Ext4ChainWriter({ deviceBytes: 8 * GiB });
    const { roots: r2 } = buildChain();
    r2.forEach((r, i) => {
      const d = again.writeLayer(r, i);
      expect([...d.metadata.keys()]).toEqual([...deltas[i]!.metadata.keys()]);
      for (const [b, buf] of d.metadata) expect(buf.equals(deltas[i]!.metadata.get(b)!)).toBe(true);
      expect(d.dataExtents).toEqual(deltas[i]!.dataExtents);
      expect(d.zeroRanges).toEqual(deltas[i]!.zeroRanges);
    });
  });

  it('keeps upper deltas small and frees deleted data', () => {
    expect(deltas[1]!.metadata.size).toBeLessThan(deltas[0]!.metadata.size);
    expect(deltas[1]!.zeroRanges.length).toBeGreaterThan(0);
    expect(deltas[2]!.dataExtents).toHaveLength(1);
  });

  it('the rest of every file block past ceil(size/512) sectors reads as zero, never the next tar header', () => {
    const map = new DeviceBlockMap(deltas[0]!.deviceBytes);
    for (const d of deltas) map.apply(d);
    let checked = 0;
    for (const d of deltas) {
      for (const e of d.dataExtents) {
        const end = (e.deviceSector + e.sectors) * 512;
        const blockEnd = Math.ceil(end / 4096) * 4096;
        if (blockEnd === end) continue;
        for (const p of map.read(end, blockEnd - end)) {
          const bytes = p.kind === 'zero' ? Buffer.alloc(p.length) : p.kind === 'bytes' ? p.data : bytes0(p.layer, p.tarOffset, p.length);
          expect(bytes.every((b) => b === 0)).toBe(true);
        }
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(100);
  });

  function bytes0(layer: number, offset: number, length: number): Buffer {
    return bytes[layer]!.subarray(offset, offset + length);
  }

  for (let k = 0; k < 3; k++) {
    it(`prefix ${k + 1}: e2fsck -fn is clean`, async () => {
      const img = path.join(dir, `prefix-${k}.img`);
      await materialize(deltas.slice(0, k + 1), (i) => layers[i]!.stream(), img);
      const r = await fsck(img);
      expect(r.output).toMatch(/Pass 5/);
      expect(r.status, r.output).toBe(0);
      const stat = await debugfs(img, 'stat /etc/hosts');
      expect(stat).toMatch(/Links: 2|Links: 3/);
      expect(await debugfs(img, 'htree /deep-htree')).toMatch(/Indirect levels: 1/);
      rmSync(img);
    });

    it.skipIf(noRoot)(`prefix ${k + 1}: mounts read-only with exactly the expected tree`, async () => {
      const img = path.join(dir, `mount-${k}.img`);
      await materialize(deltas.slice(0, k + 1), (i) => layers[i]!.stream(), img);
      const diffs = await withMount(img, async (mnt) => compareTrees(treeEntriesOf(roots[k]!, bytes), await expectedTree(mnt)));
      expect(diffs).toEqual([]);
      rmSync(img);
    });
  }
});
