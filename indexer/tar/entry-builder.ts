// Folds one ustar header with the pax (x/g) records and GNU long name/link payloads that precede it into a TarEntry.
import { ImageError } from '../../src/errors.js';
import type { RawHeader, SparseRun } from '../../src/format/tar/header.js';
import { decodeUrlEscapes, type PaxRecord, parsePaxNumber, parsePaxTime } from '../../src/format/tar/pax.js';
import { parseSparseMapV01 } from '../../src/format/tar/sparse.js';
import type { Timestamp } from '../tree/fs-tree.js';
import type { TarEntry, TarEntryType, TarWarning } from './tar-entry.js';

/** Extension data collected from the blocks before a main header. */
export interface PendingMeta {
  /** Offset of the first extension header (or undefined when none came). */
  start: number | undefined;
  longName: Buffer | undefined;
  longLink: Buffer | undefined;
  pax: PaxRecord[];
}

/** How a sparse entry stores its map. */
export type SparseFormat = 'none' | 'old-gnu' | 'pax-0.0' | 'pax-0.1' | 'pax-1.0';

/** A fresh, empty PendingMeta. */
export function emptyMeta(): PendingMeta {
  return { start: undefined, longName: undefined, longLink: undefined, pax: [] };
}

const TYPES: Record<string, TarEntryType> = {
  '0': 'file',
  '7': 'file',
  S: 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '3': 'char',
  '4': 'block',
  '5': 'dir',
  D: 'dir',
  '6': 'fifo',
};

/** Decodes a name as UTF-8, reporting invalid sequences. */
function decodeName(raw: Buffer, offset: number, warn: (w: TarWarning) => void): string {
  const s = raw.toString('utf8');
  if (s.includes('\uFFFD') && !Buffer.from(s, 'utf8').equals(raw)) {
    warn({ code: 'NON_UTF8_NAME', message: `name is not valid UTF-8: ${JSON.stringify(s)}`, offset });
  }
  return s;
}

// An empty value unsets the keyword (POSIX pax "Extended Header Keywords"): the header field applies again.
function paxString(pax: Map<string, Buffer> | undefined, key: string): string | undefined {
  if (pax === undefined) return undefined;
  const v = pax.get(key);
  return v === undefined || v.length === 0 ? undefined : v.toString('utf8');
}

function paxNumber(pax: Map<string, Buffer> | undefined, key: string, offset: number): number | undefined {
  const v = paxString(pax, key);
  return v === undefined ? undefined : parsePaxNumber(v, key, offset);
}

function paxTimeOf(pax: Map<string, Buffer> | undefined, key: string, offset: number): Timestamp | undefined {
  const v = paxString(pax, key);
  return v === undefined ? undefined : parsePaxTime(v, key, offset);
}

/** The result of folding: the entry (data offsets filled in by the scanner) and how its sparse map is stored. */
export interface BuiltEntry {
  entry: TarEntry;
  sparseFormat: SparseFormat;
  /** Stored size from the header or pax `size` (for 1.0 it still includes the map). */
  storedSize: number;
}

/**
 * Builds the entry for main header `h` at `offset`. `globals` are the accumulated `g` records (empty value = unset).
 * Pax records win over GNU long names, which win over header fields.
 */
export function buildEntry(h: RawHeader, offset: number, meta: PendingMeta, globals: Map<string, Buffer>, warn: (w: TarWarning) => void): BuiltEntry {
  let pax: Map<string, Buffer> | undefined;
  if (globals.size > 0 || meta.pax.length > 0) {
    pax = new Map(globals);
    for (const r of meta.pax) pax.set(r.key, r.value);
  }
  if (h.invalidUtf8) warn({ code: 'NON_UTF8_NAME', message: `header name or link is not valid UTF-8: ${JSON.stringify(h.name)}`, offset });
  let path = paxString(pax, 'path') ?? (meta.longName ? decodeName(meta.longName, offset, warn) : h.name);
  const linkname = paxString(pax, 'linkpath') ?? (meta.longLink ? decodeName(meta.longLink, offset, warn) : h.linkname);
  let type = TYPES[h.typeflag];
  if (type === undefined) {
    warn({ code: 'UNKNOWN_TYPEFLAG', message: `typeflag ${JSON.stringify(h.typeflag)} read as a regular file`, offset });
    type = 'file';
  }
  const storedSize = paxNumber(pax, 'size', offset) ?? h.size;
  const xattrs = new Map<string, Buffer>();
  let sparseFormat: SparseFormat = 'none';
  let sparse: SparseRun[] | undefined;
  let size = storedSize;
  if (h.typeflag === 'S' && h.sparse) {
    sparseFormat = 'old-gnu';
    sparse = h.sparse;
    size = h.realSize ?? storedSize;
  }
  if (pax) {
    for (const [key, value] of pax) {
      if (key.startsWith('SCHILY.xattr.')) xattrs.set(key.slice(13), value);
      else if (key.startsWith('LIBARCHIVE.xattr.')) xattrs.set(decodeUrlEscapes(key.slice(17)), Buffer.from(value.toString('latin1'), 'base64'));
    }
    const major = paxString(pax, 'GNU.sparse.major');
    if (major === '1') {
      sparseFormat = 'pax-1.0';
      size = paxNumber(pax, 'GNU.sparse.realsize', offset) ?? paxNumber(pax, 'GNU.sparse.size', offset) ?? storedSize;
    } else if (paxString(pax, 'GNU.sparse.map') !== undefined) {
      sparseFormat = 'pax-0.1';
      sparse = parseSparseMapV01(paxString(pax, 'GNU.sparse.map')!, offset);
      size = paxNumber(pax, 'GNU.sparse.size', offset) ?? paxNumber(pax, 'GNU.sparse.realsize', offset) ?? storedSize;
    } else if (paxString(pax, 'GNU.sparse.offset') !== undefined || paxString(pax, 'GNU.sparse.numblocks') !== undefined) {
      sparseFormat = 'pax-0.0';
      sparse = [];
      let pendingOffset: number | undefined;
      for (const r of meta.pax) {
        if (r.key === 'GNU.sparse.offset') pendingOffset = parsePaxNumber(r.value.toString('latin1'), r.key, offset);
        else if (r.key === 'GNU.sparse.numbytes') {
          if (pendingOffset === undefined) throw new ImageError('CORRUPT', 'GNU.sparse.numbytes without GNU.sparse.offset', { details: { offset } });
          sparse.push({ offset: pendingOffset, length: parsePaxNumber(r.value.toString('latin1'), r.key, offset) });
          pendingOffset = undefined;
        }
      }
      size = paxNumber(pax, 'GNU.sparse.size', offset) ?? paxNumber(pax, 'GNU.sparse.realsize', offset) ?? storedSize;
    }
    const sparseName = paxString(pax, 'GNU.sparse.name');
    if (sparseFormat !== 'none' && sparseName !== undefined) path = sparseName;
    if (sparseFormat !== 'none' && type !== 'file') {
      throw new ImageError('CORRUPT', 'GNU sparse records on a non-regular entry', { details: { offset, typeflag: h.typeflag } });
    }
  }
  const mtime = paxTimeOf(pax, 'mtime', offset) ?? { sec: h.mtime, nsec: 0 };
  const atime = paxTimeOf(pax, 'atime', offset) ?? (h.atime !== undefined && h.atime !== 0 ? { sec: h.atime, nsec: 0 } : undefined);
  const ctime = paxTimeOf(pax, 'ctime', offset) ?? (h.ctime !== undefined && h.ctime !== 0 ? { sec: h.ctime, nsec: 0 } : undefined);
  const entry: TarEntry = {
    headerOffset: meta.start ?? offset,
    mainHeaderOffset: offset,
    path,
    type,
    typeflag: h.typeflag,
    linkname,
    mode: h.mode,
    uid: paxNumber(pax, 'uid', offset) ?? h.uid,
    gid: paxNumber(pax, 'gid', offset) ?? h.gid,
    uname: paxString(pax, 'uname') ?? h.uname,
    gname: paxString(pax, 'gname') ?? h.gname,
    mtime,
    atime,
    ctime,
    devmajor: h.devmajor,
    devminor: h.devminor,
    size,
    dataOffset: 0,
    dataBytes: storedSize,
    sparse,
    xattrs,
    endOffset: 0,
  };
  return { entry, sparseFormat, storedSize };
}
