// Static layout of our ext4 device: block groups, flex_bg placement of bitmaps and inode tables, backups.
// Everything here is a pure function of the device size, so every layer of a chain agrees on it.
import { ImageError } from '../../src/errors.js';
import { GROUP_DESC_SIZE } from '../../src/format/ext4/group-desc.js';
import { INODE_SIZE } from '../../src/format/ext4/inode.js';

/** Block size of every image we write. */
export const BLOCK_SIZE = 4096;
/** Blocks per group: one 4 KiB bitmap block covers 32768 blocks. */
export const BLOCKS_PER_GROUP = 32768;
/** Inodes per group: mke2fs's default inode ratio (16 KiB per inode) at 128 MiB groups. */
export const INODES_PER_GROUP = 8192;
/** log2 of groups per flex group (mke2fs default 16). */
export const LOG_GROUPS_PER_FLEX = 4;
/** Groups per flex group. */
export const GROUPS_PER_FLEX = 1 << LOG_GROUPS_PER_FLEX;
/** Inode table blocks per group. */
export const ITABLE_BLOCKS = (INODES_PER_GROUP * INODE_SIZE) / BLOCK_SIZE;

/** A run of blocks [start, start + length). */
export interface BlockRun {
  start: number;
  length: number;
}

/** True when group `g` carries a superblock backup (sparse_super: 0, 1 and powers of 3, 5, 7). */
export function hasSuperBackup(g: number): boolean {
  if (g <= 1) return true;
  for (const base of [3, 5, 7]) {
    let p = base;
    while (p < g) p *= base;
    if (p === g) return true;
  }
  return false;
}

/** The geometry of a device of a given size. */
export class Ext4Geometry {
  /** Device size in bytes. */
  readonly deviceBytes: number;
  /** Total blocks. */
  readonly blocks: number;
  /** Block groups. */
  readonly groups: number;
  /** Blocks of the group descriptor table. */
  readonly gdtBlocks: number;
  /** Total inodes. */
  readonly inodes: number;
  /** Static metadata runs (superblocks + GDT copies, bitmaps and inode tables), sorted by start. */
  readonly reserved: BlockRun[];

  constructor(deviceBytes: number) {
    const groupBytes = BLOCKS_PER_GROUP * BLOCK_SIZE;
    if (!Number.isSafeInteger(deviceBytes) || deviceBytes < groupBytes || deviceBytes % groupBytes !== 0 || deviceBytes / BLOCK_SIZE > 2 ** 32 - BLOCKS_PER_GROUP) {
      throw new ImageError('INVALID_ARGUMENT', `ext4 device size must be a multiple of ${groupBytes} bytes between 128 MiB and 16 TiB`, {
        details: { deviceBytes },
        hint: 'use a size such as 64GiB',
      });
    }
    this.deviceBytes = deviceBytes;
    this.blocks = deviceBytes / BLOCK_SIZE;
    this.groups = this.blocks / BLOCKS_PER_GROUP;
    this.gdtBlocks = Math.ceil((this.groups * GROUP_DESC_SIZE) / BLOCK_SIZE);
    this.inodes = this.groups * INODES_PER_GROUP;
    const runs: BlockRun[] = [];
    for (let g = 0; g < this.groups; g++) {
      const base = g * BLOCKS_PER_GROUP;
      if (hasSuperBackup(g)) runs.push({ start: base, length: 1 + this.gdtBlocks });
      if (g % GROUPS_PER_FLEX === 0) {
        const n = Math.min(GROUPS_PER_FLEX, this.groups - g);
        const start = this.flexStart(g);
        runs.push({ start, length: 2 * GROUPS_PER_FLEX + n * ITABLE_BLOCKS });
      }
    }
    this.reserved = runs.sort((a, b) => a.start - b.start);
  }

  /** First block of the flex metadata stored in leader group `leader`. */
  private flexStart(leader: number): number {
    return leader * BLOCKS_PER_GROUP + (hasSuperBackup(leader) ? 1 + this.gdtBlocks : 0);
  }

  /** Block bitmap location of group `g`. */
  blockBitmap(g: number): number {
    const leader = g - (g % GROUPS_PER_FLEX);
    return this.flexStart(leader) + (g - leader);
  }

  /** Inode bitmap location of group `g`. */
  inodeBitmap(g: number): number {
    const leader = g - (g % GROUPS_PER_FLEX);
    return this.flexStart(leader) + GROUPS_PER_FLEX + (g - leader);
  }

  /** First inode table block of group `g`. */
  inodeTable(g: number): number {
    const leader = g - (g % GROUPS_PER_FLEX);
    return this.flexStart(leader) + 2 * GROUPS_PER_FLEX + (g - leader) * ITABLE_BLOCKS;
  }

  /** Runs of static metadata that are really in use (unused flex slots of a short last flex group excluded). */
  usedStaticRuns(): BlockRun[] {
    const runs: BlockRun[] = [];
    for (let g = 0; g < this.groups; g++) {
      if (hasSuperBackup(g)) runs.push({ start: g * BLOCKS_PER_GROUP, length: 1 + this.gdtBlocks });
      runs.push({ start: this.blockBitmap(g), length: 1 }, { start: this.inodeBitmap(g), length: 1 }, { start: this.inodeTable(g), length: ITABLE_BLOCKS });
    }
    return runs;
  }
}
