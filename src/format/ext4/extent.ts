// ext4 extent tree nodes: header, index and leaf entries, and the tail checksum of tree blocks.
// Layout per Linux Documentation/filesystems/ext4/ifork.rst ("Extent Tree").
import { crc32cRaw } from './crc32c.js';
import { EXT4_EXTENT_MAGIC } from './constants.js';

/** A leaf extent: `length` blocks from logical `fileBlock` stored at physical `start`. */
export interface Extent {
  fileBlock: number;
  length: number;
  start: number;
}

/** An index entry: the subtree covering logical blocks from `fileBlock` lives in block `leaf`. */
export interface ExtentIndex {
  fileBlock: number;
  leaf: number;
}

/** Entries that fit in the 60-byte i_block (after the 12-byte header). */
export const EXTENTS_IN_INODE = 4;

/** Entries that fit in a tree block of `blockSize` bytes, leaving room for the 4-byte tail checksum. */
export function extentsPerBlock(blockSize: number): number {
  return Math.floor((blockSize - 12) / 12);
}

function header(out: Buffer, offset: number, entries: number, max: number, depth: number): void {
  out.writeUInt16LE(EXT4_EXTENT_MAGIC, offset);
  out.writeUInt16LE(entries, offset + 2);
  out.writeUInt16LE(max, offset + 4);
  out.writeUInt16LE(depth, offset + 6);
  out.writeUInt32LE(0, offset + 8);
}

/** Writes a leaf node (header + extents) into `out` (60-byte i_block or a whole block). */
export function encodeExtentLeaf(out: Buffer, extents: Extent[], max: number): void {
  header(out, 0, extents.length, max, 0);
  extents.forEach((e, i) => {
    const o = 12 + 12 * i;
    out.writeUInt32LE(e.fileBlock, o);
    out.writeUInt16LE(e.length, o + 4);
    out.writeUInt16LE(Math.floor(e.start / 2 ** 32), o + 6);
    out.writeUInt32LE(e.start % 2 ** 32, o + 8);
  });
}

/** Writes an index node of tree depth `depth` (>= 1) into `out`. */
export function encodeExtentIndex(out: Buffer, entries: ExtentIndex[], max: number, depth: number): void {
  header(out, 0, entries.length, max, depth);
  entries.forEach((e, i) => {
    const o = 12 + 12 * i;
    out.writeUInt32LE(e.fileBlock, o);
    out.writeUInt32LE(e.leaf % 2 ** 32, o + 4);
    out.writeUInt16LE(Math.floor(e.leaf / 2 ** 32), o + 8);
    out.writeUInt16LE(0, o + 10);
  });
}

/** Stores the extent tail checksum of a tree block: crc32c(inode seed, header and eh_max entries). */
export function sealExtentBlock(block: Buffer, inodeSeed: number): void {
  const max = block.readUInt16LE(4);
  const end = 12 + 12 * max;
  block.writeUInt32LE(crc32cRaw(inodeSeed, block, 0, end), end);
}

/** Decodes a node (header and entries); `depth` 0 means leaf extents. */
export function decodeExtentNode(b: Buffer): { magic: number; max: number; depth: number; extents: Extent[]; indexes: ExtentIndex[] } {
  const entries = b.readUInt16LE(2);
  const depth = b.readUInt16LE(6);
  const extents: Extent[] = [];
  const indexes: ExtentIndex[] = [];
  for (let i = 0; i < entries; i++) {
    const o = 12 + 12 * i;
    if (depth === 0) extents.push({ fileBlock: b.readUInt32LE(o), length: b.readUInt16LE(o + 4), start: b.readUInt32LE(o + 8) + b.readUInt16LE(o + 6) * 2 ** 32 });
    else indexes.push({ fileBlock: b.readUInt32LE(o), leaf: b.readUInt32LE(o + 4) + b.readUInt16LE(o + 8) * 2 ** 32 });
  }
  return { magic: b.readUInt16LE(0), max: b.readUInt16LE(4), depth, extents, indexes };
}
