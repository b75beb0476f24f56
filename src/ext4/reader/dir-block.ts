// Parsing and checking one directory block: linear leaf records (ext4_dir_entry_2) with the metadata_csum
// tail, and recognising htree index blocks inside indexed directories. Per Linux Documentation/filesystems/ext4/directory.rst.
import { crc32cRaw } from '../../format/ext4/crc32c.js';
import { DIRENT_TAIL_SIZE } from '../../format/ext4/dirent.js';
import { decodeDxNode, decodeDxRoot, dxTailValid } from '../../format/ext4/dx-decode.js';
import type { LoadedInode, VolumeLayout } from './volume-layout.js';
import { corrupt } from './reader-errors.js';

/** One live directory record. */
export interface RawDirEntry {
  ino: number;
  name: Buffer;
  /** Dirent file_type (0 without the filetype feature). */
  fileType: number;
}

/** Whether a block of an indexed directory is an htree index block: the root (logical 0) or a dx_node. */
export function isDxBlock(b: Buffer, logical: number, blockBytes: number): boolean {
  if (logical === 0) return true;
  const recLen = b.readUInt16LE(4);
  return b.readUInt32LE(0) === 0 && (recLen === blockBytes || (recLen === 0 && blockBytes === 65536));
}

/** Cached blocks already checked (keyed by the cache's Buffer, so they are forgotten with it). */
const checkedDx = new WeakSet<Buffer>();
const parsedLeaves = new WeakMap<Buffer, RawDirEntry[]>();

/** Verifies an htree index block's dx_tail checksum (metadata_csum); CORRUPT when it does not match. */
export function checkDxBlock(layout: VolumeLayout, dir: LoadedInode, b: Buffer, logical: number, physical: number): void {
  if (!layout.metadataCsum || checkedDx.has(b)) return;
  const dx = logical === 0 ? decodeDxRoot(b) : decodeDxNode(b);
  if (dx.count > dx.limit || !dxTailValid(b, dx, dir.csumSeed)) {
    throw corrupt('htree index block checksum mismatch', { inode: dir.ino, block: physical, logical });
  }
  checkedDx.add(b);
}

/** The live records of a leaf block, validating every record and the checksum tail (metadata_csum); parsed once per cached block. */
export function parseLeafBlock(layout: VolumeLayout, dir: LoadedInode, b: Buffer, logical: number, physical: number): RawDirEntry[] {
  const known = parsedLeaves.get(b);
  if (known) return known;
  const out = parseLeaf(layout, dir, b, logical, physical);
  parsedLeaves.set(b, out);
  return out;
}

function parseLeaf(layout: VolumeLayout, dir: LoadedInode, b: Buffer, logical: number, physical: number): RawDirEntry[] {
  const where = { inode: dir.ino, block: physical, logical };
  let end = b.length;
  if (layout.metadataCsum) {
    end = b.length - DIRENT_TAIL_SIZE;
    const tailOk = b.readUInt32LE(end) === 0 && b.readUInt16LE(end + 4) === DIRENT_TAIL_SIZE && b.readUInt8(end + 6) === 0 && b.readUInt8(end + 7) === 0xde;
    if (!tailOk) throw corrupt('directory block has no checksum tail', where);
    const computed = crc32cRaw(dir.csumSeed, b, 0, end);
    const stored = b.readUInt32LE(end + 8);
    if (computed !== stored) throw corrupt('directory block checksum mismatch', { ...where, stored, computed });
  }
  const hasType = (layout.sb.featureIncompat & 0x2) !== 0;
  const out: RawDirEntry[] = [];
  let off = 0;
  while (off < end) {
    if (off + 8 > end) throw corrupt('directory record crosses the block end', { ...where, offset: off });
    const ino = b.readUInt32LE(off);
    let recLen = b.readUInt16LE(off + 4);
    if (recLen === 0 && layout.blockBytes === 65536 && off === 0) recLen = 65536;
    const nameLen = b.readUInt8(off + 6);
    if (recLen < 12 || recLen % 4 !== 0 || off + recLen > end || 8 + nameLen > recLen) {
      throw corrupt('bad directory record', { ...where, offset: off, recLen, nameLen });
    }
    if (ino > layout.sb.inodesCount) throw corrupt('directory record names an inode out of range', { ...where, offset: off, entryInode: ino });
    if (ino !== 0 && nameLen > 0) out.push({ ino, name: Buffer.from(b.subarray(off + 8, off + 8 + nameLen)), fileType: hasType ? b.readUInt8(off + 7) : 0 });
    off += recLen;
  }
  return out;
}

/** The "." and ".." records of an htree root block (the rest of the block is the index). */
export function parseDxRootDots(layout: VolumeLayout, dir: LoadedInode, b: Buffer, physical: number): RawDirEntry[] {
  const dotLen = b.readUInt16LE(4);
  const ok = b.readUInt8(6) === 1 && b[8] === 0x2e && dotLen === 12 && b.readUInt8(18) === 2 && b[20] === 0x2e && b[21] === 0x2e;
  if (!ok) throw corrupt('bad htree root block (missing "." or "..")', { inode: dir.ino, block: physical });
  const hasType = (layout.sb.featureIncompat & 0x2) !== 0;
  return [
    { ino: b.readUInt32LE(0), name: Buffer.from('.'), fileType: hasType ? b.readUInt8(7) : 0 },
    { ino: b.readUInt32LE(12), name: Buffer.from('..'), fileType: hasType ? b.readUInt8(19) : 0 },
  ];
}
