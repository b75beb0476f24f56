// Superblock fields a reader needs beyond `decodeSuperblock`, and the names of every ext4 feature flag.
// Offsets and bits per Linux Documentation/filesystems/ext4/super.rst (kernel 6.x) and e2fsprogs 1.47 ext2_fs.h.

/** Reader-only superblock fields. */
export interface SuperblockReaderFields {
  firstDataBlock: number;
  firstMetaBg: number;
  /** s_checksum_seed (used instead of crc32c(uuid) with the csum_seed incompat feature). */
  checksumSeed: number;
  /** s_encoding (casefold). */
  encoding: number;
}

/** Decodes the reader-only fields from the 1024 superblock bytes. */
export function decodeSuperblockReaderFields(b: Buffer): SuperblockReaderFields {
  return {
    firstDataBlock: b.readUInt32LE(0x14),
    firstMetaBg: b.readUInt32LE(0x104),
    checksumSeed: b.readUInt32LE(0x270),
    encoding: b.readUInt16LE(0x27c),
  };
}

/** s_feature_incompat bits by name (e2fsprogs lib/e2p/feature.c spellings). */
export const INCOMPAT_FEATURE_NAMES: Record<number, string> = {
  0x1: 'compression',
  0x2: 'filetype',
  0x4: 'needs_recovery',
  0x8: 'journal_dev',
  0x10: 'meta_bg',
  0x40: 'extent',
  0x80: '64bit',
  0x100: 'mmp',
  0x200: 'flex_bg',
  0x400: 'ea_inode',
  0x1000: 'dirdata',
  0x2000: 'metadata_csum_seed',
  0x4000: 'large_dir',
  0x8000: 'inline_data',
  0x10000: 'encrypt',
  0x20000: 'casefold',
};

/** s_feature_ro_compat bits by name. */
export const RO_COMPAT_FEATURE_NAMES: Record<number, string> = {
  0x1: 'sparse_super',
  0x2: 'large_file',
  0x4: 'btree_dir',
  0x8: 'huge_file',
  0x10: 'uninit_bg',
  0x20: 'dir_nlink',
  0x40: 'extra_isize',
  0x100: 'quota',
  0x200: 'bigalloc',
  0x400: 'metadata_csum',
  0x800: 'replica',
  0x1000: 'read-only',
  0x2000: 'project',
  0x4000: 'shared_blocks',
  0x8000: 'verity',
  0x10000: 'orphan_present',
};

/** Names of the bits set in `mask` (unknown bits as `0x...`). */
export function featureNames(mask: number, names: Record<number, string>): string[] {
  const out: string[] = [];
  for (let bit = 0; bit < 32; bit++) {
    const v = 2 ** bit;
    if (Math.floor(mask / v) % 2 === 1) out.push(names[v] ?? `0x${v.toString(16)}`);
  }
  return out;
}

/** incompat: meta_bg (descriptor blocks spread over meta groups). */
export const INCOMPAT_META_BG = 0x10;
/** incompat: csum_seed (checksum seed stored in s_checksum_seed). */
export const INCOMPAT_CSUM_SEED = 0x2000;
/** incompat: large_dir (3-level htrees). */
export const INCOMPAT_LARGEDIR = 0x4000;
/** incompat: ea_inode (xattr values stored in their own inodes). */
export const INCOMPAT_EA_INODE = 0x400;
/** s_flags: directory hashes use unsigned chars. */
export const EXT2_FLAGS_UNSIGNED_HASH = 0x0002;
