// Builds a file's extent tree: up to 4 extents in the inode, otherwise leaf blocks of 340 extents under
// index levels until the root fits in the inode's 60-byte i_block.
import { EXTENTS_IN_INODE, encodeExtentIndex, encodeExtentLeaf, extentsPerBlock, sealExtentBlock } from '../../src/format/ext4/extent.js';
import type { Extent, ExtentIndex } from '../../src/format/ext4/extent.js';
import { BLOCK_SIZE } from './geometry.js';

const PER_BLOCK = extentsPerBlock(BLOCK_SIZE);

/** Number of tree blocks (outside the inode) a file with `extents` extents needs. */
export function extentTreeBlocks(extents: number): number {
  let total = 0;
  let n = extents;
  while (n > EXTENTS_IN_INODE) {
    n = Math.ceil(n / PER_BLOCK);
    total += n;
  }
  return total;
}

/** The encoded tree: the 60-byte i_block root and the tree blocks by device block number. */
export interface EncodedExtentTree {
  iblock: Buffer;
  blocks: Map<number, Buffer>;
}

/** Encodes `extents` (sorted by fileBlock) using exactly extentTreeBlocks(extents.length) blocks from `pool`. */
export function encodeExtentTree(extents: Extent[], pool: number[], inodeSeed: number): EncodedExtentTree {
  const blocks = new Map<number, Buffer>();
  const iblock = Buffer.alloc(60);
  if (extents.length <= EXTENTS_IN_INODE) {
    encodeExtentLeaf(iblock, extents, EXTENTS_IN_INODE);
    return { iblock, blocks };
  }
  let next = 0;
  // Leaves.
  let level: ExtentIndex[] = [];
  for (let i = 0; i < extents.length; i += PER_BLOCK) {
    const chunk = extents.slice(i, i + PER_BLOCK);
    const blockNo = pool[next++]!;
    const b = Buffer.alloc(BLOCK_SIZE);
    encodeExtentLeaf(b, chunk, PER_BLOCK);
    sealExtentBlock(b, inodeSeed);
    blocks.set(blockNo, b);
    level.push({ fileBlock: chunk[0]!.fileBlock, leaf: blockNo });
  }
  let depth = 1;
  while (level.length > EXTENTS_IN_INODE) {
    const up: ExtentIndex[] = [];
    for (let i = 0; i < level.length; i += PER_BLOCK) {
      const chunk = level.slice(i, i + PER_BLOCK);
      const blockNo = pool[next++]!;
      const b = Buffer.alloc(BLOCK_SIZE);
      encodeExtentIndex(b, chunk, PER_BLOCK, depth);
      sealExtentBlock(b, inodeSeed);
      blocks.set(blockNo, b);
      up.push({ fileBlock: chunk[0]!.fileBlock, leaf: blockNo });
    }
    level = up;
    depth++;
  }
  encodeExtentIndex(iblock, level, EXTENTS_IN_INODE, depth);
  return { iblock, blocks };
}

/** Turns a logical→physical block list (logical 0..n-1) into extents merging physically contiguous runs. */
export function extentsOfBlocks(physical: number[]): Extent[] {
  const out: Extent[] = [];
  physical.forEach((p, i) => {
    const last = out[out.length - 1];
    if (last && last.start + last.length === p && last.fileBlock + last.length === i && last.length < 32768) last.length++;
    else out.push({ fileBlock: i, length: 1, start: p });
  });
  return out;
}
