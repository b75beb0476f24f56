// Every tar dialect/quirk fixture through scanner → applier → ext4 writer: valid layers (alone, or on top of
// layer-base.tar for the OCI layer-semantics fixtures) give e2fsck-clean images for every prefix that, mounted as
// root, show exactly the applied tree (last prefix); rejected inputs fail with a coded ImageError and no image.
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { Ext4ChainWriter } from '../../../indexer/ext4/chain-writer.js';
import { applyLayer } from '../../../indexer/layer/apply-layer.js';
import { scanTar } from '../../../indexer/tar/scan-tar.js';
import { FsTree } from '../../../indexer/tree/tree-model.js';
import type { DirNode } from '../../../indexer/tree/fs-tree.js';
import { isImageError } from '../../../src/errors.js';
import type { Ext4Delta } from '../../../src/format/ext4/delta-types.js';
import { missingNeeds } from '../../helpers/capabilities.js';
import { fsck, materialize, withMount } from '../../helpers/ext4-image.js';
import { treeEntriesOf } from '../../helpers/fs-tree-builder.js';
import { compareTrees, expectedTree } from '../../helpers/images.js';
import { makeTempDir } from '../../helpers/tmpdir.js';

const noTools = missingNeeds({ commands: ['e2fsck'] });
const noRoot = missingNeeds({ root: true, commands: ['mount', 'python3'] });
const TAR_DIR = path.resolve(import.meta.dirname, '../../../fixtures/tar');
const LAYER_FIXTURES = new Set(readdirSync(TAR_DIR).filter((n) => n.endsWith('.tar') && /^(whiteout|opaque|dir-replaced|hardlink-|dot-slash-and|duplicate-path|implicit-parents|symlink-|hostile|long-name-|nul-in|layer-)/.test(n)));

/** Snapshot of the tree's containers (nodes shared), as the writer saw it after a layer. */
function snapshot(dir: DirNode): DirNode {
  const copy: DirNode = { ...dir, children: new Map() };
  for (const [name, child] of dir.children) copy.children.set(name, child.kind === 'dir' ? snapshot(child) : child);
  return copy;
}

describe.skipIf(noTools)('ext4 images of the tar fixtures', () => {
  const dir = makeTempDir('turbo-ext4-tarfix-');
  const names = readdirSync(TAR_DIR).filter((n) => n.endsWith('.tar') && n !== 'layer-base.tar').sort();

  it('finds the fixtures', () => {
    expect(names.length).toBeGreaterThan(20);
  });

  for (const name of names) {
    it(name, async () => {
      const chain = LAYER_FIXTURES.has(name) ? ['layer-base.tar', name] : [name];
      const tars = chain.map((n) => readFileSync(path.join(TAR_DIR, n)));
      const tree = new FsTree();
      const writer = new Ext4ChainWriter({ deviceBytes: 2 ** 30 });
      const deltas: Ext4Delta[] = [];
      const roots: DirNode[] = [];
      try {
        for (let i = 0; i < tars.length; i++) {
          await applyLayer(tree, scanTar([tars[i]!]), i);
          deltas.push(writer.writeLayer(tree.root, i));
          roots.push(snapshot(tree.root));
        }
      } catch (err) {
        // Rejected input: a coded error, never an image.
        expect(isImageError(err), String(err)).toBe(true);
        return;
      }
      for (let k = 1; k <= deltas.length; k++) {
        const image = path.join(dir, `${name}-${k}.img`);
        await materialize(deltas.slice(0, k), (i) => Readable.from([tars[i]!]), image);
        const r = await fsck(image);
        expect(r.status, r.output).toBe(0);
        if (!noRoot && k === deltas.length) {
          const diffs = await withMount(image, async (mnt) => compareTrees(treeEntriesOf(roots[k - 1]!, tars), await expectedTree(mnt)));
          expect(diffs).toEqual([]);
        }
        rmSync(image);
      }
    });
  }
});
