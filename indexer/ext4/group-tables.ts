// Renders the filesystem-wide tables from the set of used blocks and inodes: block and inode bitmaps,
// the group descriptor table, and the superblock with its sparse_super backups.
import { ImageError } from '../../src/errors.js';
import * as C from '../../src/format/ext4/constants.js';
import { bitmapChecksum, encodeGroupDesc, GROUP_DESC_SIZE } from '../../src/format/ext4/group-desc.js';
import { INODE_EXTRA_ISIZE, INODE_SIZE } from '../../src/format/ext4/inode.js';
import { encodeSuperblock } from '../../src/format/ext4/superblock.js';
import { BLOCK_SIZE, BLOCKS_PER_GROUP, hasSuperBackup, INODES_PER_GROUP, LOG_GROUPS_PER_FLEX } from './geometry.js';
import type { BlockRun, Ext4Geometry } from './geometry.js';

/** Filesystem identity: fixed per chain so images are reproducible. */
export interface FsIdentity {
  uuid: Uint8Array;
  hashSeed: Uint32Array;
  csumSeed: number;
  /** Superblock times (mkfs/write): derived from the content, never the clock. */
  time: number;
}

/** Per-group usage gathered while rendering inodes. */
export interface InodeUsage {
  /** Highest used inode index (0-based) in each group, -1 when none. */
  highest: Int32Array;
  /** Used inodes per group. */
  used: Int32Array;
  /** Directories per group. */
  dirs: Int32Array;
  /** Inode numbers in use, ascending. */
  inodes: number[];
}

/** Marks runs of blocks in per-group bitmaps, rejecting double allocation. */
export class BlockUsage {
  readonly bitmaps = new Map<number, Uint8Array>();
  readonly used: Int32Array;

  constructor(groups: number) {
    this.used = new Int32Array(groups);
  }

  /** Marks [start, start + length) as used. */
  mark(run: BlockRun): void {
    let b = run.start;
    const end = run.start + run.length;
    while (b < end) {
      const g = Math.floor(b / BLOCKS_PER_GROUP);
      let bm = this.bitmaps.get(g);
      if (!bm) {
        bm = new Uint8Array(BLOCK_SIZE);
        this.bitmaps.set(g, bm);
      }
      const groupEnd = Math.min(end, (g + 1) * BLOCKS_PER_GROUP);
      const segStart = b;
      for (let i = b - g * BLOCKS_PER_GROUP; b < groupEnd; b++, i++) {
        if (i % 8 === 0 && groupEnd - b >= 8 && bm[i >> 3] === 0) {
          bm[i >> 3] = 0xff;
          b += 7;
          i += 7;
          continue;
        }
        const bit = 1 << (i & 7);
        if (bm[i >> 3]! & bit) throw new ImageError('INTERNAL', 'ext4 block allocated twice', { details: { block: b } });
        bm[i >> 3]! |= bit;
      }
      this.used[g]! += groupEnd - segStart;
    }
  }
}

const zeroCsums = new Map<string, number>();
const ZERO_BITMAP = new Uint8Array(BLOCK_SIZE);

/** Checksum of an all-zero bitmap of `bytes` bytes (the same for every untouched group; computed once). */
function zeroCsum(seed: number, bytes: number): number {
  const key = `${seed}:${bytes}`;
  let c = zeroCsums.get(key);
  if (c === undefined) {
    c = bitmapChecksum(seed, new Uint8Array(bytes), bytes);
    zeroCsums.set(key, c);
  }
  return c;
}

/** Writes bitmaps, GDT and superblocks into `out` (block number → 4 KiB block). */
export function renderGroupTables(geo: Ext4Geometry, id: FsIdentity, blocks: BlockUsage, inodes: InodeUsage, out: Map<number, Buffer>): void {
  const gdt = Buffer.alloc(geo.gdtBlocks * BLOCK_SIZE);
  let freeBlocks = 0;
  let freeInodes = 0;
  for (let g = 0; g < geo.groups; g++) {
    const usedBlocks = blocks.used[g]!;
    const backupOnly = hasSuperBackup(g) ? 1 + geo.gdtBlocks : 0;
    let flags = C.BG_INODE_ZEROED;
    const bbm = blocks.bitmaps.get(g) ?? ZERO_BITMAP;
    if (usedBlocks === backupOnly && g !== 0) flags |= C.BG_BLOCK_UNINIT;
    else out.set(geo.blockBitmap(g), Buffer.from(bbm.buffer, bbm.byteOffset, BLOCK_SIZE));
    const usedInodes = inodes.used[g]!;
    if (usedInodes === 0) flags |= C.BG_INODE_UNINIT;
    const itableUnused = INODES_PER_GROUP - (inodes.highest[g]! + 1);
    freeBlocks += BLOCKS_PER_GROUP - usedBlocks;
    freeInodes += INODES_PER_GROUP - usedInodes;
    encodeGroupDesc(
      {
        blockBitmap: geo.blockBitmap(g),
        inodeBitmap: geo.inodeBitmap(g),
        inodeTable: geo.inodeTable(g),
        freeBlocks: BLOCKS_PER_GROUP - usedBlocks,
        freeInodes: INODES_PER_GROUP - usedInodes,
        usedDirs: inodes.dirs[g]!,
        flags,
        blockBitmapCsum: blocks.bitmaps.has(g) ? bitmapChecksum(id.csumSeed, bbm, BLOCKS_PER_GROUP / 8) : zeroCsum(id.csumSeed, BLOCKS_PER_GROUP / 8),
        inodeBitmapCsum: 0, // filled below once the inode bitmap is known
        itableUnused,
      },
      g,
      id.csumSeed,
      gdt,
      g * GROUP_DESC_SIZE,
    );
    if (usedInodes > 0) {
      const ibm = Buffer.alloc(BLOCK_SIZE);
      ibm.fill(0xff, INODES_PER_GROUP / 8); // bits past the group's inodes are set (e2fsck checks the padding)
      out.set(geo.inodeBitmap(g), ibm);
    }
  }
  // Inode bitmaps: set bits, then fix the descriptors' inode bitmap checksums.
  for (const ino of inodes.inodes) {
    const g = Math.floor((ino - 1) / INODES_PER_GROUP);
    const i = (ino - 1) % INODES_PER_GROUP;
    const ibm = out.get(geo.inodeBitmap(g))!;
    ibm[i >> 3]! |= 1 << (i & 7);
  }
  for (let g = 0; g < geo.groups; g++) {
    const ibm = out.get(geo.inodeBitmap(g)) ?? ZERO_BITMAP;
    const o = g * GROUP_DESC_SIZE;
    const d = gdt.subarray(o, o + GROUP_DESC_SIZE);
    const csum = out.has(geo.inodeBitmap(g)) ? bitmapChecksum(id.csumSeed, ibm, INODES_PER_GROUP / 8) : zeroCsum(id.csumSeed, INODES_PER_GROUP / 8);
    encodeGroupDesc(
      {
        blockBitmap: d.readUInt32LE(0),
        inodeBitmap: d.readUInt32LE(4),
        inodeTable: d.readUInt32LE(8),
        freeBlocks: d.readUInt16LE(0x0c),
        freeInodes: d.readUInt16LE(0x0e),
        usedDirs: d.readUInt16LE(0x10),
        flags: d.readUInt16LE(0x12),
        blockBitmapCsum: d.readUInt16LE(0x18),
        inodeBitmapCsum: csum,
        itableUnused: d.readUInt16LE(0x1c),
      },
      g,
      id.csumSeed,
      gdt,
      o,
    );
  }
  const sbFields = {
    inodesCount: geo.inodes,
    blocksCount: geo.blocks,
    freeBlocksCount: freeBlocks,
    freeInodesCount: freeInodes,
    logBlockSize: 2,
    blocksPerGroup: BLOCKS_PER_GROUP,
    inodesPerGroup: INODES_PER_GROUP,
    mtime: 0,
    wtime: id.time,
    maxMountCount: -1,
    state: 1,
    errors: 1,
    lastCheck: id.time,
    revLevel: 1,
    firstIno: C.EXT4_FIRST_INO,
    inodeSize: INODE_SIZE,
    featureCompat: C.COMPAT_EXT_ATTR | C.COMPAT_DIR_INDEX,
    featureIncompat: C.INCOMPAT_FILETYPE | C.INCOMPAT_EXTENTS | C.INCOMPAT_FLEX_BG,
    featureRoCompat:
      C.RO_COMPAT_SPARSE_SUPER | C.RO_COMPAT_LARGE_FILE | C.RO_COMPAT_HUGE_FILE | C.RO_COMPAT_DIR_NLINK | C.RO_COMPAT_EXTRA_ISIZE | C.RO_COMPAT_METADATA_CSUM,
    uuid: id.uuid,
    volumeName: '',
    hashSeed: id.hashSeed,
    defHashVersion: C.DX_HASH_HALF_MD4,
    descSize: 0,
    defaultMountOpts: C.DEFAULT_MOUNT_OPTS,
    mkfsTime: id.time,
    minExtraIsize: INODE_EXTRA_ISIZE,
    wantExtraIsize: INODE_EXTRA_ISIZE,
    flags: C.EXT2_FLAGS_SIGNED_HASH,
    logGroupsPerFlex: LOG_GROUPS_PER_FLEX,
    checksumType: C.EXT4_CRC32C_CHKSUM,
  };
  for (let g = 0; g < geo.groups; g++) {
    if (!hasSuperBackup(g)) continue;
    const base = g * BLOCKS_PER_GROUP;
    const sb = encodeSuperblock({ ...sbFields, blockGroupNr: g });
    const first = Buffer.alloc(BLOCK_SIZE);
    sb.copy(first, g === 0 ? C.SUPERBLOCK_OFFSET : 0);
    out.set(base, first);
    for (let i = 0; i < geo.gdtBlocks; i++) out.set(base + 1 + i, gdt.subarray(i * BLOCK_SIZE, (i + 1) * BLOCK_SIZE));
  }
}
