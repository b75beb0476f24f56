// The device block map against a naive per-sector model: random stacks of deltas (fast-check, fixed seed).
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { DeviceBlockMap } from '../../../src/ext4/block-map.js';
import type { Ext4Delta } from '../../../src/format/ext4/delta-types.js';
import { PROPERTY_SEED } from '../../helpers/random.js';

const DEVICE_SECTORS = 256; // 32 blocks of 4 KiB
const BLOCK_SECTORS = 8;

type Cell = { kind: 'zero' } | { kind: 'meta'; layer: number; block: number; byte: number } | { kind: 'tar'; layer: number; offset: number };

/** A random delta: ranges chosen without overlap among blocks/extents (zero ranges may overlap them). */
const deltaArb = (layer: number) =>
  fc
    .record({
      zeros: fc.array(fc.record({ s: fc.nat(DEVICE_SECTORS - 1), n: fc.integer({ min: 1, max: 40 }) }), { maxLength: 4 }),
      blocks: fc.uniqueArray(fc.nat(DEVICE_SECTORS / BLOCK_SECTORS - 1), { maxLength: 6 }),
      extents: fc.array(fc.record({ s: fc.nat(DEVICE_SECTORS - 1), n: fc.integer({ min: 1, max: 30 }), t: fc.nat(1000) }), { maxLength: 5 }),
    })
    .map(({ zeros, blocks, extents }): Ext4Delta => {
      const taken = new Set<number>();
      const metadata = new Map<number, Buffer>();
      for (const b of [...blocks].sort((x, y) => x - y)) {
        for (let i = 0; i < BLOCK_SECTORS; i++) taken.add(b * BLOCK_SECTORS + i);
        const buf = Buffer.alloc(4096);
        buf.writeUInt32LE(layer * 1000 + b, 0);
        metadata.set(b, buf);
      }
      const dataExtents = [];
      for (const e of extents) {
        const n = Math.min(e.n, DEVICE_SECTORS - e.s);
        let free = true;
        for (let i = 0; i < n; i++) if (taken.has(e.s + i)) free = false;
        if (!free) continue;
        for (let i = 0; i < n; i++) taken.add(e.s + i);
        dataExtents.push({ deviceSector: e.s, sectors: n, layer, tarOffset: e.t * 512 });
      }
      dataExtents.sort((a, b) => a.deviceSector - b.deviceSector);
      const zeroRanges = zeros.map((z) => ({ deviceSector: z.s, sectors: Math.min(z.n, DEVICE_SECTORS - z.s) }));
      return { layer, deviceBytes: DEVICE_SECTORS * 512, blockSize: 4096, metadata, dataExtents, zeroRanges };
    });

function model(deltas: Ext4Delta[]): Cell[] {
  const cells: Cell[] = Array.from({ length: DEVICE_SECTORS }, () => ({ kind: 'zero' }));
  for (const d of deltas) {
    for (const z of d.zeroRanges) for (let i = 0; i < z.sectors; i++) cells[z.deviceSector + i] = { kind: 'zero' };
    for (const [b] of d.metadata) for (let i = 0; i < BLOCK_SECTORS; i++) cells[b * BLOCK_SECTORS + i] = { kind: 'meta', layer: d.layer, block: b, byte: i * 512 };
    for (const e of d.dataExtents) for (let i = 0; i < e.sectors; i++) cells[e.deviceSector + i] = { kind: 'tar', layer: e.layer, offset: e.tarOffset + i * 512 };
  }
  return cells;
}

function cellsOf(map: DeviceBlockMap): Cell[] {
  const cells: Cell[] = [];
  for (let s = 0; s < DEVICE_SECTORS; s++) {
    const [p] = map.read(s * 512, 512);
    if (!p || p.kind === 'zero') cells.push({ kind: 'zero' });
    else if (p.kind === 'tar') cells.push({ kind: 'tar', layer: p.layer, offset: p.tarOffset });
    else {
      // Recover layer/block from the tag written into the block's first 4 bytes.
      const whole = p.data.buffer;
      const blockStart = p.data.byteOffset - (p.data.byteOffset % 4096);
      const tag = Buffer.from(whole, blockStart, 4).readUInt32LE(0);
      cells.push({ kind: 'meta', layer: Math.floor(tag / 1000), block: tag % 1000, byte: p.data.byteOffset - blockStart });
    }
  }
  return cells;
}

describe('DeviceBlockMap', () => {
  it('matches a per-sector model for random delta stacks', () => {
    fc.assert(
      fc.property(fc.tuple(deltaArb(0), deltaArb(1), deltaArb(2), deltaArb(3)), (deltas) => {
        const map = new DeviceBlockMap(DEVICE_SECTORS * 512);
        for (const d of deltas) map.apply(d);
        expect(cellsOf(map)).toEqual(model(deltas));
        // Multi-sector reads cover exactly the requested length.
        const pieces = map.read(1000, 50_000);
        expect(pieces.reduce((n, p) => n + (p.kind === 'bytes' ? p.data.length : p.length), 0)).toBe(50_000);
      }),
      { seed: PROPERTY_SEED, numRuns: 200 },
    );
  });

  it('rejects deltas of another device size and reads outside the device', () => {
    const map = new DeviceBlockMap(DEVICE_SECTORS * 512);
    expect(() => map.apply({ layer: 0, deviceBytes: 1 << 20, blockSize: 4096, metadata: new Map(), dataExtents: [], zeroRanges: [] })).toThrow(
      expect.objectContaining({ code: 'FAILED_PRECONDITION' }),
    );
    expect(() => map.read(DEVICE_SECTORS * 512 - 10, 20)).toThrow(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
  });
});
