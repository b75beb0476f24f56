// The scanned tar entry: every header field after pax/GNU overrides, plus exact offsets of its data in the stream.
import type { SparseRun } from '../../src/format/tar/header.js';
import type { DataSegment, Timestamp } from '../tree/fs-tree.js';

/** Entry kinds after dialect folding ('0', '\0', '7' and unknown typeflags are 'file'; GNU 'D' is 'dir'). */
export type TarEntryType = 'file' | 'hardlink' | 'symlink' | 'char' | 'block' | 'dir' | 'fifo';

/** One archive member as the scanner yields it. Offsets are byte offsets in the uncompressed tar stream. */
export interface TarEntry {
  /** Offset of the first block belonging to this entry (its first pax/GNU extension header, if any). */
  headerOffset: number;
  /** Offset of the entry's own (ustar) header block. */
  mainHeaderOffset: number;
  /** Path exactly as archived after pax `path` / GNU `L` / `GNU.sparse.name` overrides (not normalised). */
  path: string;
  type: TarEntryType;
  /** The raw typeflag character ('\0' reported as '0'). */
  typeflag: string;
  /** Hardlink or symlink target after pax `linkpath` / GNU `K` overrides; '' when none. */
  linkname: string;
  /** Mode field including any file-type bits the archiver stored; use `mode & 0o7777` for permissions. */
  mode: number;
  uid: number;
  gid: number;
  uname: string;
  gname: string;
  mtime: Timestamp;
  /** From pax `atime` or old-GNU atime; undefined when the archive does not carry it. */
  atime: Timestamp | undefined;
  ctime: Timestamp | undefined;
  devmajor: number;
  devminor: number;
  /** Apparent size of the file (the real size of a sparse file). */
  size: number;
  /** Offset of the first stored data byte (past the GNU sparse 1.0 map); always 512-aligned. */
  dataOffset: number;
  /** Number of stored data bytes starting at `dataOffset` (excludes padding and the 1.0 map). */
  dataBytes: number;
  /** Sparse runs (file offset, length), stored back to back from `dataOffset`; undefined for a dense file. */
  sparse: SparseRun[] | undefined;
  /** Extended attributes from SCHILY.xattr.* and LIBARCHIVE.xattr.* records (raw bytes). */
  xattrs: Map<string, Buffer>;
  /** Offset just past the entry's data padding (where the next header starts). */
  endOffset: number;
}

/** Stable codes of scanner warnings (with `strict`, each becomes a CORRUPT error carrying the code). */
export type TarWarningCode =
  | 'TRAILING_DATA' // non-zero bytes after the end-of-archive marker
  | 'MISSING_END_MARKER' // the stream ended at an entry boundary without two zero blocks
  | 'LONE_ZERO_BLOCK' // a single zero block followed by more headers
  | 'UNKNOWN_TYPEFLAG' // an unknown typeflag, read as a regular file (POSIX.1-2001 ustar)
  | 'SKIPPED_ENTRY' // a GNU volume label ('V') or other non-file member that was skipped
  | 'NON_UTF8_NAME'; // a path or link name that is not valid UTF-8 (decoded with replacement characters)

/** A tolerated irregularity in the archive. */
export interface TarWarning {
  code: TarWarningCode;
  message: string;
  /** Stream offset where it was noticed. */
  offset: number;
}

/** The pieces of a regular file's data in the tar: one segment per non-empty (sparse) run. */
export function entrySegments(entry: TarEntry): DataSegment[] {
  if (entry.type !== 'file') return [];
  if (!entry.sparse) return entry.dataBytes > 0 ? [{ fileOffset: 0, length: entry.dataBytes, tarOffset: entry.dataOffset }] : [];
  const out: DataSegment[] = [];
  let tarOffset = entry.dataOffset;
  for (const run of entry.sparse) {
    if (run.length > 0) out.push({ fileOffset: run.offset, length: run.length, tarOffset });
    tarOffset += run.length;
  }
  return out;
}
