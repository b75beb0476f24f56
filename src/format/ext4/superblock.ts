// ext4 superblock (1024 bytes at device offset 1024 and in backup groups): encoder and decoder.
// Field offsets per Linux Documentation/filesystems/ext4/super.rst (kernel 6.x) and e2fsprogs 1.47 ext2_fs.h.
import { crc32cRaw } from './crc32c.js';
import { EXT4_SUPER_MAGIC, SUPERBLOCK_SIZE } from './constants.js';

/** The superblock fields this writer sets; everything else is zero. */
export interface Superblock {
  inodesCount: number;
  blocksCount: number;
  freeBlocksCount: number;
  freeInodesCount: number;
  logBlockSize: number;
  blocksPerGroup: number;
  inodesPerGroup: number;
  mtime: number;
  wtime: number;
  maxMountCount: number;
  state: number;
  errors: number;
  lastCheck: number;
  revLevel: number;
  firstIno: number;
  inodeSize: number;
  blockGroupNr: number;
  featureCompat: number;
  featureIncompat: number;
  featureRoCompat: number;
  uuid: Uint8Array;
  volumeName: string;
  hashSeed: Uint32Array;
  defHashVersion: number;
  descSize: number;
  defaultMountOpts: number;
  mkfsTime: number;
  minExtraIsize: number;
  wantExtraIsize: number;
  flags: number;
  logGroupsPerFlex: number;
  checksumType: number;
  checksum: number;
}

/** Encodes `sb` into 1024 bytes and stores its crc32c checksum (metadata_csum). */
export function encodeSuperblock(sb: Omit<Superblock, 'checksum'>): Buffer {
  const b = Buffer.alloc(SUPERBLOCK_SIZE);
  b.writeUInt32LE(sb.inodesCount, 0x00);
  b.writeUInt32LE(sb.blocksCount % 2 ** 32, 0x04);
  b.writeUInt32LE(sb.freeBlocksCount % 2 ** 32, 0x0c);
  b.writeUInt32LE(sb.freeInodesCount, 0x10);
  b.writeUInt32LE(0, 0x14); // s_first_data_block: 0 for block sizes > 1 KiB
  b.writeUInt32LE(sb.logBlockSize, 0x18);
  b.writeUInt32LE(sb.logBlockSize, 0x1c); // s_log_cluster_size (no bigalloc)
  b.writeUInt32LE(sb.blocksPerGroup, 0x20);
  b.writeUInt32LE(sb.blocksPerGroup, 0x24);
  b.writeUInt32LE(sb.inodesPerGroup, 0x28);
  b.writeUInt32LE(sb.mtime >>> 0, 0x2c);
  b.writeUInt32LE(sb.wtime >>> 0, 0x30);
  b.writeUInt16LE(sb.maxMountCount & 0xffff, 0x36);
  b.writeUInt16LE(EXT4_SUPER_MAGIC, 0x38);
  b.writeUInt16LE(sb.state, 0x3a);
  b.writeUInt16LE(sb.errors, 0x3c);
  b.writeUInt32LE(sb.lastCheck >>> 0, 0x40);
  b.writeUInt32LE(sb.revLevel, 0x4c);
  b.writeUInt32LE(sb.firstIno, 0x54);
  b.writeUInt16LE(sb.inodeSize, 0x58);
  b.writeUInt16LE(sb.blockGroupNr, 0x5a);
  b.writeUInt32LE(sb.featureCompat, 0x5c);
  b.writeUInt32LE(sb.featureIncompat, 0x60);
  b.writeUInt32LE(sb.featureRoCompat, 0x64);
  Buffer.from(sb.uuid).copy(b, 0x68, 0, 16);
  Buffer.from(sb.volumeName, 'utf8').subarray(0, 16).copy(b, 0x78);
  for (let i = 0; i < 4; i++) b.writeUInt32LE(sb.hashSeed[i]!, 0xec + 4 * i);
  b.writeUInt8(sb.defHashVersion, 0xfc);
  b.writeUInt16LE(sb.descSize, 0xfe);
  b.writeUInt32LE(sb.defaultMountOpts, 0x100);
  b.writeUInt32LE(sb.mkfsTime >>> 0, 0x108);
  b.writeUInt32LE(Math.floor(sb.blocksCount / 2 ** 32), 0x150);
  b.writeUInt32LE(Math.floor(sb.freeBlocksCount / 2 ** 32), 0x158);
  b.writeUInt16LE(sb.minExtraIsize, 0x15c);
  b.writeUInt16LE(sb.wantExtraIsize, 0x15e);
  b.writeUInt32LE(sb.flags, 0x160);
  b.writeUInt8(sb.logGroupsPerFlex, 0x174);
  b.writeUInt8(sb.checksumType, 0x175);
  b.writeUInt32LE(crc32cRaw(0xffffffff, b, 0, 0x3fc), 0x3fc);
  return b;
}

/** Decodes the fields of `Superblock` from 1024 bytes (no validation beyond the magic). */
export function decodeSuperblock(b: Uint8Array): Superblock & { magic: number; computedChecksum: number } {
  const v = Buffer.from(b.buffer, b.byteOffset, SUPERBLOCK_SIZE);
  const hashSeed = new Uint32Array(4);
  for (let i = 0; i < 4; i++) hashSeed[i] = v.readUInt32LE(0xec + 4 * i);
  const name = v.subarray(0x78, 0x88);
  const nul = name.indexOf(0);
  return {
    magic: v.readUInt16LE(0x38),
    inodesCount: v.readUInt32LE(0x00),
    blocksCount: v.readUInt32LE(0x04) + v.readUInt32LE(0x150) * 2 ** 32,
    freeBlocksCount: v.readUInt32LE(0x0c) + v.readUInt32LE(0x158) * 2 ** 32,
    freeInodesCount: v.readUInt32LE(0x10),
    logBlockSize: v.readUInt32LE(0x18),
    blocksPerGroup: v.readUInt32LE(0x20),
    inodesPerGroup: v.readUInt32LE(0x28),
    mtime: v.readUInt32LE(0x2c),
    wtime: v.readUInt32LE(0x30),
    maxMountCount: v.readInt16LE(0x36),
    state: v.readUInt16LE(0x3a),
    errors: v.readUInt16LE(0x3c),
    lastCheck: v.readUInt32LE(0x40),
    revLevel: v.readUInt32LE(0x4c),
    firstIno: v.readUInt32LE(0x54),
    inodeSize: v.readUInt16LE(0x58),
    blockGroupNr: v.readUInt16LE(0x5a),
    featureCompat: v.readUInt32LE(0x5c),
    featureIncompat: v.readUInt32LE(0x60),
    featureRoCompat: v.readUInt32LE(0x64),
    uuid: Uint8Array.from(v.subarray(0x68, 0x78)),
    volumeName: name.subarray(0, nul < 0 ? 16 : nul).toString('utf8'),
    hashSeed,
    defHashVersion: v.readUInt8(0xfc),
    descSize: v.readUInt16LE(0xfe),
    defaultMountOpts: v.readUInt32LE(0x100),
    mkfsTime: v.readUInt32LE(0x108),
    minExtraIsize: v.readUInt16LE(0x15c),
    wantExtraIsize: v.readUInt16LE(0x15e),
    flags: v.readUInt32LE(0x160),
    logGroupsPerFlex: v.readUInt8(0x174),
    checksumType: v.readUInt8(0x175),
    checksum: v.readUInt32LE(0x3fc),
    computedChecksum: crc32cRaw(0xffffffff, v, 0, 0x3fc),
  };
}

/** The metadata_csum seed of a filesystem: crc32c(~0, uuid) (no csum_seed feature). */
export function checksumSeed(uuid: Uint8Array): number {
  return crc32cRaw(0xffffffff, uuid, 0, 16);
}
