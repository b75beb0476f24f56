// Maps a file's logical blocks to device blocks: extent trees of any depth (checksummed tree blocks,
// uninitialized extents) and the classic direct/indirect block map. Per Linux Documentation/filesystems/ext4/ifork.rst.
import { EXT4_EXTENT_MAGIC, EXT4_EXTENTS_FL, EXT4_MAX_EXTENT_LEN } from '../../format/ext4/constants.js';
import { crc32cRaw } from '../../format/ext4/crc32c.js';
import { decodeExtentNode } from '../../format/ext4/extent.js';
import type { LoadedInode, VolumeLayout } from './volume-layout.js';
import { corrupt } from './reader-errors.js';

/** A run of logical blocks: mapped to `physical`, or `undefined` for a hole / uninitialized extent (reads as zeros). */
export interface BlockRun {
  logical: number;
  count: number;
  physical: number | undefined;
}

/** Tree blocks whose checksum was verified (keyed by the cache's Buffer). */
const verified = new WeakSet<Buffer>();

/** Deepest extent tree the kernel builds (EXT4_MAX_EXTENT_DEPTH). */
const MAX_DEPTH = 5;

/** The runs covering logical blocks [first, first + count), in order, holes included. */
export async function mapBlocks(layout: VolumeLayout, inode: LoadedInode, first: number, count: number): Promise<BlockRun[]> {
  const found: BlockRun[] = [];
  if (inode.flags & EXT4_EXTENTS_FL) await walkExtents(layout, inode, inode.block, -1, first, first + count, found, 0);
  else await walkBlockMap(layout, inode, first, first + count, found);
  found.sort((a, b) => a.logical - b.logical);
  const out: BlockRun[] = [];
  let pos = first;
  for (const r of found) {
    const start = Math.max(r.logical, first);
    const end = Math.min(r.logical + r.count, first + count);
    if (end <= start || start < pos) {
      if (end > start && start < pos) throw corrupt('overlapping extents', { inode: inode.ino, logical: r.logical });
      continue;
    }
    if (start > pos) out.push({ logical: pos, count: start - pos, physical: undefined });
    out.push({ logical: start, count: end - start, physical: r.physical === undefined ? undefined : r.physical + (start - r.logical) });
    pos = end;
  }
  if (pos < first + count) out.push({ logical: pos, count: first + count - pos, physical: undefined });
  return out;
}

async function walkExtents(layout: VolumeLayout, inode: LoadedInode, node: Buffer, blockNo: number, lo: number, hi: number, out: BlockRun[], level: number): Promise<void> {
  const where = { inode: inode.ino, block: blockNo < 0 ? 'i_block' : blockNo };
  if (node.length < 12 || node.readUInt16LE(0) !== EXT4_EXTENT_MAGIC) throw corrupt('bad extent header magic', where);
  const { max, depth, extents, indexes } = decodeExtentNode(node);
  const entries = node.readUInt16LE(2);
  if (entries > max || 12 + 12 * max > node.length || depth > MAX_DEPTH || level > MAX_DEPTH) throw corrupt('bad extent header', { ...where, entries, max, depth });
  if (blockNo >= 0 && layout.metadataCsum && !verified.has(node)) {
    const end = 12 + 12 * max;
    if (end + 4 > node.length) throw corrupt('extent block has no room for its checksum', where);
    const computed = crc32cRaw(inode.csumSeed, node, 0, end);
    const stored = node.readUInt32LE(end);
    if (computed !== stored) throw corrupt('extent block checksum mismatch', { ...where, stored, computed });
    verified.add(node);
  }
  if (depth === 0) {
    for (const e of extents) {
      const uninit = e.length > EXT4_MAX_EXTENT_LEN;
      const len = uninit ? e.length - EXT4_MAX_EXTENT_LEN : e.length;
      if (e.fileBlock + len <= lo || e.fileBlock >= hi || len === 0) continue;
      if (!uninit) layout.cache.check(e.start, len, 'extent', { inode: inode.ino, logical: e.fileBlock });
      out.push({ logical: e.fileBlock, count: len, physical: uninit ? undefined : e.start });
    }
    return;
  }
  for (let i = 0; i < indexes.length; i++) {
    const from = indexes[i]!.fileBlock;
    const to = i + 1 < indexes.length ? indexes[i + 1]!.fileBlock : Infinity;
    if (to <= lo || from >= hi) continue;
    const child = await layout.cache.block(indexes[i]!.leaf, 'extent index', { inode: inode.ino });
    if (child.readUInt16LE(6) !== depth - 1) throw corrupt('extent tree depth mismatch', { inode: inode.ino, block: indexes[i]!.leaf });
    await walkExtents(layout, inode, child, indexes[i]!.leaf, lo, hi, out, level + 1);
  }
}

/** Classic block map: 12 direct pointers, then single, double and triple indirect blocks. */
async function walkBlockMap(layout: VolumeLayout, inode: LoadedInode, lo: number, hi: number, out: BlockRun[]): Promise<void> {
  const per = layout.blockBytes / 4;
  const push = (logical: number, phys: number): void => {
    if (phys === 0) return;
    layout.cache.check(phys, 1, 'block map', { inode: inode.ino, logical });
    const last = out[out.length - 1];
    if (last && last.physical !== undefined && last.logical + last.count === logical && last.physical + last.count === phys) last.count++;
    else out.push({ logical, count: 1, physical: phys });
  };
  for (let i = 0; i < 12 && i < hi; i++) if (i >= lo) push(i, inode.block.readUInt32LE(4 * i));
  let base = 12;
  for (let level = 1; level <= 3; level++) {
    const span = per ** level;
    const root = inode.block.readUInt32LE(4 * (11 + level));
    if (root !== 0 && base < hi && base + span > lo) await walkIndirect(layout, inode, root, level, base, lo, hi, push);
    base += span;
  }
}

async function walkIndirect(layout: VolumeLayout, inode: LoadedInode, block: number, level: number, base: number, lo: number, hi: number, push: (l: number, p: number) => void): Promise<void> {
  const per = layout.blockBytes / 4;
  const buf = await layout.cache.block(block, 'indirect block', { inode: inode.ino });
  const span = per ** (level - 1);
  for (let i = 0; i < per; i++) {
    const from = base + i * span;
    if (from >= hi) break;
    if (from + span <= lo) continue;
    const p = buf.readUInt32LE(4 * i);
    if (p === 0) continue;
    if (level === 1) push(from, p);
    else await walkIndirect(layout, inode, p, level - 1, from, lo, hi, push);
  }
}
