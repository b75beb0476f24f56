// ext4 delta v1 codec: golden vectors reproduce byte for byte, round trips are exact, damage is detected.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { EXT4_GOLDEN_DIR, goldenExt4Deltas } from '../../../../fixtures/ext4-delta-golden.js';
import { crc32c } from '../../../../src/format/ext4/crc32c.js';
import { decodeExt4Delta, encodeExt4Delta } from '../../../../src/format/ext4/delta-codec.js';

describe('ext4 delta v1', () => {
  const golden = goldenExt4Deltas();

  it('the generator reproduces the committed golden vectors byte for byte', () => {
    expect(golden.length).toBe(2);
    for (const v of golden) expect(v.bytes.equals(readFileSync(path.join(EXT4_GOLDEN_DIR, v.name))), v.name).toBe(true);
  });

  it('decodes the golden vectors and re-encodes them identically', () => {
    for (const v of golden) {
      const d = decodeExt4Delta(v.bytes);
      expect(d.blockSize).toBe(4096);
      expect(d.deviceBytes).toBe(128 * 1024 * 1024);
      expect(d.metadata.size).toBeGreaterThan(0);
      expect(encodeExt4Delta(d).equals(v.bytes)).toBe(true);
    }
    const d0 = decodeExt4Delta(golden[0]!.bytes);
    const d1 = decodeExt4Delta(golden[1]!.bytes);
    expect(d0.layer).toBe(0);
    expect(d1.layer).toBe(1);
    // Layer 0 maps two files (hostname 9 B → 1 sector, big 10 000 B → 20 sectors); layer 1 maps the new hostname and
    // zeroes the 3 blocks of the deleted /big and the first hostname's block.
    expect(d0.dataExtents.map((e) => [e.sectors, e.tarOffset]).sort((a, b) => a[1]! - b[1]!)).toEqual([
      [1, 512],
      [20, 1536],
    ]);
    expect(d1.dataExtents.map((e) => [e.sectors, e.layer, e.tarOffset])).toEqual([[1, 1, 512]]);
    expect(d1.zeroRanges.reduce((n, z) => n + z.sectors, 0)).toBe(4 * 8);
  });

  it('rejects damage with stable codes', () => {
    const bytes = golden[0]!.bytes;
    const flipped = Buffer.from(bytes);
    flipped[bytes.length - 10]! ^= 1;
    expect(() => decodeExt4Delta(flipped)).toThrow(expect.objectContaining({ code: 'CORRUPT' }));
    expect(() => decodeExt4Delta(bytes.subarray(0, bytes.length - 1))).toThrow(expect.objectContaining({ code: 'TRUNCATED' }));
    expect(() => decodeExt4Delta(bytes.subarray(0, 20))).toThrow(expect.objectContaining({ code: 'TRUNCATED' }));
    const v2 = Buffer.from(bytes);
    v2.writeUInt16LE(2, 8);
    v2.writeUInt32LE(crc32c(v2.subarray(0, 60)), 60);
    expect(() => decodeExt4Delta(v2)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED' }));
    const magic = Buffer.from(bytes);
    magic[0] = 0;
    expect(() => decodeExt4Delta(magic)).toThrow(expect.objectContaining({ code: 'CORRUPT' }));
  });
});
