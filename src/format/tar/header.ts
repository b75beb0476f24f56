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
  /** Name field (UTF-8) joined with the ustar prefix (POSIX ustar only; GNU uses those bytes for atime/ctime). */
  name: string;
  mode: number;
  uid: number;
  gid: number;
  /** Size field: bytes of data (or of extension payload) that follow this block before padding. */
  size: number;
  /** Seconds since the epoch (may be negative with base-256). */
  mtime: number;
  /** Typeflag character; '\0' is returned as '0'. */
  typeflag: string;
  linkname: string;
  /** True when the name, prefix or linkname bytes are not valid UTF-8 (decoded with U+FFFD replacements). */
  invalidUtf8: boolean;
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
  for (let i = 0; i < TAR_BLOCK_BYTES; i++) if (block[i] !== 0) return false;
  return true;
}

/** End index of the NUL-terminated string in `buf[start, start+len)`. */
function cend(buf: Buffer, start: number, len: number): number {
  let end = start;
  const max = start + len;
  while (end < max && buf[end] !== 0) end++;
  return end;
}

/** Decodes a NUL-terminated UTF-8 field without allocating a Buffer view; `bad[0]` is set when the bytes are not UTF-8. */
function utf8Field(buf: Buffer, start: number, len: number, bad: boolean[]): string {
  const end = cend(buf, start, len);
  const s = buf.toString('utf8', start, end);
  if (s.includes('\uFFFD') && !Buffer.from(s, 'utf8').equals(buf.subarray(start, end))) bad[0] = true;
  return s;
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

/** Unsigned sum of the header bytes with the checksum field read as eight spaces (POSIX ustar chksum). */
export function headerChecksum(block: Buffer): number {
  let sum = 8 * 0x20;
  for (let i = 0; i < 148; i++) sum += block[i]!;
  for (let i = 156; i < TAR_BLOCK_BYTES; i++) sum += block[i]!;
  return sum;
}

/** Unsigned (POSIX) and signed (historic Sun/GNU tolerance) sums with the checksum field read as spaces. */
export function headerChecksums(block: Buffer): { unsigned: number; signed: number } {
  const unsigned = headerChecksum(block);
  let high = 0; // bytes > 127 outside the checksum field count 256 less in the signed sum
  for (let i = 0; i < TAR_BLOCK_BYTES; i++) if (block[i]! > 127 && (i < 148 || i >= 156)) high++;
  return { unsigned, signed: unsigned - 256 * high };
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
  if (stored === undefined || (stored !== headerChecksum(block) && stored !== headerChecksums(block).signed)) {
    throw new ImageError('CORRUPT', 'tar header checksum mismatch', {
      details: { offset: blockOffset, stored: stored ?? -1, computed: headerChecksum(block) },
      hint: 'the layer is not a tar archive or is damaged at this offset',
    });
  }
  let magic: HeaderMagic = 'v7';
  if (block[257] === 0x75 && block[258] === 0x73 && block[259] === 0x74 && block[260] === 0x61 && block[261] === 0x72) {
    magic = block[262] === 0x20 && block[263] === 0x20 && block[264] === 0 ? 'gnu' : 'ustar';
  }
  const bad = [false];
  let name = utf8Field(block, F.name[0], F.name[1], bad);
  if (magic === 'ustar' && block[F.prefix[0]] !== 0) name = `${utf8Field(block, F.prefix[0], F.prefix[1], bad)}/${name}`;
  const tf = block[156]!;
  const typeflag = tf === 0 ? '0' : String.fromCharCode(tf);
  const isGnu = magic === 'gnu';
  const header: RawHeader = {
    name,
    mode: decodeNumeric(block, F.mode[0], F.mode[1], 'mode', blockOffset) ?? 0,
    uid: decodeNumeric(block, F.uid[0], F.uid[1], 'uid', blockOffset) ?? 0,
    gid: decodeNumeric(block, F.gid[0], F.gid[1], 'gid', blockOffset) ?? 0,
    size: decodeNumeric(block, F.size[0], F.size[1], 'size', blockOffset) ?? 0,
    mtime: decodeNumeric(block, F.mtime[0], F.mtime[1], 'mtime', blockOffset) ?? 0,
    typeflag,
    linkname: utf8Field(block, F.linkname[0], F.linkname[1], bad),
    invalidUtf8: false,
    magic,
    uname: magic === 'v7' ? '' : block.toString('utf8', F.uname[0], cend(block, F.uname[0], F.uname[1])),
    gname: magic === 'v7' ? '' : block.toString('utf8', F.gname[0], cend(block, F.gname[0], F.gname[1])),
    devmajor: magic === 'v7' ? 0 : (decodeNumeric(block, F.devmajor[0], F.devmajor[1], 'devmajor', blockOffset) ?? 0),
    devminor: magic === 'v7' ? 0 : (decodeNumeric(block, F.devminor[0], F.devminor[1], 'devminor', blockOffset) ?? 0),
    atime: isGnu ? decodeNumeric(block, F.gnuAtime[0], F.gnuAtime[1], 'atime', blockOffset) : undefined,
    ctime: isGnu ? decodeNumeric(block, F.gnuCtime[0], F.gnuCtime[1], 'ctime', blockOffset) : undefined,
    sparse: undefined,
    sparseExtended: false,
    realSize: undefined,
  };
  header.invalidUtf8 = bad[0]!;
  if (isGnu && typeflag === 'S') {
    header.sparse = decodeSparseRuns(block, F.gnuSparse[0], 4, blockOffset);
    header.sparseExtended = block[F.gnuIsExtended[0]] !== 0;
    header.realSize = decodeNumeric(block, F.gnuRealSize[0], F.gnuRealSize[1], 'realsize', blockOffset);
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
