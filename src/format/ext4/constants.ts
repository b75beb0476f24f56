// ext4 on-disk constants (Linux Documentation/filesystems/ext4, e2fsprogs 1.47 lib/ext2fs/ext2_fs.h).

/** Superblock magic (s_magic). */
export const EXT4_SUPER_MAGIC = 0xef53;
/** Byte offset of the primary superblock on the device. */
export const SUPERBLOCK_OFFSET = 1024;
/** Size of the superblock structure. */
export const SUPERBLOCK_SIZE = 1024;
/** Extent header magic (eh_magic). */
export const EXT4_EXTENT_MAGIC = 0xf30a;
/** Extended attribute header magic (block and in-inode). */
export const EXT4_XATTR_MAGIC = 0xea020000;
/** Longest initialised extent (ee_len), in blocks. */
export const EXT4_MAX_EXTENT_LEN = 32768;
/** Size of the base inode structure before i_extra_isize. */
export const EXT4_GOOD_OLD_INODE_SIZE = 128;

/** Reserved inode numbers. */
export const EXT4_BAD_INO = 1;
export const EXT4_ROOT_INO = 2;
/** First non-reserved inode (s_first_ino); mke2fs puts lost+found here. */
export const EXT4_FIRST_INO = 11;

/** s_feature_compat bits. */
export const COMPAT_EXT_ATTR = 0x0008;
export const COMPAT_DIR_INDEX = 0x0020;
/** s_feature_incompat bits. */
export const INCOMPAT_FILETYPE = 0x0002;
export const INCOMPAT_EXTENTS = 0x0040;
export const INCOMPAT_64BIT = 0x0080;
export const INCOMPAT_FLEX_BG = 0x0200;
/** s_feature_ro_compat bits. */
export const RO_COMPAT_SPARSE_SUPER = 0x0001;
export const RO_COMPAT_LARGE_FILE = 0x0002;
export const RO_COMPAT_HUGE_FILE = 0x0008;
export const RO_COMPAT_DIR_NLINK = 0x0020;
export const RO_COMPAT_EXTRA_ISIZE = 0x0040;
export const RO_COMPAT_METADATA_CSUM = 0x0400;

/** s_flags: directory hashes use signed chars (what mke2fs sets on x86; verifiable with debugfs dx_hash). */
export const EXT2_FLAGS_SIGNED_HASH = 0x0001;
/** s_def_hash_version / dx_root hash_version: half-MD4. */
export const DX_HASH_HALF_MD4 = 1;
/** s_checksum_type: crc32c. */
export const EXT4_CRC32C_CHKSUM = 1;
/** s_default_mount_opts bits set by mke2fs: user_xattr | acl. */
export const DEFAULT_MOUNT_OPTS = 0x0004 | 0x0008;

/** bg_flags bits. */
export const BG_INODE_UNINIT = 0x0001;
export const BG_BLOCK_UNINIT = 0x0002;
export const BG_INODE_ZEROED = 0x0004;

/** i_flags bits. */
export const EXT4_INDEX_FL = 0x1000;
export const EXT4_EXTENTS_FL = 0x80000;

/** i_mode file type bits. */
export const S_IFIFO = 0x1000;
export const S_IFCHR = 0x2000;
export const S_IFDIR = 0x4000;
export const S_IFBLK = 0x6000;
export const S_IFREG = 0x8000;
export const S_IFLNK = 0xa000;
export const S_IFSOCK = 0xc000;

/** Directory entry file_type values (incompat filetype). */
export const FT_REG_FILE = 1;
export const FT_DIR = 2;
export const FT_CHRDEV = 3;
export const FT_BLKDEV = 4;
export const FT_FIFO = 5;
export const FT_SOCK = 6;
export const FT_SYMLINK = 7;

/** Longest name in a directory entry. */
export const EXT4_NAME_LEN = 255;
/** Link-count ceiling: with dir_nlink a directory with more subdirectories has i_links_count 1. */
export const EXT4_LINK_MAX = 65000;
