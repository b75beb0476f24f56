// ext4 hashed directory index (htree) nodes: dx_root, dx_node and their checksum tails (metadata_csum).
// Layout per Linux Documentation/filesystems/ext4/directory.rst ("Hash Tree Directories").
import { crc32cRaw } from './crc32c.js';
import { DX_HASH_HALF_MD4 } from './constants.js';

/** An index entry: names hashing to >= `hash` (low bit: collision continuation) live under logical `block`. */
export interface DxEntry {
  hash: number;
  block: number;
}

/** Offset of the count/limit header in a dx_root block: "." (12) + ".." header (12) + dx_root_info (8). */
export const DX_ROOT_COUNT_OFFSET = 0x20;
/** Offset of the count/limit header in a dx_node block: one empty 8-byte fake dirent. */
export const DX_NODE_COUNT_OFFSET = 8;

/** Entries a dx_root holds (one slot is given to the 8-byte dx_tail). */
export function dxRootLimit(blockSize: number): number {
  return (blockSize - DX_ROOT_COUNT_OFFSET) / 8 - 1;
}

/** Entries a dx_node holds (one slot is given to the dx_tail). */
export function dxNodeLimit(blockSize: number): number {
  return (blockSize - DX_NODE_COUNT_OFFSET) / 8 - 1;
}

function writeEntries(b: Buffer, countOffset: number, limit: number, entries: DxEntry[], inodeSeed: number): void {
  b.writeUInt16LE(limit, countOffset);
  b.writeUInt16LE(entries.length, countOffset + 2);
  entries.forEach((e, i) => {
    const o = countOffset + 8 * i;
    if (i > 0) b.writeUInt32LE(e.hash >>> 0, o);
    b.writeUInt32LE(e.block, o + 4);
  });
  const tail = countOffset + 8 * limit;
  let c = crc32cRaw(inodeSeed, b, 0, countOffset + 8 * entries.length);
  c = crc32cRaw(c, b, tail, tail + 4);
  c = crc32cRaw(c, new Uint8Array(4));
  b.writeUInt32LE(c >>> 0, tail + 4);
}

/** Encodes the dx_root block (logical block 0 of an indexed directory). */
export function encodeDxRoot(blockSize: number, selfIno: number, parentIno: number, indirectLevels: number, entries: DxEntry[], inodeSeed: number): Buffer {
  const b = Buffer.alloc(blockSize);
  b.writeUInt32LE(selfIno, 0);
  b.writeUInt16LE(12, 4);
  b.writeUInt8(1, 6);
  b.writeUInt8(2, 7);
  b.write('.', 8, 'latin1');
  b.writeUInt32LE(parentIno, 12);
  b.writeUInt16LE(blockSize - 12, 16);
  b.writeUInt8(2, 18);
  b.writeUInt8(2, 19);
  b.write('..', 20, 'latin1');
  b.writeUInt8(DX_HASH_HALF_MD4, 0x1c);
  b.writeUInt8(8, 0x1d);
  b.writeUInt8(indirectLevels, 0x1e);
  writeEntries(b, DX_ROOT_COUNT_OFFSET, dxRootLimit(blockSize), entries, inodeSeed);
  return b;
}

/** Encodes an interior dx_node block. */
export function encodeDxNode(blockSize: number, entries: DxEntry[], inodeSeed: number): Buffer {
  const b = Buffer.alloc(blockSize);
  b.writeUInt16LE(blockSize, 4);
  writeEntries(b, DX_NODE_COUNT_OFFSET, dxNodeLimit(blockSize), entries, inodeSeed);
  return b;
}
