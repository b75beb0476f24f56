// Extended attributes of an inode: the in-inode area after i_extra_isize and the external block (i_file_acl),
// checksummed, with ea_inode values and POSIX ACLs returned in the VFS xattr format (as getfattr shows them).
import { EXT4_GOOD_OLD_INODE_SIZE, EXT4_XATTR_MAGIC } from '../../format/ext4/constants.js';
import { aclFromDisk, decodeXattrEntries, xattrBlockChecksumValid, xattrFullName, type DecodedXattrEntry } from '../../format/ext4/xattr-decode.js';
import { InodeData } from './file-data.js';
import type { LoadedInode, VolumeLayout } from './volume-layout.js';
import { corrupt } from './reader-errors.js';

/** Header size of an external xattr block. */
const BLOCK_HEADER_BYTES = 32;

/** All xattrs of `inode` as full name -> value (in-inode first, then the block; ACLs in VFS format). */
export async function readXattrs(layout: VolumeLayout, inode: LoadedInode): Promise<Map<string, Buffer>> {
  const out = new Map<string, Buffer>();
  const add = async (e: DecodedXattrEntry, area: Buffer, base: number, where: Record<string, number | string>): Promise<void> => {
    const name = xattrFullName(e);
    if (name === undefined) return;
    let value: Buffer;
    if (e.valueInode !== 0) {
      const vino = await layout.inode(e.valueInode);
      value = await new InodeData(layout, vino).read(0, e.valueSize);
      if (value.length !== e.valueSize) throw corrupt('xattr value inode shorter than the value', { ...where, valueInode: e.valueInode });
    } else {
      const start = base + e.valueOffset;
      if (start + e.valueSize > area.length || e.valueOffset < 0) throw corrupt('xattr value outside its area', { ...where, name, valueOffset: e.valueOffset, valueSize: e.valueSize });
      value = Buffer.from(area.subarray(start, start + e.valueSize));
    }
    if (e.index === 2 || e.index === 3) {
      const vfs = aclFromDisk(value);
      if (!vfs) throw corrupt('malformed POSIX ACL', { ...where, name });
      value = vfs;
    }
    out.set(name, value);
  };
  // In-inode area: after the 128-byte base and i_extra_isize, up to the end of the inode slot.
  if (layout.inodeSize > EXT4_GOOD_OLD_INODE_SIZE) {
    const block = inode.raw;
    const start = EXT4_GOOD_OLD_INODE_SIZE + inode.extraIsize;
    if (start + 4 <= block.length && block.readUInt32LE(start) === EXT4_XATTR_MAGIC) {
      const where = { inode: inode.ino, area: 'in-inode' };
      const entries = decodeXattrEntries(block, start + 4, block.length);
      if (!entries) throw corrupt('malformed in-inode xattr entries', where);
      for (const e of entries) await add(e, block, start + 4, where);
    }
  }
  if (inode.fileAcl !== 0) {
    const b = await layout.cache.block(inode.fileAcl, 'xattr block', { inode: inode.ino });
    const where = { inode: inode.ino, block: inode.fileAcl };
    if (b.readUInt32LE(0) !== EXT4_XATTR_MAGIC || b.readUInt32LE(8) !== 1) throw corrupt('bad xattr block header', where);
    if (layout.metadataCsum && !xattrBlockChecksumValid(b, inode.fileAcl, layout.csumSeed)) throw corrupt('xattr block checksum mismatch', where);
    const entries = decodeXattrEntries(b, BLOCK_HEADER_BYTES, b.length);
    if (!entries) throw corrupt('malformed xattr block entries', where);
    for (const e of entries) await add(e, b, 0, where);
  }
  return out;
}
