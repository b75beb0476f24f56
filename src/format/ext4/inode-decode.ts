// Decoder of an ext4 on-disk inode of any inode size (128..blocksize) and any i_extra_isize, with its checksum.
// Layout per Linux Documentation/filesystems/ext4/inodes.rst (kernel 6.x) and e2fsprogs 1.47 ext2_fs.h.
import { crc32cRaw, crc32cU32 } from './crc32c.js';
import { EXT4_GOOD_OLD_INODE_SIZE } from './constants.js';

/** i_flags bit: i_blocks counts filesystem blocks instead of 512-byte sectors (huge_file). */
export const EXT4_HUGE_FILE_FL = 0x40000;
/** i_flags bit: the inode holds a large xattr value (ea_inode). */
export const EXT4_EA_INODE_FL = 0x200000;
/** i_flags bit: the file's data is inline in the inode (inline_data). */
export const EXT4_INLINE_DATA_FL = 0x10000000;

/** A timestamp: seconds since the epoch (beyond 2038 with the epoch bits) and nanoseconds. */
export interface DecodedTime {
  sec: number;
  nsec: number;
}

/** Every field of an inode that a reader needs, fully widened (32-bit ids, 64-bit sizes). */
export interface DecodedInode {
  mode: number;
  uid: number;
  gid: number;
  size: number;
  atime: DecodedTime;
  ctime: DecodedTime;
  mtime: DecodedTime;
  /** Creation time, or undefined when i_extra_isize does not reach i_crtime. */
  crtime: DecodedTime | undefined;
  dtime: number;
  linksCount: number;
  /** Raw i_blocks (lo + hi): units depend on huge_file and EXT4_HUGE_FILE_FL, see `blocks512`. */
  blocksRaw: number;
  flags: number;
  /** The 60-byte i_block area (extent root, block map, fast symlink target or device number). */
  block: Buffer;
  generation: number;
  fileAcl: number;
  extraIsize: number;
  /** Stored checksum (lo | hi << 16; hi only when i_extra_isize covers it). */
  storedChecksum: number;
  /** Whether the stored checksum is 32-bit (i_checksum_hi present) or 16-bit. */
  checksumBits: 16 | 32;
}

function time(b: Buffer, secOff: number, extraOff: number, extraIsize: number): DecodedTime {
  const lo = b.readInt32LE(secOff);
  if (b.length <= EXT4_GOOD_OLD_INODE_SIZE || extraOff + 4 > EXT4_GOOD_OLD_INODE_SIZE + extraIsize) return { sec: lo, nsec: 0 };
  const extra = b.readUInt32LE(extraOff);
  return { sec: lo + (extra & 3) * 2 ** 32, nsec: extra >>> 2 };
}

/** Decodes an inode from its `raw` slot (inode_size bytes); fields past i_extra_isize read as absent or zero. */
export function decodeInodeRaw(raw: Buffer): DecodedInode {
  const b = raw;
  const big = b.length > EXT4_GOOD_OLD_INODE_SIZE;
  const extraIsize = big ? b.readUInt16LE(0x80) : 0;
  const hasHi = big && extraIsize >= 4;
  const hasCr = big && extraIsize >= 0x18;
  return {
    mode: b.readUInt16LE(0x00),
    uid: b.readUInt16LE(0x02) + b.readUInt16LE(0x78) * 0x10000,
    gid: b.readUInt16LE(0x18) + b.readUInt16LE(0x7a) * 0x10000,
    size: b.readUInt32LE(0x04) + b.readUInt32LE(0x6c) * 2 ** 32,
    atime: time(b, 0x08, 0x8c, extraIsize),
    ctime: time(b, 0x0c, 0x84, extraIsize),
    mtime: time(b, 0x10, 0x88, extraIsize),
    crtime: hasCr ? time(b, 0x90, 0x94, extraIsize) : undefined,
    dtime: b.readUInt32LE(0x14),
    linksCount: b.readUInt16LE(0x1a),
    blocksRaw: b.readUInt32LE(0x1c) + b.readUInt16LE(0x74) * 2 ** 32,
    flags: b.readUInt32LE(0x20),
    block: Buffer.from(b.subarray(0x28, 0x64)),
    generation: b.readUInt32LE(0x64),
    fileAcl: b.readUInt32LE(0x68) + b.readUInt16LE(0x76) * 2 ** 32,
    extraIsize,
    storedChecksum: hasHi ? (b.readUInt16LE(0x7c) | (b.readUInt16LE(0x82) << 16)) >>> 0 : b.readUInt16LE(0x7c),
    checksumBits: hasHi ? 32 : 16,
  };
}

/** i_blocks in 512-byte units: with huge_file and EXT4_HUGE_FILE_FL the raw count is in filesystem blocks. */
export function inodeBlocks512(ino: DecodedInode, hugeFile: boolean, blockBytes: number): number {
  if (!hugeFile) return ino.blocksRaw % 2 ** 32;
  return ino.flags & EXT4_HUGE_FILE_FL ? ino.blocksRaw * (blockBytes / 512) : ino.blocksRaw;
}

/**
 * metadata_csum inode checksum of any inode size: crc32c(fs seed, le32 ino, le32 generation, the inode with
 * i_checksum_lo and (when present) i_checksum_hi taken as zero), truncated to 16 bits without i_checksum_hi.
 */
export function inodeChecksumAnySize(raw: Buffer, inum: number, csumSeed: number): number {
  const gen = raw.readUInt32LE(0x64);
  const zero = new Uint8Array(2);
  let c = crc32cU32(crc32cU32(csumSeed, inum), gen);
  c = crc32cRaw(c, raw, 0, 0x7c);
  c = crc32cRaw(c, zero);
  c = crc32cRaw(c, raw, 0x7e, EXT4_GOOD_OLD_INODE_SIZE);
  if (raw.length > EXT4_GOOD_OLD_INODE_SIZE) {
    c = crc32cRaw(c, raw, EXT4_GOOD_OLD_INODE_SIZE, 0x82);
    let rest = 0x82;
    if (raw.readUInt16LE(0x80) >= 4) {
      c = crc32cRaw(c, zero);
      rest = 0x84;
    }
    c = crc32cRaw(c, raw, rest, raw.length);
  }
  return raw.length > EXT4_GOOD_OLD_INODE_SIZE && raw.readUInt16LE(0x80) >= 4 ? c >>> 0 : c & 0xffff;
}

/** Device number of a char/block special inode: old (i_block[0] major:8|minor:8) or new (i_block[1]) encoding. */
export function inodeDevice(block: Buffer): { major: number; minor: number } {
  const old = block.readUInt32LE(0);
  if (old !== 0) return { major: (old >>> 8) & 0xff, minor: old & 0xff };
  const dev = block.readUInt32LE(4);
  return { major: (dev & 0xfff00) >>> 8, minor: (dev & 0xff) | ((dev >>> 12) & 0xfff00) };
}
