// Property test (fast-check, fixed seed): random two-layer trees (every node kind, odd names, xattrs inline and in
// blocks, hardlinks, sparse files, deletions) → deltas → image: every prefix is e2fsck-clean and, as root, mounts
// with exactly the generated tree.
import { rmSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { Ext4ChainWriter } from '../../../indexer/ext4/chain-writer.js';
import type { DirNode, FileNode, FsNode } from '../../../indexer/tree/fs-tree.js';
import { missingNeeds } from '../../helpers/capabilities.js';
import { fsck, materialize, withMount } from '../../helpers/ext4-image.js';
import { LayerBuilder, treeEntriesOf } from '../../helpers/fs-tree-builder.js';
import { compareTrees, expectedTree } from '../../helpers/images.js';
import { PROPERTY_SEED, SeededRandom } from '../../helpers/random.js';
import { makeTempDir } from '../../helpers/tmpdir.js';

const noTools = missingNeeds({ commands: ['e2fsck'] });
const noRoot = missingNeeds({ root: true, commands: ['mount', 'python3'] });

const NAME_CHARS = 'abcXYZ019._- éü☃';

function randomName(rnd: SeededRandom, taken: Map<string, unknown>): string {
  for (;;) {
    const len = rnd.int(10) === 0 ? 200 + rnd.int(56) : 1 + rnd.int(12);
    let n = '';
    while (Buffer.byteLength(n) < len) n += NAME_CHARS[rnd.int(NAME_CHARS.length)];
    while (Buffer.byteLength(n) > 255) n = n.slice(0, -1);
    if (n !== '.' && n !== '..' && n !== 'lost+found' && !taken.has(n)) return n;
  }
}

function populate(rnd: SeededRandom, l: LayerBuilder, dirs: DirNode[], files: FileNode[], count: number): void {
  for (let i = 0; i < count; i++) {
    const parent = dirs[rnd.int(dirs.length)]!;
    const name = randomName(rnd, parent.children);
    const pick = rnd.int(12);
    let node: FsNode;
    if (pick < 4) {
      const size = [0, 1, 511, 512, 4096, 4097, 70_000][rnd.int(7)]!;
      node = rnd.int(6) === 0 ? l.sparse(8 * 1024 * 1024 + rnd.int(4096), [{ offset: 4096 * rnd.int(100), content: rnd.bytes(1024) }, { offset: 4 * 1024 * 1024, content: rnd.bytes(4096 + rnd.int(300)) }]) : l.file(rnd.bytes(size), [0o644, 0o755, 0o4755, 0o600][rnd.int(4)]);
      files.push(node);
    } else if (pick < 6) {
      const d = l.dir([0o755, 0o700, 0o1777, 0o2755][rnd.int(4)]);
      dirs.push(d);
      node = d;
    } else if (pick < 8) node = { ...l.base('symlink', 0o777), kind: 'symlink', target: rnd.int(2) ? `t/${rnd.int(1000)}` : `/${'p'.repeat(60 + rnd.int(400))}` };
    else if (pick === 8) node = { ...l.base(rnd.int(2) ? 'char' : 'block', 0o640), kind: rnd.int(2) ? 'char' : 'block', major: rnd.int(2) ? rnd.int(256) : 256 + rnd.int(3000), minor: rnd.int(2) ? rnd.int(256) : rnd.int(1 << 20) } as FsNode;
    else if (pick === 9) node = { ...l.base('fifo', 0o644), kind: 'fifo' };
    else if (files.length > 0) node = files[rnd.int(files.length)]!; // hardlink
    else continue;
    if (node.kind !== 'file' || !files.includes(node) || node.layer === l.layer) {
      node.uid = rnd.int(3) === 0 ? rnd.int(2 ** 31) : rnd.int(1000);
      node.gid = rnd.int(3) === 0 ? rnd.int(2 ** 31) : rnd.int(1000);
      node.mtime = { sec: rnd.int(2 ** 33) - 2 ** 31, nsec: rnd.int(1e9) };
      const attrs = rnd.int(4);
      for (let a = 0; a < attrs; a++) node.xattrs.set(`user.k${a}`, rnd.bytes(rnd.int(3) === 0 ? 300 + rnd.int(900) : rnd.int(20)));
      if (rnd.int(5) === 0) node.xattrs.set('security.capability', Buffer.from('0100000200200000000000000000000000000000', 'hex'));
    }
    parent.children.set(name, node);
  }
}

function snapshot(dir: DirNode): DirNode {
  const copy: DirNode = { ...dir, children: new Map() };
  for (const [name, child] of dir.children) copy.children.set(name, child.kind === 'dir' ? snapshot(child) : child);
  return copy;
}

describe.skipIf(noTools)('ext4 writer property', () => {
  const dir = makeTempDir('turbo-ext4-prop-');

  it('random trees and mutations give clean, faithful images', async () => {
    await fc.assert(
      fc.asyncProperty(fc.integer({ min: 0, max: 2 ** 30 }), async (seed) => {
        const rnd = new SeededRandom(`ext4-prop-${seed}`);
        const ids = { next: 1 };
        const l0 = new LayerBuilder(0, ids);
        const root = l0.dir();
        const dirs: DirNode[] = [root];
        const files: FileNode[] = [];
        populate(rnd, l0, dirs, files, 20 + rnd.int(120));
        const roots = [snapshot(root)];
        const writer = new Ext4ChainWriter({ deviceBytes: 2 ** 30 });
        const deltas = [writer.writeLayer(roots[0]!, 0)];
        // Layer 1: delete some entries, chmod some dirs, add more.
        const l1 = new LayerBuilder(1, ids);
        for (const d of dirs) {
          for (const name of [...d.children.keys()]) if (rnd.int(6) === 0) d.children.delete(name);
          if (rnd.int(4) === 0) d.mode = 0o750;
        }
        populate(rnd, l1, dirs, files, 10 + rnd.int(60));
        roots.push(snapshot(root));
        deltas.push(writer.writeLayer(roots[1]!, 1));
        const layers = [l0, l1];
        const bytes = layers.map((l) => l.bytes());
        for (let k = 1; k <= 2; k++) {
          const image = path.join(dir, `prop-${seed}-${k}.img`);
          await materialize(deltas.slice(0, k), (i) => layers[i]!.stream(), image);
          const r = await fsck(image);
          expect(r.status, r.output).toBe(0);
          if (!noRoot) {
            const diffs = await withMount(image, async (mnt) => compareTrees(treeEntriesOf(roots[k - 1]!, bytes), await expectedTree(mnt)));
            expect(diffs).toEqual([]);
          }
          rmSync(image);
        }
      }),
      { seed: PROPERTY_SEED, numRuns: 4 },
    );
  }, 600_000);
});
