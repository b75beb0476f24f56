// The geometry of an opened ext4 volume: validated superblock, group descriptors (plain and meta_bg) and
// checksummed inode reads. Per Linux Documentation/filesystems/ext4 (super.rst, group_descr.rst, inodes.rst).
import type { BlockDevice } from '../../format/block-device.js';
import { ImageError } from '../../errors.js';
import { DEFAULT_EXT4_METADATA_CACHE_BYTES } from '../../defaults.js';
import { EXT4_CRC32C_CHKSUM, EXT4_SUPER_MAGIC, INCOMPAT_64BIT, RO_COMPAT_HUGE_FILE, RO_COMPAT_METADATA_CSUM, SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE, RO_COMPAT_SPARSE_SUPER } from '../../format/ext4/constants.js';
import { checksumSeed, decodeSuperblock, type Superblock } from '../../format/ext4/superblock.js';
import { decodeGroupDescAnySize, groupDescChecksumAnySize, type DecodedGroupDesc } from '../../format/ext4/group-desc-decode.js';
import { decodeInodeRaw, inodeChecksumAnySize, type DecodedInode } from '../../format/ext4/inode-decode.js';
import { decodeSuperblockReaderFields, featureNames, INCOMPAT_CSUM_SEED, INCOMPAT_FEATURE_NAMES, INCOMPAT_META_BG, type SuperblockReaderFields } from '../../format/ext4/superblock-fields.js';
import { inodeChecksumSeed } from '../../format/ext4/inode.js';
import { BlockCache } from './block-cache.js';
import { corrupt } from './reader-errors.js';

/** incompat features this reader handles: filetype, meta_bg, extent, 64bit, mmp, flex_bg, ea_inode, csum_seed, large_dir. */
export const SUPPORTED_INCOMPAT = 0x2 | 0x10 | 0x40 | 0x80 | 0x100 | 0x200 | 0x400 | 0x2000 | 0x4000;

/** Decoded inodes kept in memory (about 0.5 KiB each): covers the directories and files of a deep walk. */
const INODE_CACHE_ENTRIES = 4096;

/** Options of `openExt4`. */
export interface Ext4OpenOptions {
  /** Byte bound of the metadata block cache (default DEFAULT_EXT4_METADATA_CACHE_BYTES). */
  cacheBytes?: number;
}

/** An inode as read: its number, decoded fields and the per-inode checksum seed for its tree/dir blocks. */
export interface LoadedInode extends DecodedInode {
  ino: number;
  /** crc32c(fs seed, ino, generation): seeds extent, directory and dx block checksums. */
  csumSeed: number;
  /** A copy of the whole on-disk inode slot (inode_size bytes; the in-inode xattr area lives at its end). */
  raw: Buffer;
}

/** Superblock facts, descriptor and inode access of one volume. */
export class VolumeLayout {
  readonly sb: Superblock & SuperblockReaderFields;
  readonly blockBytes: number;
  readonly blocksCount: number;
  readonly groupCount: number;
  readonly descSize: number;
  readonly inodeSize: number;
  readonly metadataCsum: boolean;
  readonly hugeFile: boolean;
  readonly csumSeed: number;
  readonly cache: BlockCache;
  readonly #descs = new Map<number, DecodedGroupDesc>();
  /** Recently read inodes (checksum verified once), most recent last. */
  readonly #inodes = new Map<number, LoadedInode>();

  private constructor(sb: Superblock & SuperblockReaderFields, device: BlockDevice, options: Ext4OpenOptions) {
    this.sb = sb;
    this.blockBytes = 1024 * 2 ** sb.logBlockSize;
    this.blocksCount = sb.blocksCount;
    this.groupCount = Math.ceil((sb.blocksCount - sb.firstDataBlock) / sb.blocksPerGroup);
    this.descSize = sb.featureIncompat & INCOMPAT_64BIT ? sb.descSize : 32;
    this.inodeSize = sb.revLevel === 0 ? 128 : sb.inodeSize;
    this.metadataCsum = (sb.featureRoCompat & RO_COMPAT_METADATA_CSUM) !== 0;
    this.hugeFile = (sb.featureRoCompat & RO_COMPAT_HUGE_FILE) !== 0;
    this.csumSeed = sb.featureIncompat & INCOMPAT_CSUM_SEED ? sb.checksumSeed : checksumSeed(sb.uuid);
    this.cache = new BlockCache(device, this.blockBytes, sb.blocksCount, options.cacheBytes ?? DEFAULT_EXT4_METADATA_CACHE_BYTES);
  }

  /** Reads and validates the superblock: magic, checksum, geometry, and incompat features (UNSUPPORTED lists unknown ones). */
  static async open(device: BlockDevice, options: Ext4OpenOptions = {}): Promise<VolumeLayout> {
    if (device.sizeBytes < SUPERBLOCK_OFFSET + SUPERBLOCK_SIZE) {
      throw new ImageError('CORRUPT', 'ext4: device too small to hold a superblock', { details: { sizeBytes: device.sizeBytes } });
    }
    const raw = await device.read(SUPERBLOCK_OFFSET, SUPERBLOCK_SIZE);
    const sb = { ...decodeSuperblock(raw), ...decodeSuperblockReaderFields(raw) };
    if (sb.magic !== EXT4_SUPER_MAGIC) throw corrupt('bad superblock magic (not an ext2/3/4 filesystem)', { offset: SUPERBLOCK_OFFSET, magic: sb.magic });
    if (sb.featureRoCompat & RO_COMPAT_METADATA_CSUM) {
      if (sb.checksumType !== EXT4_CRC32C_CHKSUM) throw corrupt('unknown superblock checksum type', { checksumType: sb.checksumType });
      if (sb.checksum !== sb.computedChecksum) throw corrupt('superblock checksum mismatch', { offset: SUPERBLOCK_OFFSET, stored: sb.checksum, computed: sb.computedChecksum });
    }
    const unknown = sb.featureIncompat & ~SUPPORTED_INCOMPAT;
    if (unknown !== 0) {
      const names = featureNames(unknown >>> 0, INCOMPAT_FEATURE_NAMES);
      throw new ImageError('UNSUPPORTED', `ext4: incompatible features not supported by this reader: ${names.join(', ')}`, {
        details: { features: names.join(','), featureIncompat: sb.featureIncompat },
        hint: 'rebuild the image without these features (needs_recovery: run e2fsck to replay the journal first)',
      });
    }
    const geometryBad =
      sb.logBlockSize > 6 ||
      sb.blocksPerGroup === 0 ||
      sb.inodesPerGroup === 0 ||
      sb.blocksCount === 0 ||
      (sb.revLevel > 0 && (sb.inodeSize < 128 || (sb.inodeSize & (sb.inodeSize - 1)) !== 0 || sb.inodeSize > 1024 * 2 ** sb.logBlockSize)) ||
      (sb.featureIncompat & INCOMPAT_64BIT && (sb.descSize < 64 || (sb.descSize & (sb.descSize - 1)) !== 0 || sb.descSize > 1024));
    if (geometryBad) {
      throw corrupt('implausible superblock geometry', { logBlockSize: sb.logBlockSize, blocksPerGroup: sb.blocksPerGroup, inodesPerGroup: sb.inodesPerGroup, inodeSize: sb.inodeSize, descSize: sb.descSize });
    }
    const layout = new VolumeLayout(sb, device, options);
    if (sb.blocksCount * layout.blockBytes > device.sizeBytes) {
      throw corrupt('filesystem is larger than the device', { blocksCount: sb.blocksCount, blockBytes: layout.blockBytes, deviceBytes: device.sizeBytes });
    }
    return layout;
  }

  /** Whether group `g` holds a superblock backup (sparse_super: groups 0, 1 and powers of 3, 5, 7). */
  #hasSuper(g: number): boolean {
    if (g <= 1 || !(this.sb.featureRoCompat & RO_COMPAT_SPARSE_SUPER)) return true;
    for (const base of [3, 5, 7]) {
      let p = base;
      while (p < g) p *= base;
      if (p === g) return true;
    }
    return false;
  }

  /** Device block holding the descriptor of group `g` (meta_bg spreads them over meta groups). */
  #descBlock(g: number): number {
    const perBlock = this.blockBytes / this.descSize;
    const metaGroup = Math.floor(g / perBlock);
    if (!(this.sb.featureIncompat & INCOMPAT_META_BG) || metaGroup < this.sb.firstMetaBg) return this.sb.firstDataBlock + 1 + metaGroup;
    const first = metaGroup * perBlock;
    return this.sb.firstDataBlock + first * this.sb.blocksPerGroup + (this.#hasSuper(first) ? 1 : 0);
  }

  /** The (checksum-verified) descriptor of group `g`. */
  async groupDesc(g: number): Promise<DecodedGroupDesc> {
    const known = this.#descs.get(g);
    if (known) return known;
    const block = this.#descBlock(g);
    const buf = await this.cache.block(block, 'group descriptor table', { group: g });
    const offset = (g % (this.blockBytes / this.descSize)) * this.descSize;
    const d = decodeGroupDescAnySize(buf, offset, this.descSize);
    if (this.metadataCsum) {
      const computed = groupDescChecksumAnySize(buf, offset, this.descSize, g, this.csumSeed);
      if (computed !== d.checksum) throw corrupt('group descriptor checksum mismatch', { group: g, block, stored: d.checksum, computed });
    }
    this.#descs.set(g, d);
    return d;
  }

  /** Inode `ino` (checksum verified when first read; callers must not modify it); CORRUPT for out-of-range numbers. */
  async inode(ino: number): Promise<LoadedInode> {
    const known = this.#inodes.get(ino);
    if (known) {
      this.#inodes.delete(ino);
      this.#inodes.set(ino, known);
      return known;
    }
    const loaded = await this.#readInode(ino);
    this.#inodes.set(ino, loaded);
    if (this.#inodes.size > INODE_CACHE_ENTRIES) this.#inodes.delete(this.#inodes.keys().next().value!);
    return loaded;
  }

  async #readInode(ino: number): Promise<LoadedInode> {
    if (!Number.isSafeInteger(ino) || ino < 1 || ino > this.sb.inodesCount) throw corrupt('inode number out of range', { inode: ino, inodesCount: this.sb.inodesCount });
    const group = Math.floor((ino - 1) / this.sb.inodesPerGroup);
    const index = (ino - 1) % this.sb.inodesPerGroup;
    const desc = await this.groupDesc(group);
    const byteInTable = index * this.inodeSize;
    const block = desc.inodeTable + Math.floor(byteInTable / this.blockBytes);
    const buf = await this.cache.block(block, 'inode table', { inode: ino, group });
    const at = byteInTable % this.blockBytes;
    const raw = buf.subarray(at, at + this.inodeSize);
    const decoded = decodeInodeRaw(raw);
    if (this.metadataCsum) {
      const computed = inodeChecksumAnySize(raw, ino, this.csumSeed);
      if (computed !== decoded.storedChecksum) throw corrupt('inode checksum mismatch', { inode: ino, block, stored: decoded.storedChecksum, computed });
    }
    return { ...decoded, ino, csumSeed: inodeChecksumSeed(this.csumSeed, ino, decoded.generation), raw: Buffer.from(raw) };
  }
}
