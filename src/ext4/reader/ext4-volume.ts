// The ext4 reader: a read-only view of an ext4 filesystem over any BlockDevice, in pure TypeScript (no mount, no root).
//
// API (all paths are absolute inside the filesystem, '/'-separated, UTF-8; relative paths start at the root):
//   const vol = await openExt4(device, { cacheBytes })   validates superblock, features and checksums
//   vol.lookup(path)            -> inode number (symlinks followed)
//   vol.stat(path) / lstat(path) -> Ext4Stat (stat follows a final symlink, lstat does not)
//   vol.readdir(path)           -> Ext4DirEntry[] (on-disk order, "." and ".." left out; htree and linear dirs)
//   vol.readFile(path)          -> Buffer (whole regular file, up to 1 GiB; use openFile().chunks() beyond)
//   vol.read(path, off, len)    -> Buffer (short only at EOF; holes and unwritten extents read as zeros)
//   vol.openFile(path)          -> Ext4File { stat, size, read(off, len), chunks() } for repeated reads
//   vol.readlink(path)          -> string (fast symlinks in i_block and slow ones in data blocks)
//   vol.listXattrs(path, opts)  -> string[] full names (user./trusted./security./system.*)
//   vol.getXattr(path, name, opts) -> Buffer (POSIX ACLs in the VFS format, as getfattr shows them)
//   vol.statInode(ino) / readdirInode(ino) for walks that already hold inode numbers; vol.close().
// Errors (ImageError codes): NOT_FOUND (missing path or xattr; details.path), FAILED_PRECONDITION (ENOTDIR,
// EISDIR, EINVAL: wrong file type), LIMIT_EXCEEDED (ELOOP: too many symlinks), CORRUPT (checksum or structure,
// with block/inode numbers), UNSUPPORTED (unknown incompat features, listed).
import type { BlockDevice } from '../../format/block-device.js';
import { ImageError } from '../../errors.js';
import { EXT4_MAX_SYMLINK_FOLLOWS } from '../../defaults.js';
import { EXT4_EXTENTS_FL, EXT4_ROOT_INO } from '../../format/ext4/constants.js';
import { DirectoryReader } from './directory.js';
import { InodeData } from './file-data.js';
import { DIRENT_TYPES, inodeType, statOf, type Ext4FileType, type Ext4Stat } from './inode-stat.js';
import { VolumeLayout, type Ext4OpenOptions, type LoadedInode } from './volume-layout.js';
import { readXattrs } from './xattrs.js';
import { corrupt, notFound, wrongType } from './reader-errors.js';

export type { Ext4Stat, Ext4FileType, Ext4OpenOptions };

/** One directory entry as `readdir` lists it. */
export interface Ext4DirEntry {
  /** The name decoded as UTF-8 (see `nameBytes` for names that are not valid UTF-8). */
  name: string;
  nameBytes: Buffer;
  ino: number;
  type: Ext4FileType;
}

/** An opened regular file. */
export interface Ext4File {
  readonly stat: Ext4Stat;
  readonly size: number;
  /** Up to `length` bytes from `offset` (short only at end of file). */
  read(offset: number, length: number): Promise<Buffer>;
  /** The whole content in pieces (default 1 MiB). */
  chunks(chunkBytes?: number): AsyncGenerator<Buffer>;
}

/** Options of the xattr calls: `follow: false` reads the attributes of a final symlink itself (lgetxattr). */
export interface XattrOptions {
  follow?: boolean;
}

/** Largest file `readFile` returns in one Buffer. */
const READ_FILE_MAX_BYTES = 1024 * 1024 * 1024;

/** Opens the ext4 filesystem on `device` (see the API summary at the top of this file). */
export async function openExt4(device: BlockDevice, options: Ext4OpenOptions = {}): Promise<Ext4Volume> {
  const layout = await VolumeLayout.open(device, options);
  const vol = new Ext4Volume(device, layout);
  const root = await layout.inode(EXT4_ROOT_INO);
  if (inodeType(root) !== 'dir') throw corrupt('root inode is not a directory', { inode: EXT4_ROOT_INO, mode: root.mode });
  return vol;
}

/** A read-only ext4 filesystem. */
export class Ext4Volume {
  readonly #device: BlockDevice;
  readonly #layout: VolumeLayout;
  readonly #dirs: DirectoryReader;

  /** Use `openExt4`. */
  constructor(device: BlockDevice, layout: VolumeLayout) {
    this.#device = device;
    this.#layout = layout;
    this.#dirs = new DirectoryReader(layout);
  }

  /** Filesystem block size in bytes. */
  get blockBytes(): number {
    return this.#layout.blockBytes;
  }

  /** Metadata cache counters and the bytes it holds. */
  get cacheStats(): { hits: number; misses: number; bytes: number } {
    return { hits: this.#layout.cache.hits, misses: this.#layout.cache.misses, bytes: this.#layout.cache.bytes };
  }

  /** The inode number `path` resolves to (following symlinks). */
  async lookup(path: string): Promise<number> {
    return (await this.#resolve(path, true)).ino;
  }

  /** stat(2): follows a final symlink. */
  async stat(path: string): Promise<Ext4Stat> {
    return statOf(this.#layout, await this.#resolve(path, true));
  }

  /** lstat(2): a final symlink is described itself. */
  async lstat(path: string): Promise<Ext4Stat> {
    return statOf(this.#layout, await this.#resolve(path, false));
  }

  /** The stat of inode `ino`. */
  async statInode(ino: number): Promise<Ext4Stat> {
    return statOf(this.#layout, await this.#layout.inode(ino));
  }

  /** The entries of the directory at `path` ("." and ".." left out). */
  async readdir(path: string): Promise<Ext4DirEntry[]> {
    return this.#list(await this.#resolve(path, true), path);
  }

  /** The entries of directory inode `ino`. */
  async readdirInode(ino: number): Promise<Ext4DirEntry[]> {
    return this.#list(await this.#layout.inode(ino), `<inode ${ino}>`);
  }

  async #list(dir: LoadedInode, path: string): Promise<Ext4DirEntry[]> {
    if (inodeType(dir) !== 'dir') throw wrongType(path, 'ENOTDIR', 'not a directory');
    const out: Ext4DirEntry[] = [];
    for await (const e of this.#dirs.entries(dir)) {
      if (e.name.length <= 2 && e.name.every((c) => c === 0x2e)) continue;
      const type = DIRENT_TYPES[e.fileType] ?? inodeType(await this.#layout.inode(e.ino));
      out.push({ name: e.name.toString('utf8'), nameBytes: e.name, ino: e.ino, type });
    }
    return out;
  }

  /** Opens the regular file at `path` (symlinks followed). */
  async openFile(path: string): Promise<Ext4File> {
    const inode = await this.#resolve(path, true);
    const stat = statOf(this.#layout, inode);
    if (stat.type === 'dir') throw wrongType(path, 'EISDIR', 'is a directory');
    if (stat.type !== 'file') throw wrongType(path, 'EINVAL', `not a regular file (${stat.type})`);
    const data = new InodeData(this.#layout, inode);
    return { stat, size: data.size, read: (o, l) => data.read(o, l), chunks: (c) => data.chunks(c) };
  }

  /** The whole regular file at `path` (LIMIT_EXCEEDED above 1 GiB: use openFile().chunks()). */
  async readFile(path: string): Promise<Buffer> {
    const f = await this.openFile(path);
    if (f.size > READ_FILE_MAX_BYTES) throw new ImageError('LIMIT_EXCEEDED', `ext4: ${path} is too large to read at once`, { details: { path, size: f.size, max: READ_FILE_MAX_BYTES }, hint: 'stream it with openFile(path).chunks()' });
    return f.read(0, f.size);
  }

  /** Up to `length` bytes of the regular file at `path` from `offset`. */
  async read(path: string, offset: number, length: number): Promise<Buffer> {
    return (await this.openFile(path)).read(offset, length);
  }

  /** The target of the symlink at `path` (not followed). */
  async readlink(path: string): Promise<string> {
    const inode = await this.#resolve(path, false);
    if (inodeType(inode) !== 'symlink') throw wrongType(path, 'EINVAL', 'not a symbolic link');
    return (await this.#linkTarget(inode)).toString('utf8');
  }

  /** Full names of the extended attributes of `path`. */
  async listXattrs(path: string, options: XattrOptions = {}): Promise<string[]> {
    return [...(await readXattrs(this.#layout, await this.#resolve(path, options.follow ?? true))).keys()];
  }

  /** The value of extended attribute `name` of `path`; NOT_FOUND (ENODATA) when absent. */
  async getXattr(path: string, name: string, options: XattrOptions = {}): Promise<Buffer> {
    const value = (await readXattrs(this.#layout, await this.#resolve(path, options.follow ?? true))).get(name);
    if (value === undefined) throw new ImageError('NOT_FOUND', `ext4: no extended attribute ${name} on ${path}`, { details: { path, name, errno: 'ENODATA' } });
    return value;
  }

  /** Releases the device. */
  async close(): Promise<void> {
    await this.#device.close();
  }

  async #linkTarget(inode: LoadedInode): Promise<Buffer> {
    const where = { inode: inode.ino, size: inode.size };
    if (inode.size > this.#layout.blockBytes) throw corrupt('symlink target longer than a block', where);
    const eaBlocks = inode.fileAcl !== 0 ? this.#layout.blockBytes / 512 : 0;
    const fast = !(inode.flags & EXT4_EXTENTS_FL) && inode.blocksRaw - eaBlocks === 0;
    if (fast) {
      if (inode.size >= 60) throw corrupt('fast symlink target longer than i_block', where);
      return Buffer.from(inode.block.subarray(0, inode.size));
    }
    const target = await new InodeData(this.#layout, inode).read(0, inode.size);
    if (target.length !== inode.size) throw corrupt('symlink target shorter than its size', where);
    return target;
  }

  /** Walks `path` from the root; `followLast` follows a final symlink (a trailing '/' always does). */
  async #resolve(path: string, followLast: boolean): Promise<LoadedInode> {
    if (typeof path !== 'string' || path.includes('\0')) throw new ImageError('INVALID_ARGUMENT', 'ext4: path must be a string without NUL', { details: { path: String(path) } });
    const root = await this.#layout.inode(EXT4_ROOT_INO);
    const trailingSlash = path.length > 1 && path.endsWith('/');
    const parts = path.split('/').filter((c) => c !== '' && c !== '.');
    let cur = root;
    let follows = 0;
    while (parts.length > 0) {
      const name = parts.shift()!;
      if (inodeType(cur) !== 'dir') throw wrongType(path, 'ENOTDIR', 'not a directory');
      const entry = await this.#dirs.lookup(cur, Buffer.from(name, 'utf8'));
      if (!entry) throw notFound(path, name);
      const child = await this.#layout.inode(entry.ino);
      const last = parts.length === 0;
      if (inodeType(child) === 'symlink' && (!last || followLast || trailingSlash)) {
        if (++follows > EXT4_MAX_SYMLINK_FOLLOWS) {
          throw new ImageError('LIMIT_EXCEEDED', `ext4: too many levels of symbolic links: ${path}`, { details: { path, errno: 'ELOOP', max: EXT4_MAX_SYMLINK_FOLLOWS } });
        }
        const target = (await this.#linkTarget(child)).toString('utf8');
        if (target === '') throw notFound(path, name);
        if (target.startsWith('/')) cur = root;
        parts.unshift(...target.split('/').filter((c) => c !== '' && c !== '.'));
        continue;
      }
      cur = child;
    }
    if (trailingSlash && inodeType(cur) !== 'dir') throw wrongType(path, 'ENOTDIR', 'not a directory');
    return cur;
  }
}
