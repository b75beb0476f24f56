// Codec of "ext4 delta v1" (docs/format.md): one layer's changed metadata blocks (zstd-compressed runs),
// data extents onto the layer tars in 512-byte sectors, and zero ranges, sealed with crc32c.
import { compress, decompress } from 'zstd-napi';
import { ImageError } from '../../errors.js';
import { crc32c } from './crc32c.js';
import type { DataExtent, Ext4Delta, ZeroRange } from './delta-types.js';

/** File magic of an ext4 delta. */
export const EXT4_DELTA_MAGIC = Buffer.from('TOCIEXT4', 'latin1');
/** Current format version. */
export const EXT4_DELTA_VERSION = 1;
/** Header size in bytes. */
export const EXT4_DELTA_HEADER_BYTES = 64;
/** Most metadata blocks compressed together in one run (random access granularity: 256 KiB at 4 KiB blocks). */
export const EXT4_DELTA_MAX_RUN_BLOCKS = 64;
/** zstd level of metadata runs (zstd's default; deterministic for a given zstd version). */
export const EXT4_DELTA_ZSTD_LEVEL = 3;

const RUN_BYTES = 16;
const EXTENT_BYTES = 24;
const ZERO_BYTES = 16;

function corrupt(message: string, details: Record<string, number | string> = {}): ImageError {
  return new ImageError('CORRUPT', `ext4 delta: ${message}`, { details });
}

/** Encodes a delta into its v1 byte form. */
export function encodeExt4Delta(delta: Ext4Delta): Buffer {
  const blocks = [...delta.metadata.keys()].sort((a, b) => a - b);
  const runs: { start: number; count: number; payload: Buffer }[] = [];
  for (let i = 0; i < blocks.length; ) {
    let j = i + 1;
    while (j < blocks.length && j - i < EXT4_DELTA_MAX_RUN_BLOCKS && blocks[j] === blocks[j - 1]! + 1) j++;
    const raw = Buffer.concat(blocks.slice(i, j).map((b) => delta.metadata.get(b)!));
    runs.push({ start: blocks[i]!, count: j - i, payload: compress(raw, { compressionLevel: EXT4_DELTA_ZSTD_LEVEL }) });
    i = j;
  }
  const payloadBytes = runs.reduce((n, r) => n + r.payload.length, 0);
  const tableBytes = runs.length * RUN_BYTES + delta.dataExtents.length * EXTENT_BYTES + delta.zeroRanges.length * ZERO_BYTES;
  const out = Buffer.alloc(EXT4_DELTA_HEADER_BYTES + tableBytes + payloadBytes + 4);
  EXT4_DELTA_MAGIC.copy(out, 0);
  out.writeUInt16LE(EXT4_DELTA_VERSION, 8);
  out.writeUInt16LE(0, 10);
  out.writeUInt32LE(EXT4_DELTA_HEADER_BYTES, 12);
  out.writeUInt32LE(delta.layer, 16);
  out.writeUInt32LE(delta.blockSize, 20);
  out.writeBigUInt64LE(BigInt(delta.deviceBytes), 24);
  out.writeUInt32LE(blocks.length, 32);
  out.writeUInt32LE(runs.length, 36);
  out.writeUInt32LE(delta.dataExtents.length, 40);
  out.writeUInt32LE(delta.zeroRanges.length, 44);
  out.writeBigUInt64LE(BigInt(payloadBytes), 48);
  out.writeUInt32LE(crc32c(out.subarray(0, 60)), 60);
  let o = EXT4_DELTA_HEADER_BYTES;
  for (const r of runs) {
    out.writeBigUInt64LE(BigInt(r.start), o);
    out.writeUInt32LE(r.count, o + 8);
    out.writeUInt32LE(r.payload.length, o + 12);
    o += RUN_BYTES;
  }
  for (const e of delta.dataExtents) {
    out.writeBigUInt64LE(BigInt(e.deviceSector), o);
    out.writeUInt32LE(e.sectors, o + 8);
    out.writeUInt32LE(e.layer, o + 12);
    out.writeBigUInt64LE(BigInt(e.tarOffset), o + 16);
    o += EXTENT_BYTES;
  }
  for (const z of delta.zeroRanges) {
    out.writeBigUInt64LE(BigInt(z.deviceSector), o);
    out.writeBigUInt64LE(BigInt(z.sectors), o + 8);
    o += ZERO_BYTES;
  }
  for (const r of runs) {
    r.payload.copy(out, o);
    o += r.payload.length;
  }
  out.writeUInt32LE(crc32c(out.subarray(0, o)), o);
  return out;
}

function u64(b: Buffer, o: number): number {
  const v = b.readBigUInt64LE(o);
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw corrupt('64-bit field out of range', { offset: o });
  return Number(v);
}

/** Decodes and verifies a v1 delta (checksums, bounds, run sizes). */
export function decodeExt4Delta(buf: Buffer): Ext4Delta {
  if (buf.length < EXT4_DELTA_HEADER_BYTES + 4) throw new ImageError('TRUNCATED', 'ext4 delta shorter than its header', { details: { bytes: buf.length } });
  if (!buf.subarray(0, 8).equals(EXT4_DELTA_MAGIC)) throw corrupt('bad magic');
  const version = buf.readUInt16LE(8);
  if (version !== EXT4_DELTA_VERSION) throw new ImageError('UNSUPPORTED', `ext4 delta version ${version} is not supported`, { details: { version } });
  if (crc32c(buf.subarray(0, 60)) !== buf.readUInt32LE(60)) throw corrupt('header checksum mismatch');
  const layer = buf.readUInt32LE(16);
  const blockSize = buf.readUInt32LE(20);
  const deviceBytes = u64(buf, 24);
  const metaBlocks = buf.readUInt32LE(32);
  const runCount = buf.readUInt32LE(36);
  const extentCount = buf.readUInt32LE(40);
  const zeroCount = buf.readUInt32LE(44);
  const payloadBytes = u64(buf, 48);
  const total = EXT4_DELTA_HEADER_BYTES + runCount * RUN_BYTES + extentCount * EXTENT_BYTES + zeroCount * ZERO_BYTES + payloadBytes + 4;
  if (buf.length < total) throw new ImageError('TRUNCATED', 'ext4 delta shorter than its tables say', { details: { bytes: buf.length, expected: total } });
  if (buf.length > total) throw corrupt('trailing bytes', { bytes: buf.length, expected: total });
  if (crc32c(buf.subarray(0, total - 4)) !== buf.readUInt32LE(total - 4)) throw corrupt('checksum mismatch');
  if (blockSize < 1024 || (blockSize & (blockSize - 1)) !== 0) throw corrupt('bad block size', { blockSize });
  let o = EXT4_DELTA_HEADER_BYTES;
  const runs: { start: number; count: number; bytes: number }[] = [];
  for (let i = 0; i < runCount; i++, o += RUN_BYTES) runs.push({ start: u64(buf, o), count: buf.readUInt32LE(o + 8), bytes: buf.readUInt32LE(o + 12) });
  const dataExtents: DataExtent[] = [];
  for (let i = 0; i < extentCount; i++, o += EXTENT_BYTES) {
    dataExtents.push({ deviceSector: u64(buf, o), sectors: buf.readUInt32LE(o + 8), layer: buf.readUInt32LE(o + 12), tarOffset: u64(buf, o + 16) });
  }
  const zeroRanges: ZeroRange[] = [];
  for (let i = 0; i < zeroCount; i++, o += ZERO_BYTES) zeroRanges.push({ deviceSector: u64(buf, o), sectors: u64(buf, o + 8) });
  const metadata = new Map<number, Buffer>();
  let seen = 0;
  for (const r of runs) {
    const raw = decompress(buf.subarray(o, o + r.bytes));
    o += r.bytes;
    if (raw.length !== r.count * blockSize) throw corrupt('metadata run size mismatch', { start: r.start, expected: r.count * blockSize, got: raw.length });
    if ((r.start + r.count) * blockSize > deviceBytes) throw corrupt('metadata run past the device end', { start: r.start });
    for (let i = 0; i < r.count; i++) metadata.set(r.start + i, raw.subarray(i * blockSize, (i + 1) * blockSize));
    seen += r.count;
  }
  if (seen !== metaBlocks || metadata.size !== metaBlocks) throw corrupt('metadata block count mismatch', { header: metaBlocks, runs: seen });
  return { layer, deviceBytes, blockSize, metadata, dataExtents, zeroRanges };
}
