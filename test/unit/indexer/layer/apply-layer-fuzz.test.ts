// Fuzz (fixed seed): arbitrary entry streams over several layers — hostile paths, symlinks, hardlinks, whiteouts —
// either apply or fail with an ImageError, and an applied tree always keeps its invariants.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isImageError } from '../../../../src/errors.js';
import { applyLayer } from '../../../../indexer/layer/apply-layer.js';
import type { TarEntry, TarEntryType } from '../../../../indexer/tar/tar-entry.js';
import type { DirNode, FsNode } from '../../../../indexer/tree/fs-tree.js';
import { FsTree, linkCounts, reachableIds } from '../../../../indexer/tree/tree-model.js';
import { PROPERTY_SEED } from '../../../helpers/random.js';

const part = fc.constantFrom('a', 'b', 'c', '.', '..', '', '.wh.a', '.wh.b', '.wh..wh..opq', '.wh..wh.x', 'é', 'x'.repeat(255));
const pathArb = fc.array(part, { minLength: 0, maxLength: 5 }).map((p) => p.join('/'));
const targetArb = fc.oneof(pathArb, pathArb.map((p) => `/${p}`), fc.constant(''));

const entryArb: fc.Arbitrary<TarEntry> = fc
  .record({
    path: fc.oneof(pathArb, pathArb.map((p) => `./${p}`), pathArb.map((p) => `/${p}`)),
    type: fc.constantFrom<TarEntryType>('file', 'file', 'dir', 'dir', 'symlink', 'hardlink', 'char', 'fifo'),
    linkname: targetArb,
    size: fc.nat({ max: 5000 }),
  })
  .map(({ path, type, linkname, size }) => ({
    headerOffset: 0,
    mainHeaderOffset: 0,
    path,
    type,
    typeflag: '0',
    linkname,
    mode: 0o644,
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
    mtime: { sec: 1, nsec: 0 },
    atime: undefined,
    ctime: undefined,
    devmajor: 1,
    devminor: 2,
    size: type === 'file' ? size : 0,
    dataOffset: 512,
    dataBytes: type === 'file' ? size : 0,
    sparse: undefined,
    xattrs: new Map(),
    endOffset: 0,
  }));

/** Structural invariants of an applied tree. */
function checkInvariants(tree: FsTree): void {
  const seenDirs = new Set<DirNode>();
  const ids = new Map<number, FsNode>();
  const visit = (dir: DirNode): void => {
    expect(seenDirs.has(dir)).toBe(false); // a tree: no directory reachable twice
    seenDirs.add(dir);
    for (const [name, child] of dir.children) {
      expect(name.length).toBeGreaterThan(0);
      expect(name.includes('/') || name === '.' || name === '..').toBe(false);
      if (name.startsWith('.wh.')) expect(child.kind).toBe('dir'); // only as an implicit parent, like umoci
      expect(Buffer.byteLength(name)).toBeLessThanOrEqual(255);
      const other = ids.get(child.id);
      expect(other === undefined || other === child).toBe(true); // ids identify nodes
      ids.set(child.id, child);
      if (child.kind === 'dir') visit(child);
      if (child.kind === 'symlink') expect(child.target.length).toBeGreaterThan(0);
    }
  };
  visit(tree.root);
  const counts = linkCounts(tree);
  expect(reachableIds(tree).size).toBe(counts.size);
  const names = new Map<number, number>();
  for (const { node } of tree.walk()) if (node.kind !== 'dir') names.set(node.id, (names.get(node.id) ?? 0) + 1);
  for (const [id, n] of names) expect(counts.get(id)).toBe(n);
}

describe('applyLayer fuzz', () => {
  it('arbitrary entries give a consistent tree or an ImageError, never another exception', async () => {
    let applied = 0;
    let rejected = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(entryArb, { maxLength: 15 }), { minLength: 1, maxLength: 3 }), async (layers) => {
        const tree = new FsTree();
        for (const [i, entries] of layers.entries()) {
          try {
            await applyLayer(tree, entries, i);
          } catch (err) {
            if (!isImageError(err)) throw err;
            expect(['CORRUPT', 'LIMIT_EXCEEDED', 'UNSUPPORTED']).toContain(err.code);
            expect(err.details.reason).toEqual(expect.any(String));
            rejected++;
            return;
          }
          checkInvariants(tree);
          applied++;
        }
      }),
      { seed: PROPERTY_SEED, numRuns: 500 },
    );
    // both outcomes are exercised
    expect(applied).toBeGreaterThan(100);
    expect(rejected).toBeGreaterThan(50);
  });
});
