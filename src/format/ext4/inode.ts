// ext4 256-byte inode with i_extra_isize 32: the writer's encoder (the reader's decoder and the checksum are in inode-decode.ts).
// Layout per Linux Documentation/filesystems/ext4/inodes.rst; times carry nanoseconds and 2 epoch bits.
import { crc32cU32 } from './crc32c.js';
import { inodeChecksumAnySize } from './inode-decode.js';

/** On-disk inode size this writer uses. */
export const INODE_SIZE = 256;
/** i_extra_isize: the kernel's full extra fields (up to i_projid). */
export const INODE_EXTRA_ISIZE = 32;
/** Offset of the in-inode extended attribute area (magic), right after the extra fields. */
export const INODE_XATTR_OFFSET = 128 + INODE_EXTRA_ISIZE;

/** A timestamp as ext4 stores it: seconds (may be negative or past 2038) and nanoseconds. */
export interface InodeTime {
  sec: number;
  nsec: number;
}

/** The inode fields this writer sets. */
export interface Inode {
  mode: number;
  uid: number;
  gid: number;
  size: number;
  atime: InodeTime;
  ctime: InodeTime;
  mtime: InodeTime;
  crtime: InodeTime;
  linksCount: number;
  /** i_blocks in 512-byte units. */
  blocks512: number;
  flags: number;
  /** The 60-byte i_block area (extent root, fast symlink target or device number). */
  block: Uint8Array;
  generation: number;
  fileAcl: number;
  /** Raw in-inode xattr area (starting with the magic) placed at INODE_XATTR_OFFSET, or undefined. */
  xattrArea?: Uint8Array;
}

/** Earliest and latest second an inode with extra time fields can hold (1901-12-13 .. 2446-05-10; kernel clamps too). */
export const EXT4_TIME_MIN = -(2 ** 31);
export const EXT4_TIME_MAX = 2 ** 34 - 1 - 2 ** 31;

/** Clamps a timestamp into the range ext4 can store (like the kernel's timestamp truncation). */
export function clampInodeTime(t: InodeTime): InodeTime {
  if (t.sec < EXT4_TIME_MIN) return { sec: EXT4_TIME_MIN, nsec: 0 };
  if (t.sec > EXT4_TIME_MAX) return { sec: EXT4_TIME_MAX, nsec: 999_999_999 };
  return t;
}

function putTime(b: Buffer, secOff: number, extraOff: number, time: InodeTime): void {
  const t = clampInodeTime(time);
  const lo = t.sec | 0; // low 32 bits, signed
  b.writeInt32LE(lo, secOff);
  const epoch = Math.floor((t.sec - lo) / 2 ** 32) & 3;
  b.writeUInt32LE(((t.nsec << 2) | epoch) >>> 0, extraOff);
}

/** Encodes inode number `ino` into `out[offset .. +256]`, computing the checksum from the fs seed. */
export function encodeInode(ino: Inode, inum: number, csumSeed: number, out: Buffer, offset: number): void {
  const b = out.subarray(offset, offset + INODE_SIZE);
  b.fill(0);
  b.writeUInt16LE(ino.mode, 0x00);
  b.writeUInt16LE(ino.uid & 0xffff, 0x02);
  b.writeUInt32LE(ino.size % 2 ** 32, 0x04);
  putTime(b, 0x08, 0x8c, ino.atime);
  putTime(b, 0x0c, 0x84, ino.ctime);
  putTime(b, 0x10, 0x88, ino.mtime);
  putTime(b, 0x90, 0x94, ino.crtime);
  b.writeUInt16LE(ino.gid & 0xffff, 0x18);
  b.writeUInt16LE(ino.linksCount, 0x1a);
  b.writeUInt32LE(ino.blocks512 % 2 ** 32, 0x1c);
  b.writeUInt32LE(ino.flags, 0x20);
  b.set(ino.block.length === 60 ? ino.block : ino.block.subarray(0, 60), 0x28);
  b.writeUInt32LE(ino.generation >>> 0, 0x64);
  b.writeUInt32LE(ino.fileAcl % 2 ** 32, 0x68);
  b.writeUInt32LE(Math.floor(ino.size / 2 ** 32), 0x6c);
  b.writeUInt16LE(Math.floor(ino.blocks512 / 2 ** 32), 0x74);
  b.writeUInt16LE(Math.floor(ino.fileAcl / 2 ** 32), 0x76);
  b.writeUInt16LE(ino.uid >>> 16, 0x78);
  b.writeUInt16LE(ino.gid >>> 16, 0x7a);
  b.writeUInt16LE(INODE_EXTRA_ISIZE, 0x80);
  if (ino.xattrArea) Buffer.from(ino.xattrArea).copy(b, INODE_XATTR_OFFSET);
  const c = inodeChecksumAnySize(b, inum, csumSeed);
  b.writeUInt16LE(c & 0xffff, 0x7c);
  b.writeUInt16LE(c >>> 16, 0x82);
}

/** Per-inode checksum seed: crc32c(fs seed, le32 inode number, le32 generation); also seeds dir/extent/dx tails. */
export function inodeChecksumSeed(csumSeed: number, inum: number, generation: number): number {
  return crc32cU32(crc32cU32(csumSeed, inum), generation);
}
