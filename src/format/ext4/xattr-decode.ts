// Decoder of ext4 extended attributes (in-inode area and external block), the xattr block checksum, and the
// conversion of on-disk POSIX ACLs back to the VFS xattr format. Per Linux Documentation/filesystems/ext4/
// attributes.rst (kernel 6.x), fs/ext4/xattr.h and fs/ext4/acl.h.
import { crc32cRaw } from './crc32c.js';

/** One decoded entry; `valueOffset` is relative to the area's value base; `valueInode` != 0 with ea_inode. */
export interface DecodedXattrEntry {
  index: number;
  name: Buffer;
  valueOffset: number;
  valueInode: number;
  valueSize: number;
  hash: number;
}

/** Name prefixes by e_name_index; indexes 2/3 are complete names. */
export const XATTR_PREFIXES: Record<number, string> = {
  1: 'user.',
  2: 'system.posix_acl_access',
  3: 'system.posix_acl_default',
  4: 'trusted.',
  6: 'security.',
  7: 'system.',
  8: 'system.richacl',
};

/** The full name of an entry, or undefined for an unknown name index. */
export function xattrFullName(e: DecodedXattrEntry): string | undefined {
  const prefix = XATTR_PREFIXES[e.index];
  return prefix === undefined ? undefined : prefix + e.name.toString('utf8');
}

/** Decodes the entry table starting at `start` up to `end` (4 zero bytes end it); undefined when malformed. */
export function decodeXattrEntries(b: Buffer, start: number, end: number): DecodedXattrEntry[] | undefined {
  const out: DecodedXattrEntry[] = [];
  let o = start;
  for (;;) {
    if (o + 4 > end) return undefined;
    if (b.readUInt32LE(o) === 0) return out;
    if (o + 16 > end) return undefined;
    const nameLen = b.readUInt8(o);
    if (o + 16 + nameLen > end) return undefined;
    out.push({
      index: b.readUInt8(o + 1),
      valueOffset: b.readUInt16LE(o + 2),
      valueInode: b.readUInt32LE(o + 4),
      valueSize: b.readUInt32LE(o + 8),
      hash: b.readUInt32LE(o + 12),
      name: Buffer.from(b.subarray(o + 16, o + 16 + nameLen)),
    });
    o += (16 + nameLen + 3) & ~3;
  }
}

/** Whether an external xattr block's checksum matches: crc32c(fs seed, le64 block number, block with h_checksum zero). */
export function xattrBlockChecksumValid(block: Buffer, blockNo: number, csumSeed: number): boolean {
  const nr = Buffer.alloc(8);
  nr.writeBigUInt64LE(BigInt(blockNo));
  let c = crc32cRaw(crc32cRaw(csumSeed, nr), block, 0, 0x10);
  c = crc32cRaw(c, new Uint8Array(4));
  c = crc32cRaw(c, block, 0x14, block.length);
  return c >>> 0 === block.readUInt32LE(0x10);
}

/** Converts an ext4 on-disk ACL (version 1, short entries) to the VFS form (version 2, 8-byte entries); undefined if malformed. */
export function aclFromDisk(v: Buffer): Buffer | undefined {
  if (v.length < 4 || v.readUInt32LE(0) !== 1) return undefined;
  const parts: Buffer[] = [Buffer.from([2, 0, 0, 0])];
  let o = 4;
  while (o < v.length) {
    if (o + 4 > v.length) return undefined;
    const tag = v.readUInt16LE(o);
    const e = Buffer.alloc(8);
    e.writeUInt16LE(tag, 0);
    e.writeUInt16LE(v.readUInt16LE(o + 2), 2);
    if (tag === 0x02 || tag === 0x08) {
      if (o + 8 > v.length) return undefined;
      e.writeUInt32LE(v.readUInt32LE(o + 4), 4);
      o += 8;
    } else {
      e.writeUInt32LE(0xffffffff, 4);
      o += 4;
    }
    parts.push(e);
  }
  return Buffer.concat(parts);
}
