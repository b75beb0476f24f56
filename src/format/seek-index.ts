// Seek index v1 codec (docs/format.md "Seek index v1"): zran-style gzip seek points with zstd windows and span digests.
import { createHash } from 'node:crypto';

import { compress as zstdCompress, decompress as zstdDecompress } from 'zstd-napi';

import { MAX_SEEK_INDEX_BYTES, WINDOW_BYTES } from '../defaults.js';
import { ImageError } from '../errors.js';

/** The 8-byte magic at offset 0 of every seek index file. */
export const SEEK_INDEX_MAGIC = Buffer.from('TOCIGZIX', 'latin1');
/** Format version written by this code; readers reject others with UNSUPPORTED. */
export const SEEK_INDEX_VERSION = 1;
/** Size of the fixed header in bytes. */
export const SEEK_INDEX_HEADER_BYTES = 128;
/** Size of one point record in bytes. */
export const SEEK_POINT_RECORD_BYTES = 72;
/** Size of the trailing checksum (sha256 of every byte before it). */
export const SEEK_INDEX_TRAILER_BYTES = 32;
/** Header flag: the layer is not gzip; the index has no points and reads go straight through. */
export const SEEK_FLAG_IDENTITY = 1;
/** Point flag: the point sits right after a gzip member header (byte aligned, empty window). */
export const POINT_FLAG_MEMBER_START = 1;
/** Window codec id: each window compressed on its own as one zstd frame (RFC 8878). */
export const WINDOW_CODEC_ZSTD = 1;

/** One seek point plus the digest of the compressed bytes of the span it starts. */
export interface SeekPointRecord {
  /** Uncompressed offset where inflate resumes. */
  uncompressedOffset: number;
  /** Absolute bit position in the layer: byte = bit >> 3, (bit & 7) low bits of that byte already consumed. */
  compressedBitOffset: number;
  /** True right after a gzip member header. */
  memberStart: boolean;
  /** Uncompressed length of the window (0..32768). */
  windowBytes: number;
  /** The window as stored: one zstd frame, or empty when windowBytes is 0. */
  windowStored: Buffer;
  /** sha256 of the span's compressed byte range (see spanCompressedRange). */
  spanSha256: Buffer;
}

/** A whole seek index in memory. Windows stay compressed until a point is used. */
export interface SeekIndex {
  /** True for a plain (non-gzip) layer: no points, uncompressed == compressed. */
  identity: boolean;
  /** Requested minimum uncompressed distance between block-boundary points. */
  spanBytes: number;
  /** Deflate window size the points carry at most (32768). */
  windowBytes: number;
  /** zstd level the windows were compressed with (informational). */
  windowLevel: number;
  /** Size of the whole layer blob. */
  compressedBytes: number;
  /** Size of the uncompressed stream (all members concatenated). */
  uncompressedBytes: number;
  /** Zero bytes after the last member (included in compressedBytes). */
  trailingZeroBytes: number;
  /** Number of gzip members. */
  members: number;
  /** sha256 of the whole layer blob. */
  layerSha256: Buffer;
  /** Points in stream order; strictly increasing uncompressed and bit offsets. */
  points: SeekPointRecord[];
}

/** Compressed byte range [start, end) whose sha256 is recorded for span `i`. */
export function spanCompressedRange(index: SeekIndex, i: number): { start: number; end: number } {
  const p = index.points[i]!;
  const next = index.points[i + 1];
  const end = next ? Math.ceil(next.compressedBitOffset / 8) : index.compressedBytes - index.trailingZeroBytes;
  return { start: Math.floor(p.compressedBitOffset / 8), end };
}

/** Uncompressed range [start, end) that span `i` produces. */
export function spanUncompressedRange(index: SeekIndex, i: number): { start: number; end: number } {
  const next = index.points[i + 1];
  return { start: index.points[i]!.uncompressedOffset, end: next ? next.uncompressedOffset : index.uncompressedBytes };
}

/** Index of the last point with uncompressedOffset <= offset (points must be non-empty, offset >= 0). */
export function findSpan(index: SeekIndex, offset: number): number {
  let lo = 0;
  let hi = index.points.length - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >>> 1;
    if (index.points[mid]!.uncompressedOffset <= offset) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/** Compresses one window for storage (empty stays empty). */
export function compressWindow(window: Uint8Array, level: number): Buffer {
  if (window.length === 0) return Buffer.alloc(0);
  return zstdCompress(window, { compressionLevel: level });
}

/** Decompresses the window of a point; CORRUPT when it does not decode to windowBytes bytes. */
export function loadWindow(point: SeekPointRecord): Buffer {
  if (point.windowBytes === 0) return Buffer.alloc(0);
  let out: Buffer;
  try {
    out = zstdDecompress(point.windowStored);
  } catch (cause) {
    throw new ImageError('CORRUPT', 'seek index window does not decode as zstd', {
      details: { uncompressedOffset: point.uncompressedOffset },
      cause,
    });
  }
  if (out.length !== point.windowBytes) {
    throw new ImageError('CORRUPT', 'seek index window has the wrong length', {
      details: { uncompressedOffset: point.uncompressedOffset, expected: point.windowBytes, actual: out.length },
    });
  }
  return out;
}

function u64(buf: Buffer, off: number, value: number): void {
  buf.writeBigUInt64LE(BigInt(value), off);
}

/** Serializes an index (windows already compressed) into the v1 byte layout. */
export function encodeSeekIndex(index: SeekIndex): Buffer {
  const n = index.points.length;
  const windowArea = index.points.reduce((sum, p) => sum + p.windowStored.length, 0);
  const windowAreaOffset = SEEK_INDEX_HEADER_BYTES + n * SEEK_POINT_RECORD_BYTES;
  const total = windowAreaOffset + windowArea + SEEK_INDEX_TRAILER_BYTES;
  const buf = Buffer.alloc(total);
  SEEK_INDEX_MAGIC.copy(buf, 0);
  buf.writeUInt16LE(SEEK_INDEX_VERSION, 8);
  buf.writeUInt16LE(SEEK_INDEX_HEADER_BYTES, 10);
  buf.writeUInt16LE(SEEK_POINT_RECORD_BYTES, 12);
  buf.writeUInt16LE(index.identity ? SEEK_FLAG_IDENTITY : 0, 14);
  buf.writeUInt32LE(index.spanBytes, 16);
  buf.writeUInt32LE(index.windowBytes, 20);
  u64(buf, 24, index.compressedBytes);
  u64(buf, 32, index.uncompressedBytes);
  u64(buf, 40, index.trailingZeroBytes);
  buf.writeUInt32LE(index.members, 48);
  buf.writeUInt32LE(n, 52);
  buf.writeUInt8(WINDOW_CODEC_ZSTD, 56);
  buf.writeInt8(index.windowLevel, 57);
  index.layerSha256.copy(buf, 64);
  u64(buf, 96, windowAreaOffset);
  u64(buf, 104, windowArea);
  let winOff = 0;
  index.points.forEach((p, i) => {
    const r = SEEK_INDEX_HEADER_BYTES + i * SEEK_POINT_RECORD_BYTES;
    u64(buf, r, p.uncompressedOffset);
    u64(buf, r + 8, p.compressedBitOffset);
    u64(buf, r + 16, winOff);
    buf.writeUInt32LE(p.windowStored.length, r + 24);
    buf.writeUInt32LE(p.windowBytes, r + 28);
    buf.writeUInt32LE(p.memberStart ? POINT_FLAG_MEMBER_START : 0, r + 32);
    p.spanSha256.copy(buf, r + 40);
    p.windowStored.copy(buf, windowAreaOffset + winOff);
    winOff += p.windowStored.length;
  });
  createHash('sha256').update(buf.subarray(0, total - SEEK_INDEX_TRAILER_BYTES)).digest().copy(buf, total - SEEK_INDEX_TRAILER_BYTES);
  return buf;
}

function corrupt(message: string, details: Record<string, number | string> = {}): ImageError {
  return new ImageError('CORRUPT', `seek index: ${message}`, {
    details,
    hint: 'rebuild the index with `turbo-index gzip-index build`',
  });
}

function readU64(buf: Buffer, off: number, field: string): number {
  const v = buf.readBigUInt64LE(off);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt(`${field} is out of range`, { offset: off });
  return Number(v);
}

/** Parses and fully validates a v1 seek index (checksum, structure, ordering). Windows are not decompressed. */
export function decodeSeekIndex(buf: Buffer): SeekIndex {
  if (buf.length > MAX_SEEK_INDEX_BYTES) throw new ImageError('LIMIT_EXCEEDED', 'seek index is too large', { details: { bytes: buf.length } });
  if (buf.length < SEEK_INDEX_HEADER_BYTES + SEEK_INDEX_TRAILER_BYTES) throw corrupt('file is shorter than header and trailer', { bytes: buf.length });
  if (!buf.subarray(0, 8).equals(SEEK_INDEX_MAGIC)) throw corrupt('bad magic (not a turbo-oci seek index)', { offset: 0 });
  const version = buf.readUInt16LE(8);
  if (version !== SEEK_INDEX_VERSION) {
    throw new ImageError('UNSUPPORTED', `seek index version ${version} is not supported (this build reads ${SEEK_INDEX_VERSION})`, { details: { version } });
  }
  const body = buf.length - SEEK_INDEX_TRAILER_BYTES;
  const sum = createHash('sha256').update(buf.subarray(0, body)).digest();
  if (!sum.equals(buf.subarray(body))) throw corrupt('trailing checksum mismatch', { offset: body });
  if (buf.readUInt16LE(10) !== SEEK_INDEX_HEADER_BYTES || buf.readUInt16LE(12) !== SEEK_POINT_RECORD_BYTES) {
    throw corrupt('unexpected header or record size', { offset: 10 });
  }
  const flags = buf.readUInt16LE(14);
  if ((flags & ~SEEK_FLAG_IDENTITY) !== 0) throw corrupt('unknown header flags', { offset: 14, flags });
  if (buf.readUInt8(56) !== WINDOW_CODEC_ZSTD) throw corrupt('unknown window codec', { offset: 56 });
  const n = buf.readUInt32LE(52);
  const windowAreaOffset = readU64(buf, 96, 'window area offset');
  const windowArea = readU64(buf, 104, 'window area length');
  if (windowAreaOffset !== SEEK_INDEX_HEADER_BYTES + n * SEEK_POINT_RECORD_BYTES || windowAreaOffset + windowArea !== body) {
    throw corrupt('point count and window area do not match the file size', { offset: 52, points: n });
  }
  const index: SeekIndex = {
    identity: (flags & SEEK_FLAG_IDENTITY) !== 0,
    spanBytes: buf.readUInt32LE(16),
    windowBytes: buf.readUInt32LE(20),
    windowLevel: buf.readInt8(57),
    compressedBytes: readU64(buf, 24, 'compressed size'),
    uncompressedBytes: readU64(buf, 32, 'uncompressed size'),
    trailingZeroBytes: readU64(buf, 40, 'trailing zero bytes'),
    members: buf.readUInt32LE(48),
    layerSha256: Buffer.from(buf.subarray(64, 96)),
    points: [],
  };
  if (index.windowBytes !== WINDOW_BYTES) throw corrupt('window size is not 32768', { offset: 20 });
  if (index.trailingZeroBytes > index.compressedBytes) throw corrupt('trailing zeros exceed the layer size', { offset: 40 });
  if (index.identity) {
    if (n !== 0 || index.members !== 0 || index.uncompressedBytes !== index.compressedBytes || index.trailingZeroBytes !== 0) {
      throw corrupt('identity index with points, members or differing sizes', { offset: 14 });
    }
    return index;
  }
  if (n === 0 || index.members === 0) throw corrupt('gzip index without points or members', { offset: 48 });
  for (let i = 0; i < n; i++) {
    const r = SEEK_INDEX_HEADER_BYTES + i * SEEK_POINT_RECORD_BYTES;
    const winOff = readU64(buf, r + 16, 'window offset');
    const stored = buf.readUInt32LE(r + 24);
    const windowBytes = buf.readUInt32LE(r + 28);
    const pflags = buf.readUInt32LE(r + 32);
    const point: SeekPointRecord = {
      uncompressedOffset: readU64(buf, r, 'uncompressed offset'),
      compressedBitOffset: readU64(buf, r + 8, 'compressed bit offset'),
      memberStart: (pflags & POINT_FLAG_MEMBER_START) !== 0,
      windowBytes,
      windowStored: buf.subarray(windowAreaOffset + winOff, windowAreaOffset + winOff + stored),
      spanSha256: Buffer.from(buf.subarray(r + 40, r + 72)),
    };
    const prev = index.points[i - 1];
    const bad =
      (pflags & ~POINT_FLAG_MEMBER_START) !== 0 ||
      winOff + stored > windowArea ||
      windowBytes > WINDOW_BYTES ||
      (windowBytes === 0) !== (stored === 0) ||
      (point.memberStart && windowBytes !== 0) ||
      (point.memberStart && point.compressedBitOffset % 8 !== 0) ||
      point.uncompressedOffset > index.uncompressedBytes ||
      point.compressedBitOffset > (index.compressedBytes - index.trailingZeroBytes) * 8 ||
      (i === 0 && (point.uncompressedOffset !== 0 || !point.memberStart)) ||
      (prev !== undefined &&
        (point.uncompressedOffset <= prev.uncompressedOffset || point.compressedBitOffset <= prev.compressedBitOffset));
    if (bad) throw corrupt(`point ${i} is inconsistent`, { offset: r, point: i });
    index.points.push(point);
  }
  return index;
}
