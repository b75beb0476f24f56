// Decoder of ext4 htree index blocks (dx_root, dx_node) and their metadata_csum dx_tail check.
// Layout per Linux Documentation/filesystems/ext4/directory.rst ("Hash Tree Directories"), kernel 6.x namei.c.
import { crc32cRaw } from './crc32c.js';

/** A decoded dx_root or dx_node: where the entries start, their count/limit and the entries (entry 0 hash = 0). */
export interface DxBlock {
  /** dx_root only: hash version and indirect levels. */
  hashVersion: number;
  indirectLevels: number;
  countOffset: number;
  limit: number;
  count: number;
  entries: { hash: number; block: number }[];
}

function entriesAt(b: Buffer, countOffset: number): Pick<DxBlock, 'countOffset' | 'limit' | 'count' | 'entries'> {
  const limit = b.readUInt16LE(countOffset);
  const count = b.readUInt16LE(countOffset + 2);
  const entries: { hash: number; block: number }[] = [];
  if (count <= limit && countOffset + 8 * count <= b.length) {
    for (let i = 0; i < count; i++) {
      const o = countOffset + 8 * i;
      entries.push({ hash: i === 0 ? 0 : b.readUInt32LE(o), block: b.readUInt32LE(o + 4) & 0x0fffffff });
    }
  }
  return { countOffset, limit, count, entries };
}

/** Decodes a dx_root block (logical block 0): "." and ".." records, dx_root_info at 0x18, then entries. */
export function decodeDxRoot(b: Buffer): DxBlock {
  const infoLength = b.readUInt8(0x1d);
  return { hashVersion: b.readUInt8(0x1c), indirectLevels: b.readUInt8(0x1e), ...entriesAt(b, 0x18 + infoLength) };
}

/** Decodes an interior dx_node block: an empty fake dirent spanning the block, then entries at offset 8. */
export function decodeDxNode(b: Buffer): DxBlock {
  return { hashVersion: 0, indirectLevels: 0, ...entriesAt(b, 8) };
}

/** Whether a dx block's tail fits and its checksum matches: crc32c(inode seed, entries, dt_reserved, zero). */
export function dxTailValid(b: Buffer, dx: DxBlock, inodeSeed: number): boolean {
  const tail = dx.countOffset + 8 * dx.limit;
  if (tail + 8 > b.length) return false;
  let c = crc32cRaw(inodeSeed, b, 0, dx.countOffset + 8 * dx.count);
  c = crc32cRaw(c, b, tail, tail + 4);
  c = crc32cRaw(c, new Uint8Array(4));
  return c >>> 0 === b.readUInt32LE(tail + 4);
}
