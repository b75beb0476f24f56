// ext4 32-byte block group descriptor (no 64bit feature): the writer's encoder (decoder and checksum: group-desc-decode.ts).
// Layout per Linux Documentation/filesystems/ext4/group_descr.rst.
import { crc32cRaw } from './crc32c.js';
import { groupDescChecksumAnySize } from './group-desc-decode.js';

/** Size of a group descriptor without the 64bit feature. */
export const GROUP_DESC_SIZE = 32;

/** One block group's descriptor. */
export interface GroupDesc {
  blockBitmap: number;
  inodeBitmap: number;
  inodeTable: number;
  freeBlocks: number;
  freeInodes: number;
  usedDirs: number;
  flags: number;
  blockBitmapCsum: number;
  inodeBitmapCsum: number;
  itableUnused: number;
  checksum: number;
}

/** Writes descriptor `d` of group `group` at `out[offset]`, computing bg_checksum from `csumSeed`. */
export function encodeGroupDesc(d: Omit<GroupDesc, 'checksum'>, group: number, csumSeed: number, out: Buffer, offset: number): void {
  out.fill(0, offset, offset + GROUP_DESC_SIZE);
  out.writeUInt32LE(d.blockBitmap, offset + 0x00);
  out.writeUInt32LE(d.inodeBitmap, offset + 0x04);
  out.writeUInt32LE(d.inodeTable, offset + 0x08);
  out.writeUInt16LE(d.freeBlocks, offset + 0x0c);
  out.writeUInt16LE(d.freeInodes, offset + 0x0e);
  out.writeUInt16LE(d.usedDirs, offset + 0x10);
  out.writeUInt16LE(d.flags, offset + 0x12);
  out.writeUInt16LE(d.blockBitmapCsum & 0xffff, offset + 0x18);
  out.writeUInt16LE(d.inodeBitmapCsum & 0xffff, offset + 0x1a);
  out.writeUInt16LE(d.itableUnused, offset + 0x1c);
  out.writeUInt16LE(groupDescChecksumAnySize(out, offset, GROUP_DESC_SIZE, group, csumSeed), offset + 0x1e);
}

/** Bitmap checksum stored in a descriptor: crc32c(seed, bitmap bytes) (low 16 bits kept with 32-byte descriptors). */
export function bitmapChecksum(csumSeed: number, bitmap: Uint8Array, bytes: number): number {
  return crc32cRaw(csumSeed, bitmap, 0, bytes);
}
