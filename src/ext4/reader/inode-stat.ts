// The stat view of an ext4 inode: type, permissions, 32-bit ids, 64-bit size, times with nanoseconds, rdev.
import { S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFREG, S_IFSOCK } from '../../format/ext4/constants.js';
import { inodeBlocks512, inodeDevice, type DecodedTime } from '../../format/ext4/inode-decode.js';
import type { LoadedInode, VolumeLayout } from './volume-layout.js';
import { corrupt } from './reader-errors.js';

/** File types, named as the filesystem tree model names them. */
export type Ext4FileType = 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';

/** What `stat`/`lstat` return. */
export interface Ext4Stat {
  /** Inode number (equal for hard links). */
  ino: number;
  type: Ext4FileType;
  /** Full i_mode: type bits and permission bits. */
  mode: number;
  /** Permission and special bits (mode & 0o7777). */
  perm: number;
  nlink: number;
  uid: number;
  gid: number;
  /** Size in bytes (64-bit; a symlink's target length). */
  size: number;
  /** Allocated space in 512-byte units (as st_blocks). */
  blocks: number;
  atime: DecodedTime;
  mtime: DecodedTime;
  ctime: DecodedTime;
  /** Creation time when the inode stores one. */
  crtime: DecodedTime | undefined;
  /** Device number of char/block specials. */
  rdev: { major: number; minor: number } | undefined;
  /** i_flags. */
  flags: number;
  generation: number;
}

const TYPES: [bits: number, type: Ext4FileType][] = [
  [S_IFREG, 'file'],
  [S_IFDIR, 'dir'],
  [S_IFLNK, 'symlink'],
  [S_IFCHR, 'char'],
  [S_IFBLK, 'block'],
  [S_IFIFO, 'fifo'],
  [S_IFSOCK, 'socket'],
];

/** The file type of an inode; CORRUPT for an unknown type (also for a deleted or never-used inode). */
export function inodeType(inode: LoadedInode): Ext4FileType {
  const bits = inode.mode & 0xf000;
  const hit = TYPES.find(([b]) => b === bits);
  if (!hit || inode.linksCount === 0) throw corrupt('directory entry points to an unused or invalid inode', { inode: inode.ino, mode: inode.mode, links: inode.linksCount });
  return hit[1];
}

/** The stat of a loaded inode. */
export function statOf(layout: VolumeLayout, inode: LoadedInode): Ext4Stat {
  const type = inodeType(inode);
  return {
    ino: inode.ino,
    type,
    mode: inode.mode,
    perm: inode.mode & 0o7777,
    nlink: inode.linksCount,
    uid: inode.uid,
    gid: inode.gid,
    size: inode.size,
    blocks: inodeBlocks512(inode, layout.hugeFile, layout.blockBytes),
    atime: inode.atime,
    mtime: inode.mtime,
    ctime: inode.ctime,
    crtime: inode.crtime,
    rdev: type === 'char' || type === 'block' ? inodeDevice(inode.block) : undefined,
    flags: inode.flags,
    generation: inode.generation,
  };
}

/** Dirent file_type codes to types (0 = unknown without the filetype feature). */
export const DIRENT_TYPES: Record<number, Ext4FileType> = { 1: 'file', 2: 'dir', 3: 'char', 4: 'block', 5: 'fifo', 6: 'socket', 7: 'symlink' };
