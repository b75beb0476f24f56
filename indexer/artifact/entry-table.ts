// Tar entry table v1 (docs/format.md "Tar entry table v1"): a layer's scanned tar entries, enough to rebuild its tree without the layer.
import { compress, decompress } from 'zstd-napi';

import { ImageError } from '../../src/errors.js';
import { isDigest } from '../../src/format/oci/digest.js';
import type { Timestamp } from '../tree/fs-tree.js';
import type { TarEntry, TarEntryType } from '../tar/tar-entry.js';

/** The 8-byte magic at the start of the decompressed table. */
export const ENTRY_TABLE_MAGIC = 'TOCITARE';
/** Format version written and read. */
export const ENTRY_TABLE_VERSION = 1;
/** zstd level of the table: 3 (zstd's default) compresses a 20k-entry table in a few ms. */
const ENTRY_TABLE_ZSTD_LEVEL = 3;

const TYPES: readonly TarEntryType[] = ['file', 'hardlink', 'symlink', 'char', 'block', 'dir', 'fifo'];

/** A layer's entry table in memory. */
export interface EntryTable {
  /** sha256 digest of the uncompressed tar (the layer's diffID). */
  diffId: string;
  /** Size of the uncompressed tar. */
  tarBytes: number;
  entries: TarEntry[];
}

type Tuple = [
  number, number, string, string, string, string, number, number, number, string, string,
  [number, number], [number, number] | null, [number, number] | null,
  number, number, number, number, number, [number, number][] | null, [string, string][], number,
];

function time(t: Timestamp): [number, number] {
  return [t.sec, t.nsec];
}

/** Offsets are stored relative to the previous entry's end and to each other: small repeating numbers compress ~2x better. */
function toTuple(e: TarEntry, previousEnd: number): Tuple {
  return [
    e.headerOffset - previousEnd, e.mainHeaderOffset - e.headerOffset, e.path, e.type, e.typeflag, e.linkname, e.mode, e.uid, e.gid, e.uname, e.gname,
    time(e.mtime), e.atime ? time(e.atime) : null, e.ctime ? time(e.ctime) : null,
    e.devmajor, e.devminor, e.size, e.dataOffset - e.mainHeaderOffset, e.dataBytes,
    e.sparse ? e.sparse.map((r) => [r.offset, r.length] as [number, number]) : null,
    [...e.xattrs].map(([k, v]) => [k, v.toString('base64')] as [string, string]),
    e.endOffset - e.dataOffset,
  ];
}

/** Encodes a table: a header line of JSON then one JSON array per entry, all in one zstd frame. Deterministic. */
export function encodeEntryTable(table: EntryTable): Buffer {
  const header = JSON.stringify({ magic: ENTRY_TABLE_MAGIC, version: ENTRY_TABLE_VERSION, diffId: table.diffId, tarBytes: table.tarBytes, entries: table.entries.length });
  const lines = [header];
  let previousEnd = 0;
  for (const e of table.entries) {
    lines.push(JSON.stringify(toTuple(e, previousEnd)));
    previousEnd = e.endOffset;
  }
  return compress(Buffer.from(`${lines.join('\n')}\n`, 'utf8'), { compressionLevel: ENTRY_TABLE_ZSTD_LEVEL });
}

function corrupt(message: string, details: Record<string, string | number> = {}): ImageError {
  return new ImageError('CORRUPT', `tar entry table: ${message}`, { details });
}

const isInt = (v: unknown): v is number => Number.isSafeInteger(v);
const isNonNeg = (v: unknown): v is number => isInt(v) && v >= 0;

function timeOf(v: unknown, line: number): Timestamp {
  if (!Array.isArray(v) || v.length !== 2 || !isInt(v[0]) || !isNonNeg(v[1]) || v[1] >= 1e9) throw corrupt('bad timestamp', { line });
  return { sec: v[0], nsec: v[1] };
}

function fromTuple(v: unknown, line: number, previousEnd: number): TarEntry {
  if (!Array.isArray(v) || v.length !== 22) throw corrupt('entry is not a 22-field array', { line });
  const t = v as unknown[];
  const nums = [0, 1, 6, 7, 8, 14, 15, 16, 17, 18, 21];
  for (const i of nums) if (!isNonNeg(t[i])) throw corrupt(`field ${i} is not a non-negative integer`, { line });
  const headerOffset = previousEnd + (t[0] as number);
  const mainHeaderOffset = headerOffset + (t[1] as number);
  const dataOffset = mainHeaderOffset + (t[17] as number);
  const endOffset = dataOffset + (t[21] as number);
  if (!Number.isSafeInteger(endOffset)) throw corrupt('offsets overflow', { line });
  for (const i of [2, 3, 4, 5, 9, 10]) if (typeof t[i] !== 'string') throw corrupt(`field ${i} is not a string`, { line });
  if (!TYPES.includes(t[3] as TarEntryType)) throw corrupt('unknown entry type', { line, type: String(t[3]) });
  let sparse: { offset: number; length: number }[] | undefined;
  if (t[19] !== null) {
    if (!Array.isArray(t[19])) throw corrupt('sparse map is not an array', { line });
    sparse = (t[19] as unknown[]).map((r) => {
      if (!Array.isArray(r) || r.length !== 2 || !isNonNeg(r[0]) || !isNonNeg(r[1])) throw corrupt('bad sparse run', { line });
      return { offset: r[0], length: r[1] };
    });
  }
  if (!Array.isArray(t[20])) throw corrupt('xattrs are not an array', { line });
  const xattrs = new Map<string, Buffer>();
  for (const x of t[20] as unknown[]) {
    if (!Array.isArray(x) || x.length !== 2 || typeof x[0] !== 'string' || typeof x[1] !== 'string') throw corrupt('bad xattr', { line });
    xattrs.set(x[0], Buffer.from(x[1], 'base64'));
  }
  return {
    headerOffset,
    mainHeaderOffset,
    path: t[2] as string,
    type: t[3] as TarEntryType,
    typeflag: t[4] as string,
    linkname: t[5] as string,
    mode: t[6] as number,
    uid: t[7] as number,
    gid: t[8] as number,
    uname: t[9] as string,
    gname: t[10] as string,
    mtime: timeOf(t[11], line),
    atime: t[12] === null ? undefined : timeOf(t[12], line),
    ctime: t[13] === null ? undefined : timeOf(t[13], line),
    devmajor: t[14] as number,
    devminor: t[15] as number,
    size: t[16] as number,
    dataOffset,
    dataBytes: t[18] as number,
    sparse,
    xattrs,
    endOffset,
  };
}

/** Decodes and checks a table; CORRUPT on any malformed field, UNSUPPORTED for another version. */
export function decodeEntryTable(blob: Uint8Array): EntryTable {
  let text: string;
  try {
    text = decompress(Buffer.from(blob)).toString('utf8');
  } catch (cause) {
    throw new ImageError('CORRUPT', 'tar entry table: not a zstd frame', { cause });
  }
  const lines = text.split('\n');
  if (lines.pop() !== '') throw corrupt('does not end with a newline');
  let header: { magic?: unknown; version?: unknown; diffId?: unknown; tarBytes?: unknown; entries?: unknown };
  const parse = (s: string, line: number): unknown => {
    try {
      return JSON.parse(s);
    } catch (cause) {
      throw new ImageError('CORRUPT', 'tar entry table: a line is not JSON', { details: { line }, cause });
    }
  };
  header = parse(lines[0] ?? '', 0) as typeof header;
  if (header === null || typeof header !== 'object' || header.magic !== ENTRY_TABLE_MAGIC) throw corrupt('bad magic');
  if (header.version !== ENTRY_TABLE_VERSION) throw new ImageError('UNSUPPORTED', `tar entry table version ${String(header.version)} is not supported`);
  if (typeof header.diffId !== 'string' || !isDigest(header.diffId)) throw corrupt('bad diffId');
  if (!isNonNeg(header.tarBytes) || !isNonNeg(header.entries)) throw corrupt('bad header counts');
  if (lines.length - 1 !== header.entries) throw corrupt('entry count mismatch', { expected: header.entries, actual: lines.length - 1 });
  const entries: TarEntry[] = [];
  let previousEnd = 0;
  for (let i = 1; i < lines.length; i++) {
    const e = fromTuple(parse(lines[i]!, i), i, previousEnd);
    entries.push(e);
    previousEnd = e.endOffset;
  }
  if (previousEnd > header.tarBytes) throw corrupt('entries extend past the end of the tar', { end: previousEnd, tarBytes: header.tarBytes });
  return { diffId: header.diffId, tarBytes: header.tarBytes, entries };
}
