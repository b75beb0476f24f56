// Decoder of ext4 block group descriptors of either size (32 bytes, or s_desc_size >= 64 with the 64bit
// feature) and their metadata_csum checksum. Layout per Linux Documentation/filesystems/ext4/group_descr.rst.
import { crc32cRaw, crc32cU32 } from './crc32c.js';

/** The descriptor fields a reader needs, widened to 64-bit block numbers. */
export interface DecodedGroupDesc {
  blockBitmap: number;
  inodeBitmap: number;
  inodeTable: number;
  flags: number;
  itableUnused: number;
  checksum: number;
}

/** Decodes the descriptor of `descSize` bytes at `buf[offset]` (hi halves only when descSize >= 64). */
export function decodeGroupDescAnySize(buf: Buffer, offset: number, descSize: number): DecodedGroupDesc {
  const wide = descSize >= 64;
  const hi32 = (at: number): number => (wide ? buf.readUInt32LE(offset + at) * 2 ** 32 : 0);
  return {
    blockBitmap: buf.readUInt32LE(offset) + hi32(0x20),
    inodeBitmap: buf.readUInt32LE(offset + 0x04) + hi32(0x24),
    inodeTable: buf.readUInt32LE(offset + 0x08) + hi32(0x28),
    flags: buf.readUInt16LE(offset + 0x12),
    itableUnused: buf.readUInt16LE(offset + 0x1c) + (wide ? buf.readUInt16LE(offset + 0x32) * 0x10000 : 0),
    checksum: buf.readUInt16LE(offset + 0x1e),
  };
}

/** metadata_csum descriptor checksum: crc32c(seed, le32 group, descriptor with bg_checksum as zero) & 0xFFFF. */
export function groupDescChecksumAnySize(buf: Buffer, offset: number, descSize: number, group: number, csumSeed: number): number {
  let c = crc32cU32(csumSeed, group);
  c = crc32cRaw(c, buf, offset, offset + 0x1e);
  c = crc32cRaw(c, new Uint8Array(2));
  if (descSize > 0x20) c = crc32cRaw(c, buf, offset + 0x20, offset + descSize);
  return c & 0xffff;
}
