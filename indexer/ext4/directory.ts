// Renders a directory's logical blocks: one linear leaf block when everything fits, otherwise an htree
// (dx_root, optional dx_node level, hash-ordered leaves), with metadata_csum tails everywhere.
import { ImageError } from '../../src/errors.js';
import { halfMd4Hash } from '../../src/format/ext4/dir-hash.js';
import { DIRENT_TAIL_SIZE, direntSize, encodeDirBlock, packDirEntries } from '../../src/format/ext4/dirent.js';
import type { DirEntry } from '../../src/format/ext4/dirent.js';
import { dxNodeLimit, dxRootLimit, encodeDxNode, encodeDxRoot } from '../../src/format/ext4/dx.js';
import type { DxEntry } from '../../src/format/ext4/dx.js';
import { FT_DIR } from '../../src/format/ext4/constants.js';
import { BLOCK_SIZE } from './geometry.js';

/** A rendered directory: its logical blocks in order and whether it is hash-indexed. */
export interface RenderedDirectory {
  blocks: Buffer[];
  indexed: boolean;
}

const DOT = Buffer.from('.');
const DOTDOT = Buffer.from('..');

/** Renders a directory with `entries` (excluding "." and "..") under the given inode numbers. */
export function renderDirectory(entries: DirEntry[], selfIno: number, parentIno: number, hashSeed: Uint32Array, inodeSeed: number): RenderedDirectory {
  let linearBytes = direntSize(1) + direntSize(2);
  for (const e of entries) linearBytes += direntSize(e.name.length);
  if (linearBytes <= BLOCK_SIZE - DIRENT_TAIL_SIZE) {
    const all: DirEntry[] = [{ inode: selfIno, name: DOT, fileType: FT_DIR }, { inode: parentIno, name: DOTDOT, fileType: FT_DIR }, ...entries];
    return { blocks: [encodeDirBlock(all, BLOCK_SIZE, inodeSeed)], indexed: false };
  }
  // Hash order; ties broken by minor hash then name so the layout is deterministic.
  const hashed = entries.map((e) => ({ e, h: halfMd4Hash(e.name, hashSeed, true) }));
  hashed.sort((a, b) => a.h.hash - b.h.hash || a.h.minor - b.h.minor || Buffer.compare(Buffer.from(a.e.name), Buffer.from(b.e.name)));
  const leaves = packDirEntries(
    hashed.map((x) => x.e),
    BLOCK_SIZE,
  );
  // Index entry of each leaf: hash of its first entry, low bit set when it continues a run of equal hashes.
  const leafIndex: DxEntry[] = [];
  let pos = 0;
  leaves.forEach((leaf, i) => {
    const first = hashed[pos]!.h.hash;
    const prev = pos > 0 ? hashed[pos - 1]!.h.hash : -1;
    leafIndex.push({ hash: i === 0 ? 0 : first === prev ? (first | 1) >>> 0 : first, block: 0 });
    pos += leaf.length;
  });
  const rootLimit = dxRootLimit(BLOCK_SIZE);
  const nodeLimit = dxNodeLimit(BLOCK_SIZE);
  const blocks: Buffer[] = [];
  if (leaves.length <= rootLimit) {
    leaves.forEach((_, i) => (leafIndex[i]!.block = 1 + i));
    blocks.push(encodeDxRoot(BLOCK_SIZE, selfIno, parentIno, 0, leafIndex, inodeSeed));
  } else {
    const nodes = Math.ceil(leaves.length / nodeLimit);
    if (nodes > rootLimit) {
      throw new ImageError('LIMIT_EXCEEDED', 'directory too large for a two-level htree', { details: { entries: entries.length, leaves: leaves.length } });
    }
    leaves.forEach((_, i) => (leafIndex[i]!.block = 1 + nodes + i));
    const rootEntries: DxEntry[] = [];
    const nodeBlocks: Buffer[] = [];
    for (let n = 0; n < nodes; n++) {
      const chunk = leafIndex.slice(n * nodeLimit, (n + 1) * nodeLimit);
      rootEntries.push({ hash: n === 0 ? 0 : chunk[0]!.hash, block: 1 + n });
      nodeBlocks.push(encodeDxNode(BLOCK_SIZE, chunk.map((c, i) => (i === 0 ? { hash: 0, block: c.block } : c)), inodeSeed));
    }
    blocks.push(encodeDxRoot(BLOCK_SIZE, selfIno, parentIno, 1, rootEntries, inodeSeed), ...nodeBlocks);
  }
  for (const leaf of leaves) blocks.push(encodeDirBlock(leaf, BLOCK_SIZE, inodeSeed));
  return { blocks, indexed: true };
}
