// Tar header block codec (POSIX.1-1988 ustar, POSIX.1-2001 pax framing, GNU tar 1.34 old-GNU extensions): pure, no I/O.
import { ImageError } from '../../errors.js';

/** Size of every tar block (POSIX.1-2001 `pax` §ustar Interchange Format). */
export const TAR_BLOCK_BYTES = 512;

/** Which header flavour a block carries, from its magic/version fields. */
export type HeaderMagic = 'ustar' | 'gnu' | 'v7';

/** One GNU old-style sparse run as stored in a header or extension block: file offset and byte count. */
export interface SparseRun {
  offset: number;
  length: number;
}

/** The fields of one 512-byte header block, decoded but not yet combined with pax/GNU extension records. */
export interface RawHeader {
  /** Name field joined with the ustar prefix (POSIX ustar only; GNU uses those bytes for atime/ctime). */
  name: Buffer;
  mode: number;
  uid: number;
  gid: number;
  /** Size field: bytes of data (or of extension payload) that follow this block before padding. */
  size: number;
  /** Seconds since the epoch (may be negative with base-256). */
  mtime: number;
  /** Typeflag character; '\0' is returned as '0'. */
  typeflag: string;
  linkname: Buffer;
  magic: HeaderMagic;
  uname: string;
  gname: string;
  devmajor: number;
  devminor: number;
  /** Old GNU only: atime/ctime seconds when the fields are set, else undefined. */
  atime: number | undefined;
  ctime: number | undefined;
  /** Old GNU sparse ('S') only: the up-to-4 runs in the header, whether extension blocks follow, apparent size. */
  sparse: SparseRun[] | undefined;
  sparseExtended: boolean;
  realSize: number | undefined;
}

/** True when all 512 bytes of `block` are zero (an end-of-archive marker block). */
export function isZeroBlock(block: Buffer): boolean {
  for (let i = 0; i < TAR_BLOCK_BYTES; i += 8) {
    if (block.readBigUInt64LE(i) !== 0n) return false;
  }
  return true;
}

/** Bytes of `buf[start, start+len)` up to the first NUL. */
function cstr(buf: Buffer, start: number, len: number): Buffer {
  let end = start;
  const max = start + len;
  while (end < max && buf[end] !== 0) end++;
  return buf.subarray(start, end);
}

/**
 * Decodes a numeric field: octal ASCII (leading spaces/NULs allowed, terminated by space or NUL) or
 * GNU/star base-256 (high bit of the first byte set; two's complement when bit 6 is set).
 * Returns undefined for an all-blank field. Throws CORRUPT on garbage or a value beyond 2^53.
 */
export function decodeNumeric(buf: Buffer, start: number, len: number, field: string, blockOffset: number): number | undefined {
  const first = buf[start]!;
  if (first & 0x80) {
    const negative = (first & 0x40) !== 0;
    let value = 0n;
    for (let i = 0; i < len; i++) {
      const b = buf[start + i]!;
      value = (value << 8n) | BigInt(i === 0 && !negative ? b & 0x7f : b);
    }
    if (negative) value -= 1n << BigInt(8 * len);
    const n = Number(value);
    if (!Number.isSafeInteger(n)) {
      throw new ImageError('CORRUPT', `tar header field ${field} is out of range`, { details: { offset: blockOffset, field } });
    }
    return n;
  }
  let i = start;
  const end = start + len;
  while (i < end && (buf[i] === 0x20 || buf[i] === 0)) i++;
  if (i === end) return undefined;
  let value = 0;
  for (; i < end; i++) {
    const c = buf[i]!;
    if (c === 0x20 || c === 0) break;
    if (c < 0x30 || c > 0x37) {
      throw new ImageError('CORRUPT', `tar header field ${field} is not an octal number`, { details: { offset: blockOffset, field } });
    }
    value = value * 8 + (c - 0x30);
  }
  if (!Number.isSafeInteger(value)) {
    throw new ImageError('CORRUPT', `tar header field ${field} is out of range`, { details: { offset: blockOffset, field } });
  }
  return value;
}

/** Sums of the header bytes with the checksum field read as spaces: unsigned (POSIX) and signed (old Sun/ GNU tolerance). */
export function headerChecksums(block: Buffer): { unsigned: number; signed: number } {
  let unsigned = 0;
  let signed = 0;
  for (let i = 0; i < TAR_BLOCK_BYTES; i++) {
    const b = i >= 148 && i < 156 ? 0x20 : block[i]!;
    unsigned += b;
    signed += b > 127 ? b - 256 : b;
  }
  return { unsigned, signed };
}

/** Field offsets of the ustar header (POSIX.1-1988 §10.1.1) and old GNU extensions (GNU tar manual, "Standard"). */
const F = {
  name: [0, 100],
  mode: [100, 8],
  uid: [108, 8],
  gid: [116, 8],
  size: [124, 12],
  mtime: [136, 12],
  chksum: [148, 8],
  typeflag: [156, 1],
  linkname: [157, 100],
  magic: [257, 6],
  version: [263, 2],
  uname: [265, 32],
  gname: [297, 32],
  devmajor: [329, 8],
  devminor: [337, 8],
  prefix: [345, 155],
  gnuAtime: [345, 12],
  gnuCtime: [357, 12],
  gnuSparse: [386, 96],
  gnuIsExtended: [482, 1],
  gnuRealSize: [483, 12],
} as const satisfies Record<string, readonly [number, number]>;

/** Offset of the isextended flag in a GNU sparse extension block (21 runs of 24 bytes precede it). */
export const GNU_SPARSE_EXT_FLAG_OFFSET = 504;

/** Decodes `count` sparse runs of 24 bytes (offset[12], numbytes[12]) starting at `start`; stops at the first empty run. */
export function decodeSparseRuns(block: Buffer, start: number, count: number, blockOffset: number): SparseRun[] {
  const runs: SparseRun[] = [];
  for (let i = 0; i < count; i++) {
    const at = start + i * 24;
    const offset = decodeNumeric(block, at, 12, 'sparse.offset', blockOffset);
    const length = decodeNumeric(block, at + 12, 12, 'sparse.numbytes', blockOffset);
    if (offset === undefined || length === undefined) break;
    runs.push({ offset, length });
  }
  return runs;
}

/**
 * Decodes one non-zero header block at stream offset `blockOffset`. Verifies the checksum (unsigned or signed
 * sum accepted) and throws CORRUPT with the offset on mismatch.
 */
export function decodeHeader(block: Buffer, blockOffset: number): RawHeader {
  const stored = decodeNumeric(block, F.chksum[0], F.chksum[1], 'chksum', blockOffset);
  const sums = headerChecksums(block);
  if (stored === undefined || (stored !== sums.unsigned && stored !== sums.signed)) {
    throw new ImageError('CORRUPT', 'tar header checksum mismatch', {
      details: { offset: blockOffset, stored: stored ?? -1, computed: sums.unsigned },
      hint: 'the layer is not a tar archive or is damaged at this offset',
    });
  }
  const magicBytes = block.subarray(257, 265);
  let magic: HeaderMagic = 'v7';
  if (magicBytes.toString('latin1') === 'ustar  \0') magic = 'gnu';
  else if (magicBytes.subarray(0, 5).toString('latin1') === 'ustar') magic = 'ustar';
  const num = (f: readonly [number, number], name: string): number | undefined => decodeNumeric(block, f[0], f[1], name, blockOffset);
  let name = cstr(block, F.name[0], F.name[1]);
  if (magic === 'ustar') {
    const prefix = cstr(block, F.prefix[0], F.prefix[1]);
    if (prefix.length > 0) name = Buffer.concat([prefix, Buffer.from('/'), name]);
  }
  const tf = block[156]!;
  const typeflag = tf === 0 ? '0' : String.fromCharCode(tf);
  const isGnu = magic === 'gnu';
  const header: RawHeader = {
    name,
    mode: num(F.mode, 'mode') ?? 0,
    uid: num(F.uid, 'uid') ?? 0,
    gid: num(F.gid, 'gid') ?? 0,
    size: num(F.size, 'size') ?? 0,
    mtime: num(F.mtime, 'mtime') ?? 0,
    typeflag,
    linkname: cstr(block, F.linkname[0], F.linkname[1]),
    magic,
    uname: magic === 'v7' ? '' : cstr(block, F.uname[0], F.uname[1]).toString('utf8'),
    gname: magic === 'v7' ? '' : cstr(block, F.gname[0], F.gname[1]).toString('utf8'),
    devmajor: magic === 'v7' ? 0 : (num(F.devmajor, 'devmajor') ?? 0),
    devminor: magic === 'v7' ? 0 : (num(F.devminor, 'devminor') ?? 0),
    atime: isGnu ? num(F.gnuAtime, 'atime') : undefined,
    ctime: isGnu ? num(F.gnuCtime, 'ctime') : undefined,
    sparse: undefined,
    sparseExtended: false,
    realSize: undefined,
  };
  if (isGnu && typeflag === 'S') {
    header.sparse = decodeSparseRuns(block, F.gnuSparse[0], 4, blockOffset);
    header.sparseExtended = block[F.gnuIsExtended[0]] !== 0;
    header.realSize = num(F.gnuRealSize, 'realsize');
  }
  return header;
}

/** Fields accepted by the header encoder (used by fixture generators and tests; produces what GNU tar reads). */
export interface HeaderFields {
  name: string | Buffer;
  mode?: number;
  uid?: number;
  gid?: number;
  size?: number;
  mtime?: number;
  typeflag?: string;
  linkname?: string | Buffer;
  /** 'ustar' (POSIX, prefix split for long names), 'gnu' (old GNU magic), 'v7' (no magic). Default 'ustar'. */
  magic?: HeaderMagic;
  uname?: string;
  gname?: string;
  devmajor?: number;
  devminor?: number;
  /** Old GNU sparse: runs in the header (≤ 4), isextended flag, real size. */
  sparse?: SparseRun[];
  sparseExtended?: boolean;
  realSize?: number;
  /** Write numbers in base-256 even when they fit in octal. */
  forceBase256?: boolean;
  /** Store a deliberately wrong checksum (hostile-input tests). */
  badChecksum?: boolean;
}

/** Writes `value` into a numeric field: octal when it fits (len-1 digits), else base-256 (negative as two's complement). */
export function encodeNumeric(block: Buffer, start: number, len: number, value: number, forceBase256 = false): void {
  const octal = value >= 0 ? value.toString(8) : '';
  if (!forceBase256 && value >= 0 && octal.length <= len - 1) {
    block.write(octal.padStart(len - 1, '0'), start, 'latin1');
    block[start + len - 1] = 0;
    return;
  }
  let v = BigInt(value);
  if (v < 0n) v += 1n << BigInt(8 * len);
  for (let i = len - 1; i >= 0; i--) {
    block[start + i] = Number(v & 0xffn);
    v >>= 8n;
  }
  block[start] = (block[start]! & 0x7f) | 0x80;
  if (value < 0) block[start] = block[start]! | 0x40;
}

/** Encodes one header block. Names longer than 100 bytes are split into ustar prefix/name when possible. */
export function encodeHeader(fields: HeaderFields): Buffer {
  const block = Buffer.alloc(TAR_BLOCK_BYTES);
  const magic = fields.magic ?? 'ustar';
  let name = Buffer.isBuffer(fields.name) ? fields.name : Buffer.from(fields.name, 'utf8');
  if (name.length > 100 && magic === 'ustar') {
    let split = -1;
    for (let i = Math.min(name.length - 1, 155); i >= 0; i--) {
      if (name[i] === 0x2f && name.length - i - 1 <= 100 && name.length - i - 1 > 0) {
        split = i;
        break;
      }
    }
    if (split < 0) throw new ImageError('INVALID_ARGUMENT', 'name does not fit a ustar header', { details: { length: name.length } });
    name.copy(block, 345, 0, split);
    name = name.subarray(split + 1);
  }
  if (name.length > 100) throw new ImageError('INVALID_ARGUMENT', 'name does not fit a tar header', { details: { length: name.length } });
  name.copy(block, 0);
  const f256 = fields.forceBase256 ?? false;
  encodeNumeric(block, 100, 8, fields.mode ?? 0o644, false);
  encodeNumeric(block, 108, 8, fields.uid ?? 0, f256);
  encodeNumeric(block, 116, 8, fields.gid ?? 0, f256);
  encodeNumeric(block, 124, 12, fields.size ?? 0, f256);
  encodeNumeric(block, 136, 12, fields.mtime ?? 0, f256);
  block.write(fields.typeflag ?? '0', 156, 'latin1');
  const link = Buffer.isBuffer(fields.linkname) ? fields.linkname : Buffer.from(fields.linkname ?? '', 'utf8');
  if (link.length > 100) throw new ImageError('INVALID_ARGUMENT', 'linkname does not fit a tar header', { details: { length: link.length } });
  link.copy(block, 157);
  if (magic === 'ustar') block.write('ustar\u000000', 257, 'latin1');
  else if (magic === 'gnu') block.write('ustar  \u0000', 257, 'latin1');
  if (magic !== 'v7') {
    block.write(fields.uname ?? '', 265, 31, 'utf8');
    block.write(fields.gname ?? '', 297, 31, 'utf8');
    encodeNumeric(block, 329, 8, fields.devmajor ?? 0);
    encodeNumeric(block, 337, 8, fields.devminor ?? 0);
  }
  if (fields.sparse) {
    fields.sparse.slice(0, 4).forEach((r, i) => {
      encodeNumeric(block, 386 + i * 24, 12, r.offset);
      encodeNumeric(block, 386 + i * 24 + 12, 12, r.length);
    });
    block[482] = fields.sparseExtended ? 1 : 0;
    encodeNumeric(block, 483, 12, fields.realSize ?? 0);
  }
  const sum = headerChecksums(block).unsigned + (fields.badChecksum ? 1 : 0);
  block.write(sum.toString(8).padStart(6, '0'), 148, 'latin1');
  block[154] = 0;
  block[155] = 0x20;
  return block;
}

/** Encodes a GNU sparse extension block holding up to 21 runs. */
export function encodeSparseExtension(runs: SparseRun[], extended: boolean): Buffer {
  const block = Buffer.alloc(TAR_BLOCK_BYTES);
  runs.slice(0, 21).forEach((r, i) => {
    encodeNumeric(block, i * 24, 12, r.offset);
    encodeNumeric(block, i * 24 + 12, 12, r.length);
  });
  block[GNU_SPARSE_EXT_FLAG_OFFSET] = extended ? 1 : 0;
  return block;
}

/** Bytes of padding after `size` bytes of data to reach the next block boundary. */
export function paddingAfter(size: number): number {
  const r = size % TAR_BLOCK_BYTES;
  return r === 0 ? 0 : TAR_BLOCK_BYTES - r;
}
