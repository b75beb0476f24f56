// ext4 linear directory blocks: ext4_dir_entry_2 records with file types and the 12-byte checksum tail.
// Layout per Linux Documentation/filesystems/ext4/directory.rst ("Linear (Classic) Directories").
import { crc32cRaw } from './crc32c.js';

/** One directory entry to write. */
export interface DirEntry {
  inode: number;
  name: Uint8Array;
  fileType: number;
}

/** Size of the checksum tail (a fake dirent) at the end of each leaf block. */
export const DIRENT_TAIL_SIZE = 12;

/** Bytes an entry with a name of `nameLen` bytes needs: 8-byte header plus the name rounded up to 4. */
export function direntSize(nameLen: number): number {
  return (8 + nameLen + 3) & ~3;
}

/** Splits entries into leaf blocks in order, each holding at most blockSize - 12 bytes of records. */
export function packDirEntries(entries: DirEntry[], blockSize: number): DirEntry[][] {
  const room = blockSize - DIRENT_TAIL_SIZE;
  const blocks: DirEntry[][] = [];
  let cur: DirEntry[] = [];
  let used = 0;
  for (const e of entries) {
    const size = direntSize(e.name.length);
    if (used + size > room && cur.length > 0) {
      blocks.push(cur);
      cur = [];
      used = 0;
    }
    cur.push(e);
    used += size;
  }
  if (cur.length > 0 || blocks.length === 0) blocks.push(cur);
  return blocks;
}

/** Encodes one leaf block: records in order, the last stretched to the tail, then the checksum tail. */
export function encodeDirBlock(entries: DirEntry[], blockSize: number, inodeSeed: number): Buffer {
  const b = Buffer.alloc(blockSize);
  const end = blockSize - DIRENT_TAIL_SIZE;
  let off = 0;
  if (entries.length === 0) {
    // An empty leaf: one unused record covering the block.
    b.writeUInt32LE(0, 0);
    b.writeUInt16LE(end, 4);
  }
  entries.forEach((e, i) => {
    const size = direntSize(e.name.length);
    const recLen = i === entries.length - 1 ? end - off : size;
    b.writeUInt32LE(e.inode, off);
    b.writeUInt16LE(recLen, off + 4);
    b.writeUInt8(e.name.length, off + 6);
    b.writeUInt8(e.fileType, off + 7);
    b.set(e.name, off + 8);
    off += recLen;
  });
  // Tail: inode 0, rec_len 12, name_len 0, file_type 0xDE, checksum.
  b.writeUInt16LE(DIRENT_TAIL_SIZE, end + 4);
  b.writeUInt8(0xde, end + 7);
  b.writeUInt32LE(crc32cRaw(inodeSeed, b, 0, end), end + 8);
  return b;
}

/** Decodes the live records of a leaf block (inode != 0), skipping the checksum tail. */
export function decodeDirBlock(b: Buffer): DirEntry[] {
  const out: DirEntry[] = [];
  let off = 0;
  while (off + 8 <= b.length) {
    const inode = b.readUInt32LE(off);
    const recLen = b.readUInt16LE(off + 4);
    const nameLen = b.readUInt8(off + 6);
    if (recLen < 8) break;
    if (inode !== 0) out.push({ inode, name: Uint8Array.from(b.subarray(off + 8, off + 8 + nameLen)), fileType: b.readUInt8(off + 7) });
    off += recLen;
  }
  return out;
}
