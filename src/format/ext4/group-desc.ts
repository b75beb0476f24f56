// ext4 32-byte block group descriptor (no 64bit feature): encoder, decoder and metadata_csum checksum.
// Layout per Linux Documentation/filesystems/ext4/group_descr.rst.
import { crc32cRaw, crc32cU32 } from './crc32c.js';

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
  out.writeUInt16LE(groupDescChecksum(out, offset, group, csumSeed), offset + 0x1e);
}

/** crc32c(seed, le32 group, descriptor with bg_checksum taken as zero) & 0xFFFF. */
export function groupDescChecksum(buf: Uint8Array, offset: number, group: number, csumSeed: number): number {
  let c = crc32cU32(csumSeed, group);
  c = crc32cRaw(c, buf, offset, offset + 0x1e);
  c = crc32cRaw(c, new Uint8Array(2));
  return c & 0xffff;
}

/** Decodes a descriptor from `buf[offset]`. */
export function decodeGroupDesc(buf: Buffer, offset: number): GroupDesc {
  return {
    blockBitmap: buf.readUInt32LE(offset),
    inodeBitmap: buf.readUInt32LE(offset + 4),
    inodeTable: buf.readUInt32LE(offset + 8),
    freeBlocks: buf.readUInt16LE(offset + 0x0c),
    freeInodes: buf.readUInt16LE(offset + 0x0e),
    usedDirs: buf.readUInt16LE(offset + 0x10),
    flags: buf.readUInt16LE(offset + 0x12),
    blockBitmapCsum: buf.readUInt16LE(offset + 0x18),
    inodeBitmapCsum: buf.readUInt16LE(offset + 0x1a),
    itableUnused: buf.readUInt16LE(offset + 0x1c),
    checksum: buf.readUInt16LE(offset + 0x1e),
  };
}

/** Bitmap checksum stored in a descriptor: crc32c(seed, bitmap bytes) (low 16 bits kept with 32-byte descriptors). */
export function bitmapChecksum(csumSeed: number, bitmap: Uint8Array, bytes: number): number {
  return crc32cRaw(csumSeed, bitmap, 0, bytes);
}
