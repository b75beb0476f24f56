// Directory access: listing every record (linear and htree directories) and name lookup, by htree descent
// (dx_root/dx_node, all hash versions, collision chains) or by linear scan. Per kernel 6.x fs/ext4/namei.c semantics.
import { COMPAT_DIR_INDEX, EXT4_INDEX_FL } from '../../format/ext4/constants.js';
import { decodeDxNode, decodeDxRoot, type DxBlock } from '../../format/ext4/dx-decode.js';
import { dxNameHash } from '../../format/ext4/dx-hash.js';
import { EXT2_FLAGS_UNSIGNED_HASH, INCOMPAT_LARGEDIR } from '../../format/ext4/superblock-fields.js';
import { mapBlocks } from './extent-map.js';
import { checkDxBlock, isDxBlock, parseDxRootDots, parseLeafBlock, type RawDirEntry } from './dir-block.js';
import type { LoadedInode, VolumeLayout } from './volume-layout.js';
import { corrupt } from './reader-errors.js';

/** Reads directory blocks through the metadata cache. */
export class DirectoryReader {
  readonly #layout: VolumeLayout;

  constructor(layout: VolumeLayout) {
    this.#layout = layout;
  }

  #blockCount(dir: LoadedInode): number {
    return Math.ceil(dir.size / this.#layout.blockBytes);
  }

  #indexed(dir: LoadedInode): boolean {
    return (dir.flags & EXT4_INDEX_FL) !== 0 && (this.#layout.sb.featureCompat & COMPAT_DIR_INDEX) !== 0;
  }

  async #logicalBlock(dir: LoadedInode, logical: number): Promise<{ buf: Buffer; physical: number }> {
    if (logical >= this.#blockCount(dir)) throw corrupt('htree points past the end of the directory', { inode: dir.ino, logical });
    const [run] = await mapBlocks(this.#layout, dir, logical, 1);
    if (!run || run.physical === undefined) throw corrupt('directory has a hole', { inode: dir.ino, logical });
    return { buf: await this.#layout.cache.block(run.physical, 'directory block', { inode: dir.ino }), physical: run.physical };
  }

  /** Every record of the directory ("." and ".." included), in on-disk order. */
  async *entries(dir: LoadedInode): AsyncGenerator<RawDirEntry> {
    const count = this.#blockCount(dir);
    const indexed = this.#indexed(dir);
    const runs = await mapBlocks(this.#layout, dir, 0, count);
    for (const run of runs) {
      if (run.physical === undefined) throw corrupt('directory has a hole', { inode: dir.ino, logical: run.logical });
      for (let i = 0; i < run.count; i++) {
        const logical = run.logical + i;
        const physical = run.physical + i;
        const buf = await this.#layout.cache.block(physical, 'directory block', { inode: dir.ino });
        if (indexed && isDxBlock(buf, logical, this.#layout.blockBytes)) {
          checkDxBlock(this.#layout, dir, buf, logical, physical);
          if (logical === 0) yield* parseDxRootDots(this.#layout, dir, buf, physical);
          continue;
        }
        yield* parseLeafBlock(this.#layout, dir, buf, logical, physical);
      }
    }
  }

  /** The record named `name` in `dir`, or undefined. */
  async lookup(dir: LoadedInode, name: Buffer): Promise<RawDirEntry | undefined> {
    if (this.#indexed(dir) && name.length > 0 && !(name.length <= 2 && name.every((c) => c === 0x2e))) {
      const found = await this.#htreeLookup(dir, name);
      if (found !== 'linear') return found;
    }
    for await (const e of this.entries(dir)) if (e.name.equals(name)) return e;
    return undefined;
  }

  async #dxNode(dir: LoadedInode, logical: number): Promise<DxBlock> {
    const { buf, physical } = await this.#logicalBlock(dir, logical);
    if (!isDxBlock(buf, logical, this.#layout.blockBytes)) throw corrupt('htree index points to a non-index block', { inode: dir.ino, block: physical, logical });
    checkDxBlock(this.#layout, dir, buf, logical, physical);
    const dx = decodeDxNode(buf);
    if (dx.count === 0 || dx.count > dx.limit) throw corrupt('bad htree node count', { inode: dir.ino, block: physical, count: dx.count, limit: dx.limit });
    return dx;
  }

  /** htree descent; 'linear' when the index uses a hash this reader does not know (then a linear scan decides). */
  async #htreeLookup(dir: LoadedInode, name: Buffer): Promise<RawDirEntry | undefined | 'linear'> {
    const { buf, physical } = await this.#logicalBlock(dir, 0);
    parseDxRootDots(this.#layout, dir, buf, physical);
    checkDxBlock(this.#layout, dir, buf, 0, physical);
    const root = decodeDxRoot(buf);
    const maxLevels = this.#layout.sb.featureIncompat & INCOMPAT_LARGEDIR ? 3 : 2;
    if (buf.readUInt32LE(0x18) !== 0 || root.indirectLevels >= maxLevels || root.count === 0 || root.count > root.limit) {
      throw corrupt('bad htree root', { inode: dir.ino, block: physical, levels: root.indirectLevels, count: root.count, limit: root.limit });
    }
    let version = root.hashVersion;
    if (version <= 2 && this.#layout.sb.flags & EXT2_FLAGS_UNSIGNED_HASH) version += 3;
    const hash = dxNameHash(name, version, this.#layout.sb.hashSeed);
    if (hash === undefined) return 'linear';
    const frames: { dx: DxBlock; at: number }[] = [];
    let node = root;
    for (let level = 0; ; level++) {
      frames.push({ dx: node, at: findEntry(node, hash) });
      if (level === root.indirectLevels) break;
      node = await this.#dxNode(dir, node.entries[frames[level]!.at]!.block);
    }
    for (;;) {
      const leaf = frames[frames.length - 1]!;
      const { buf: lb, physical: lp } = await this.#logicalBlock(dir, leaf.dx.entries[leaf.at]!.block);
      for (const e of parseLeafBlock(this.#layout, dir, lb, leaf.dx.entries[leaf.at]!.block, lp)) if (e.name.equals(name)) return e;
      // Collision chain: the next leaf continues this hash when its starting hash (collision bit cleared) equals ours.
      let p = frames.length - 1;
      while (p >= 0 && frames[p]!.at + 1 >= frames[p]!.dx.count) p--;
      if (p < 0) return undefined;
      frames[p]!.at++;
      const bhash = frames[p]!.dx.entries[frames[p]!.at]!.hash;
      if ((bhash & ~1) >>> 0 !== hash) return undefined;
      for (let q = p + 1; q < frames.length; q++) frames[q] = { dx: await this.#dxNode(dir, frames[q - 1]!.dx.entries[frames[q - 1]!.at]!.block), at: 0 };
    }
  }
}

/** Index of the last entry whose hash is <= `hash` (entry 0 covers everything below entry 1). */
function findEntry(dx: DxBlock, hash: number): number {
  let lo = 1;
  let hi = dx.count - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (dx.entries[mid]!.hash > hash) hi = mid - 1;
    else lo = mid + 1;
  }
  return lo - 1;
}
