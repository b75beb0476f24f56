// The ext4 writer for a chain of layers: after each layer it renders the whole metadata image of the
// merged tree and returns the delta against the previous layer's rendering. Allocation state persists
// across layers (inode per node id, data blocks bump-allocated and never reused, metadata blocks kept by
// their owner), so untouched nodes keep their inode and blocks and a delta only holds what changed.
import { ImageError } from '../../src/errors.js';
import * as C from '../../src/format/ext4/constants.js';
import type { DirEntry } from '../../src/format/ext4/dirent.js';
import type { Extent } from '../../src/format/ext4/extent.js';
import { encodeInode, INODE_SIZE, INODE_XATTR_OFFSET, inodeChecksumSeed } from '../../src/format/ext4/inode.js';
import type { Inode } from '../../src/format/ext4/inode.js';
import { checksumSeed } from '../../src/format/ext4/superblock.js';
import { encodeInodeXattrs, encodeXattrBlock, toXattrEntry } from '../../src/format/ext4/xattr.js';
import type { DirNode, FileData, FsNode } from '../tree/fs-tree.js';
import { BlockAllocator } from './block-allocator.js';
import type { DataExtent, Ext4Delta, ZeroRange } from '../../src/format/ext4/delta-types.js';
import { renderDirectory } from './directory.js';
import { encodeExtentTree, extentsOfBlocks, extentTreeBlocks } from './extent-tree.js';
import { layoutFileData } from './file-data.js';
import { BLOCK_SIZE, BLOCKS_PER_GROUP, Ext4Geometry, hasSuperBackup, INODES_PER_GROUP } from './geometry.js';
import { BlockUsage, renderGroupTables } from './group-tables.js';
import type { FsIdentity, InodeUsage } from './group-tables.js';

/** Fixed filesystem UUID of every image (determinism: the same layers give the same bytes). */
export const FS_UUID = Uint8Array.from([0x7c, 0x2a, 0x51, 0x0e, 0x93, 0x4d, 0x4b, 0x1f, 0x8e, 0x60, 0x2d, 0xc4, 0x5a, 0x17, 0xb3, 0x09]);
/** Fixed directory hash seed. */
export const HASH_SEED = new Uint32Array([0x3d6a1c57, 0x91e2b40f, 0x5c8d7e23, 0xa4f06b19]);

const LOST_FOUND_ID = -1;
const LOST_FOUND_NAME = Buffer.from('lost+found');

/** Options of a chain writer. */
export interface Ext4WriterOptions {
  /** Virtual device size in bytes (multiple of 128 MiB). */
  deviceBytes: number;
}

interface NodeState {
  ino: number;
  data: FileData | undefined;
  extents: Extent[];
  dataBlocks: number;
  /** Directory blocks in logical order, or the block of a slow symlink. */
  ownBlocks: number[];
  treeBlocks: number[];
  xattrBlock: number | undefined;
  seen: number;
}

interface Visit {
  node: FsNode | undefined; // undefined: our lost+found
  state: NodeState;
  path: string;
  parentIno: number;
  entries: DirEntry[];
  subdirs: number;
}

const FILE_TYPE: Record<FsNode['kind'], number> = { file: C.FT_REG_FILE, dir: C.FT_DIR, symlink: C.FT_SYMLINK, char: C.FT_CHRDEV, block: C.FT_BLKDEV, fifo: C.FT_FIFO, socket: C.FT_SOCK };
const TYPE_BITS: Record<FsNode['kind'], number> = { file: C.S_IFREG, dir: C.S_IFDIR, symlink: C.S_IFLNK, char: C.S_IFCHR, block: C.S_IFBLK, fifo: C.S_IFIFO, socket: C.S_IFSOCK };
const ZERO_BLOCK = Buffer.alloc(BLOCK_SIZE);

/** Writes the ext4 deltas of one chain of layers, layer after layer. */
export class Ext4ChainWriter {
  readonly geometry: Ext4Geometry;
  readonly #alloc: BlockAllocator;
  readonly #identity: FsIdentity;
  readonly #states = new Map<number, NodeState>();
  #nextIno = C.EXT4_FIRST_INO + 1;
  #previous = new Map<number, Buffer>();
  #backups: Map<number, Buffer> | undefined;
  #generation = 0;

  constructor(options: Ext4WriterOptions) {
    this.geometry = new Ext4Geometry(options.deviceBytes);
    this.#alloc = new BlockAllocator(this.geometry);
    this.#identity = { uuid: FS_UUID, hashSeed: HASH_SEED, csumSeed: checksumSeed(FS_UUID), time: 0 };
  }

  #state(id: number, ino?: number): NodeState {
    let s = this.#states.get(id);
    if (!s) {
      if (ino === undefined) {
        ino = this.#nextIno++;
        if (ino > this.geometry.inodes) throw new ImageError('LIMIT_EXCEEDED', 'the ext4 device has no free inodes', { details: { inodes: this.geometry.inodes } });
      }
      s = { ino, data: undefined, extents: [], dataBlocks: 0, ownBlocks: [], treeBlocks: [], xattrBlock: undefined, seen: 0 };
      this.#states.set(id, s);
    }
    return s;
  }

  /** Walks the tree: assigns inodes, counts links, collects directory entries (names in byte order). */
  #walk(root: DirNode): { visits: Visit[]; links: Map<number, number> } {
    const gen = this.#generation;
    const visits: Visit[] = [];
    const links = new Map<number, number>();
    const rootState = this.#state(root.id, C.EXT4_ROOT_INO);
    rootState.seen = gen;
    const rootVisit: Visit = { node: root, state: rootState, path: '/', parentIno: C.EXT4_ROOT_INO, entries: [], subdirs: 0 };
    visits.push(rootVisit);
    const stack: Visit[] = [rootVisit];
    while (stack.length > 0) {
      const dir = stack.pop()!;
      const node = dir.node as DirNode | undefined;
      if (!node) continue;
      const names = [...node.children.keys()].map((n) => ({ n, b: Buffer.from(n, 'utf8') })).sort((a, b) => Buffer.compare(a.b, b.b));
      const subVisits: Visit[] = [];
      for (const { n, b } of names) {
        if (b.length === 0 || b.length > C.EXT4_NAME_LEN || n === '.' || n === '..' || n.includes('/') || n.includes('\0')) {
          throw new ImageError('INVALID_ARGUMENT', 'file name cannot be stored in ext4', { details: { dir: dir.path, name: n, bytes: b.length } });
        }
        const child = node.children.get(n)!;
        const path = dir.path === '/' ? `/${n}` : `${dir.path}/${n}`;
        const state = this.#state(child.id);
        if (child.kind === 'dir') {
          if (state.seen === gen) throw new ImageError('CORRUPT', 'a directory is reachable under two names', { details: { path } });
          dir.subdirs++;
          const v: Visit = { node: child, state, path, parentIno: dir.state.ino, entries: [], subdirs: 0 };
          visits.push(v);
          subVisits.push(v);
        } else if (state.seen !== gen) {
          visits.push({ node: child, state, path, parentIno: 0, entries: [], subdirs: 0 });
        }
        state.seen = gen;
        links.set(child.id, (links.get(child.id) ?? 0) + 1);
        dir.entries.push({ inode: state.ino, name: b, fileType: FILE_TYPE[child.kind] });
      }
      for (let i = subVisits.length - 1; i >= 0; i--) stack.push(subVisits[i]!);
    }
    if (!root.children.has('lost+found')) {
      const state = this.#state(LOST_FOUND_ID, C.EXT4_FIRST_INO);
      state.seen = gen;
      visits.push({ node: undefined, state, path: '/lost+found', parentIno: C.EXT4_ROOT_INO, entries: [], subdirs: 0 });
      rootVisit.subdirs++;
      rootVisit.entries.push({ inode: C.EXT4_FIRST_INO, name: LOST_FOUND_NAME, fileType: C.FT_DIR });
      rootVisit.entries.sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
    }
    return { visits, links };
  }

  /** Grows or shrinks a node's metadata block list to `count` blocks (growth as one contiguous run). */
  #resize(list: number[], count: number): void {
    if (list.length > count) this.#alloc.freeMeta(list.splice(count));
    if (list.length < count) {
      const need = count - list.length;
      if (need === 1) list.push(this.#alloc.allocMetaBlock());
      else {
        const start = this.#alloc.allocMetaRun(need);
        for (let i = 0; i < need; i++) list.push(start + i);
      }
    }
  }

  /** Renders the merged tree after layer `layer` and returns the delta against the previous layer. */
  writeLayer(root: DirNode, layer: number): Ext4Delta {
    this.#generation++;
    const { visits, links } = this.#walk(root);
    const zeroRanges: ZeroRange[] = [];
    const dataExtents: DataExtent[] = [];
    // Free what is gone: inodes are never reused; data blocks read as zero; metadata blocks return to the pool.
    for (const [id, s] of this.#states) {
      if (s.seen === this.#generation) continue;
      for (const e of s.extents) zeroRanges.push({ deviceSector: e.start * 8, sectors: e.length * 8 });
      this.#alloc.freeMeta([...s.ownBlocks, ...s.treeBlocks, ...(s.xattrBlock === undefined ? [] : [s.xattrBlock])]);
      this.#states.delete(id);
    }
    const out = new Map<number, Buffer>();
    const usage: InodeUsage = {
      highest: new Int32Array(this.geometry.groups).fill(-1),
      used: new Int32Array(this.geometry.groups),
      dirs: new Int32Array(this.geometry.groups),
      inodes: [],
    };
    for (let ino = 1; ino < C.EXT4_FIRST_INO; ino++) usage.inodes.push(ino);
    for (const v of visits) if (v.state.ino >= C.EXT4_FIRST_INO) usage.inodes.push(v.state.ino);
    usage.inodes.sort((a, b) => a - b);
    for (const ino of usage.inodes) {
      const g = Math.floor((ino - 1) / INODES_PER_GROUP);
      usage.used[g]!++;
      usage.highest[g] = Math.max(usage.highest[g]!, (ino - 1) % INODES_PER_GROUP);
    }
    const tables = new Map<number, Buffer>();
    for (let g = 0; g < this.geometry.groups; g++) {
      if (usage.highest[g]! >= 0) tables.set(g, Buffer.alloc(Math.ceil(((usage.highest[g]! + 1) * INODE_SIZE) / BLOCK_SIZE) * BLOCK_SIZE));
    }
    const blocks = new BlockUsage(this.geometry.groups);
    for (const run of this.geometry.usedStaticRuns()) blocks.mark(run);
    const putInode = (ino: number, inode: Inode): void => {
      const g = Math.floor((ino - 1) / INODES_PER_GROUP);
      encodeInode(inode, ino, this.#identity.csumSeed, tables.get(g)!, ((ino - 1) % INODES_PER_GROUP) * INODE_SIZE);
    };
    const blank: Inode = { mode: 0, uid: 0, gid: 0, size: 0, atime: { sec: 0, nsec: 0 }, ctime: { sec: 0, nsec: 0 }, mtime: { sec: 0, nsec: 0 }, crtime: { sec: 0, nsec: 0 }, linksCount: 0, blocks512: 0, flags: 0, block: new Uint8Array(60), generation: 0, fileAcl: 0 };
    for (let ino = 1; ino < C.EXT4_FIRST_INO; ino++) if (ino !== C.EXT4_ROOT_INO) putInode(ino, blank);

    for (const v of visits) {
      const inode = this.#renderNode(v, root, links, out, dataExtents, zeroRanges);
      putInode(v.state.ino, inode);
      const s = v.state;
      for (const e of s.extents) blocks.mark({ start: e.start, length: e.length });
      for (const b of s.ownBlocks) blocks.mark({ start: b, length: 1 });
      for (const b of s.treeBlocks) blocks.mark({ start: b, length: 1 });
      if (s.xattrBlock !== undefined) blocks.mark({ start: s.xattrBlock, length: 1 });
      if (!v.node || v.node.kind === 'dir') usage.dirs[Math.floor((s.ino - 1) / INODES_PER_GROUP)]!++;
    }
    for (const [g, buf] of tables) {
      const first = this.geometry.inodeTable(g);
      for (let i = 0; i * BLOCK_SIZE < buf.length; i++) {
        const blk = buf.subarray(i * BLOCK_SIZE, (i + 1) * BLOCK_SIZE);
        if (!blk.equals(ZERO_BLOCK)) out.set(first + i, blk);
      }
    }
    renderGroupTables(this.geometry, this.#identity, blocks, usage, out);
    this.#freezeBackups(out);
    return this.#diff(out, layer, dataExtents, zeroRanges);
  }

  /** Builds one node's inode, writing its directory/extent/xattr/symlink blocks into `out`. */
  #renderNode(v: Visit, root: DirNode, links: Map<number, number>, out: Map<number, Buffer>, dataExtents: DataExtent[], zeroRanges: ZeroRange[]): Inode {
    const s = v.state;
    const node = v.node;
    const seed = inodeChecksumSeed(this.#identity.csumSeed, s.ino, 0);
    const attrs = node ?? { ...root, kind: 'dir' as const, mode: 0o700, uid: 0, gid: 0, xattrs: new Map<string, Buffer>() };
    const inode: Inode = {
      mode: TYPE_BITS[attrs.kind] | (attrs.mode & 0o7777),
      uid: attrs.uid >>> 0,
      gid: attrs.gid >>> 0,
      size: 0,
      atime: attrs.atime,
      ctime: attrs.ctime,
      mtime: attrs.mtime,
      crtime: attrs.mtime,
      linksCount: links.get(attrs.id) ?? 1,
      blocks512: 0,
      flags: 0,
      block: new Uint8Array(60),
      generation: 0,
      fileAcl: 0,
    };
    // Extended attributes: all in the inode when they fit, else all in one external block.
    // user.* attributes exist only on regular files and directories (Linux xattr(7)); elsewhere they are dropped,
    // as an extraction by tar/umoci would.
    const userOk = attrs.kind === 'file' || attrs.kind === 'dir';
    const xattrs = attrs.xattrs.size === 0 ? [] : [...attrs.xattrs].filter(([name]) => userOk || !name.startsWith('user.')).map(([name, value]) => toXattrEntry(name, value));
    const area = encodeInodeXattrs(xattrs, INODE_SIZE - INODE_XATTR_OFFSET);
    let xattrBlocks = 0;
    if (area) inode.xattrArea = area;
    if (xattrs.length > 0 && !area) {
      if (s.xattrBlock === undefined) s.xattrBlock = this.#alloc.allocMetaBlock();
      const blk = encodeXattrBlock(xattrs, BLOCK_SIZE, s.xattrBlock, this.#identity.csumSeed);
      if (!blk) throw new ImageError('LIMIT_EXCEEDED', 'extended attributes do not fit one 4 KiB block', { details: { path: v.path, count: xattrs.length } });
      out.set(s.xattrBlock, blk);
      inode.fileAcl = s.xattrBlock;
      xattrBlocks = 1;
    } else if (s.xattrBlock !== undefined) {
      this.#alloc.freeMeta([s.xattrBlock]);
      s.xattrBlock = undefined;
    }
    const placeTree = (extents: Extent[]): void => {
      this.#resize(s.treeBlocks, extentTreeBlocks(extents.length));
      const tree = encodeExtentTree(extents, s.treeBlocks, seed);
      for (const [b, buf] of tree.blocks) out.set(b, buf);
      inode.block = tree.iblock;
      inode.flags |= C.EXT4_EXTENTS_FL;
    };
    const kind = node?.kind ?? 'dir';
    if (kind === 'file') {
      const data = (node as { data: FileData }).data;
      if (s.data !== data) {
        for (const e of s.extents) zeroRanges.push({ deviceSector: e.start * 8, sectors: e.length * 8 });
        const layout = layoutFileData(data, this.#alloc, v.path);
        s.data = data;
        s.extents = layout.extents;
        s.dataBlocks = layout.blocks;
        dataExtents.push(...layout.mappings);
      }
      inode.size = data.size;
      placeTree(s.extents);
    } else if (kind === 'dir') {
      const dir = renderDirectory(v.entries, s.ino, v.parentIno, this.#identity.hashSeed, seed);
      this.#resize(s.ownBlocks, dir.blocks.length);
      dir.blocks.forEach((b, i) => out.set(s.ownBlocks[i]!, b));
      placeTree(extentsOfBlocks(s.ownBlocks));
      if (dir.indexed) inode.flags |= C.EXT4_INDEX_FL;
      inode.size = dir.blocks.length * BLOCK_SIZE;
      inode.linksCount = v.subdirs + 2 > C.EXT4_LINK_MAX ? 1 : v.subdirs + 2;
    } else if (kind === 'symlink') {
      const target = Buffer.from((node as { target: string }).target, 'utf8');
      if (target.length === 0 || target.length >= BLOCK_SIZE) {
        throw new ImageError('LIMIT_EXCEEDED', 'symlink target length must be 1..4095 bytes', { details: { path: v.path, bytes: target.length } });
      }
      inode.size = target.length;
      if (target.length < 60) {
        this.#resize(s.ownBlocks, 0);
        inode.block = Uint8Array.from(Buffer.concat([target, Buffer.alloc(60 - target.length)]));
      } else {
        this.#resize(s.ownBlocks, 1);
        const blk = Buffer.alloc(BLOCK_SIZE);
        target.copy(blk);
        out.set(s.ownBlocks[0]!, blk);
        placeTree(extentsOfBlocks(s.ownBlocks));
      }
    } else if (kind === 'char' || kind === 'block') {
      const { major, minor } = node as { major: number; minor: number };
      const b = Buffer.alloc(60);
      if (major < 256 && minor < 256) b.writeUInt32LE((major << 8) | minor, 0);
      else b.writeUInt32LE(((minor & 0xff) | (major << 8) | ((minor & ~0xff) << 12)) >>> 0, 4);
      inode.block = b;
    }
    inode.blocks512 = (s.dataBlocks + s.ownBlocks.length + s.treeBlocks.length + xattrBlocks) * (BLOCK_SIZE / 512);
    return inode;
  }

  /**
   * Backup superblocks and GDT copies keep the first layer's content: like the kernel, which never refreshes them
   * outside resize, so upper deltas do not carry a dozen identical-but-for-free-counts copies. e2fsck compares only
   * the geometry and feature fields of a backup with the primary.
   */
  #freezeBackups(out: Map<number, Buffer>): void {
    if (!this.#backups) {
      this.#backups = new Map();
      for (let g = 1; g < this.geometry.groups; g++) {
        if (!hasSuperBackup(g)) continue;
        const base = g * BLOCKS_PER_GROUP;
        for (let i = 0; i <= this.geometry.gdtBlocks; i++) this.#backups.set(base + i, Buffer.from(out.get(base + i)!));
      }
    }
    for (const [b, buf] of this.#backups) out.set(b, buf);
  }

  /** The delta between the previous rendering and `current`. */
  #diff(current: Map<number, Buffer>, layer: number, dataExtents: DataExtent[], zeroRanges: ZeroRange[]): Ext4Delta {
    const changed = [...current.keys()].filter((b) => !this.#previous.get(b)?.equals(current.get(b)!)).sort((a, b) => a - b);
    const metadata = new Map<number, Buffer>();
    for (const b of changed) metadata.set(b, current.get(b)!);
    for (const b of this.#previous.keys()) if (!current.has(b)) zeroRanges.push({ deviceSector: b * 8, sectors: 8 });
    this.#previous = current;
    zeroRanges.sort((a, b) => a.deviceSector - b.deviceSector);
    const zeros: ZeroRange[] = [];
    for (const z of zeroRanges) {
      const last = zeros[zeros.length - 1];
      if (last && last.deviceSector + last.sectors === z.deviceSector) last.sectors += z.sectors;
      else zeros.push({ ...z });
    }
    dataExtents.sort((a, b) => a.deviceSector - b.deviceSector);
    return { layer, deviceBytes: this.geometry.deviceBytes, blockSize: BLOCK_SIZE, metadata, dataExtents, zeroRanges: zeros };
  }
}
