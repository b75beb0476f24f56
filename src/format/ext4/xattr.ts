// ext4 extended attributes: in-inode area and external block, entry/block hashes, block checksum, and the
// conversion of POSIX ACL xattrs from the VFS format (as tar carries them) to ext4's on-disk ACL format.
// Layout per Linux Documentation/filesystems/ext4/attributes.rst; ACL format per fs/ext4/acl.h.
import { ImageError } from '../../errors.js';
import { crc32cRaw } from './crc32c.js';
import { EXT4_XATTR_MAGIC } from './constants.js';

/** An attribute ready to be stored: name index, name suffix and value in on-disk form. */
export interface XattrEntry {
  index: number;
  name: Buffer;
  value: Buffer;
}

const PREFIXES: [prefix: string, index: number][] = [
  ['user.', 1],
  ['system.posix_acl_access', 2],
  ['system.posix_acl_default', 3],
  ['trusted.', 4],
  ['security.', 6],
  ['system.', 7],
];

function pad4(n: number): number {
  return (n + 3) & ~3;
}

/** Maps a full xattr name and value to its on-disk entry (ACLs converted); throws UNSUPPORTED for unknown namespaces. */
export function toXattrEntry(fullName: string, value: Buffer): XattrEntry {
  for (const [prefix, index] of PREFIXES) {
    if (index === 2 || index === 3) {
      if (fullName === prefix) return { index, name: Buffer.alloc(0), value: aclToDisk(value, fullName) };
      continue;
    }
    if (fullName.startsWith(prefix) && fullName.length > prefix.length) return { index, name: Buffer.from(fullName.slice(prefix.length), 'utf8'), value };
  }
  throw new ImageError('UNSUPPORTED', `extended attribute namespace of ${JSON.stringify(fullName)} is not supported by ext4`, {
    details: { name: fullName },
    hint: 'ext4 stores user., trusted., security. and system. attributes only',
  });
}

/** Converts a VFS POSIX ACL (version 2, 8-byte entries) to ext4's (version 1, short entries for *_OBJ/MASK/OTHER). */
function aclToDisk(v: Buffer, name: string): Buffer {
  if (v.length < 4 || (v.length - 4) % 8 !== 0 || v.readUInt32LE(0) !== 2) {
    throw new ImageError('CORRUPT', `malformed POSIX ACL in ${name}`, { details: { name, bytes: v.length } });
  }
  const parts: Buffer[] = [Buffer.from([1, 0, 0, 0])];
  for (let o = 4; o < v.length; o += 8) {
    const tag = v.readUInt16LE(o);
    const short = tag === 0x01 || tag === 0x04 || tag === 0x10 || tag === 0x20;
    const e = Buffer.alloc(short ? 4 : 8);
    e.writeUInt16LE(tag, 0);
    e.writeUInt16LE(v.readUInt16LE(o + 2), 2);
    if (!short) e.writeUInt32LE(v.readUInt32LE(o + 4), 4);
    parts.push(e);
  }
  return Buffer.concat(parts);
}

/** Sorts entries the way the kernel searches block entries: by index, name length, then name bytes. */
export function sortXattrs(entries: XattrEntry[]): XattrEntry[] {
  return [...entries].sort((a, b) => a.index - b.index || a.name.length - b.name.length || Buffer.compare(a.name, b.name));
}

/** e_hash of an entry (name chars taken as signed, as e2fsprogs 1.47 on x86 computes it). */
export function xattrEntryHash(e: XattrEntry): number {
  let h = 0;
  for (const c of e.name) h = ((h << 5) ^ (h >>> 27) ^ (c >= 0x80 ? c - 256 : c)) >>> 0;
  if (e.value.length > 0) {
    const padded = Buffer.alloc(pad4(e.value.length));
    e.value.copy(padded);
    for (let o = 0; o < padded.length; o += 4) h = ((h << 16) ^ (h >>> 16) ^ padded.readUInt32LE(o)) >>> 0;
  }
  return h >>> 0;
}

/** Bytes the entry table needs (entries plus the 4-byte terminator) and the values need. */
function sizes(entries: XattrEntry[]): { table: number; values: number } {
  let table = 4;
  let values = 0;
  for (const e of entries) {
    table += pad4(16 + e.name.length);
    values += pad4(e.value.length);
  }
  return { table, values };
}

/** Writes entries at `tableStart` with values packed down from `end`; value offsets are relative to `base`. */
function writeTable(b: Buffer, entries: XattrEntry[], tableStart: number, end: number, base: number): number[] {
  let off = tableStart;
  let valEnd = end;
  const hashes: number[] = [];
  for (const e of entries) {
    const vsize = pad4(e.value.length);
    valEnd -= vsize;
    e.value.copy(b, valEnd);
    const hash = xattrEntryHash(e);
    hashes.push(hash);
    b.writeUInt8(e.name.length, off);
    b.writeUInt8(e.index, off + 1);
    b.writeUInt16LE(e.value.length > 0 ? valEnd - base : 0, off + 2);
    b.writeUInt32LE(0, off + 4);
    b.writeUInt32LE(e.value.length, off + 8);
    b.writeUInt32LE(hash, off + 12);
    e.name.copy(b, off + 16);
    off += pad4(16 + e.name.length);
  }
  return hashes;
}

/** The in-inode xattr area (magic + entries + values) of `areaSize` bytes, or undefined when they do not fit. */
export function encodeInodeXattrs(entries: XattrEntry[], areaSize: number): Buffer | undefined {
  if (entries.length === 0) return undefined;
  const sorted = sortXattrs(entries);
  const { table, values } = sizes(sorted);
  if (4 + table + values > areaSize) return undefined;
  const b = Buffer.alloc(areaSize);
  b.writeUInt32LE(EXT4_XATTR_MAGIC, 0);
  writeTable(b, sorted, 4, areaSize, 4);
  return b;
}

/** Size of the external xattr block header. */
export const XATTR_BLOCK_HEADER_SIZE = 32;

/** An external xattr block at device block `blockNo`, or undefined when the entries do not fit one block. */
export function encodeXattrBlock(entries: XattrEntry[], blockSize: number, blockNo: number, csumSeed: number): Buffer | undefined {
  const sorted = sortXattrs(entries);
  const { table, values } = sizes(sorted);
  if (XATTR_BLOCK_HEADER_SIZE + table + values > blockSize) return undefined;
  const b = Buffer.alloc(blockSize);
  b.writeUInt32LE(EXT4_XATTR_MAGIC, 0);
  b.writeUInt32LE(1, 4); // h_refcount
  b.writeUInt32LE(1, 8); // h_blocks
  const hashes = writeTable(b, sorted, XATTR_BLOCK_HEADER_SIZE, blockSize, 0);
  let h = 0;
  for (const eh of hashes) {
    if (eh === 0) {
      h = 0;
      break;
    }
    h = ((h << 16) ^ (h >>> 16) ^ eh) >>> 0;
  }
  b.writeUInt32LE(h >>> 0, 12);
  const nr = Buffer.alloc(8);
  nr.writeBigUInt64LE(BigInt(blockNo));
  b.writeUInt32LE(crc32cRaw(crc32cRaw(csumSeed, nr), b, 0, blockSize), 16);
  return b;
}
