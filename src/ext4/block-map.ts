// Stacks ext4 deltas 0..k into one device map: every 512-byte sector is a metadata block byte range,
// a range of some layer's uncompressed tar, or zero. Later deltas override earlier ones; within a delta,
// zero ranges apply before its metadata blocks and data extents.
import { ImageError } from '../errors.js';
import type { Ext4Delta } from '../format/ext4/delta-types.js';

/** Where a run of device sectors comes from. */
export type SectorSource =
  | { kind: 'meta'; block: Buffer; byteOffset: number }
  | { kind: 'tar'; layer: number; tarOffset: number };

/** A mapped run of device sectors; unmapped sectors read as zero. */
export interface MapPiece {
  sector: number;
  sectors: number;
  source: SectorSource;
}

/** A piece of a read: bytes from a metadata block, a tar range, or zeros. */
export type ReadPiece =
  | { kind: 'bytes'; data: Buffer }
  | { kind: 'tar'; layer: number; tarOffset: number; length: number }
  | { kind: 'zero'; length: number };

interface Pending {
  sector: number;
  sectors: number;
  source: SectorSource | undefined; // undefined: zero
}

function slice(p: MapPiece | Pending, from: number, to: number): Pending {
  const d = from - p.sector;
  const src = p.source;
  const source: SectorSource | undefined =
    src === undefined ? undefined : src.kind === 'meta' ? { kind: 'meta', block: src.block, byteOffset: src.byteOffset + d * 512 } : { kind: 'tar', layer: src.layer, tarOffset: src.tarOffset + d * 512 };
  return { sector: from, sectors: to - from, source };
}

/** The merged sector map of a chain of deltas. */
export class DeviceBlockMap {
  readonly deviceBytes: number;
  #pieces: MapPiece[] = [];
  #layers = 0;

  constructor(deviceBytes: number) {
    this.deviceBytes = deviceBytes;
  }

  /** Number of deltas applied. */
  get layers(): number {
    return this.#layers;
  }

  /** Mapped runs, ascending and non-overlapping. */
  get pieces(): readonly MapPiece[] {
    return this.#pieces;
  }

  /** Applies the next delta of the chain on top of the current map. */
  apply(delta: Ext4Delta): void {
    if (delta.deviceBytes !== this.deviceBytes) {
      throw new ImageError('FAILED_PRECONDITION', 'delta device size differs from the chain', { details: { layer: delta.layer, deltaBytes: delta.deviceBytes, chainBytes: this.deviceBytes } });
    }
    const spb = delta.blockSize / 512;
    const incoming: Pending[] = [];
    for (const z of delta.zeroRanges) incoming.push({ sector: z.deviceSector, sectors: z.sectors, source: undefined });
    const upper = this.#merge(this.#pieces, incoming.sort((a, b) => a.sector - b.sector));
    const adds: Pending[] = [];
    for (const [blockNo, block] of delta.metadata) adds.push({ sector: blockNo * spb, sectors: spb, source: { kind: 'meta', block, byteOffset: 0 } });
    for (const e of delta.dataExtents) adds.push({ sector: e.deviceSector, sectors: e.sectors, source: { kind: 'tar', layer: e.layer, tarOffset: e.tarOffset } });
    adds.sort((a, b) => a.sector - b.sector);
    for (let i = 1; i < adds.length; i++) {
      if (adds[i - 1]!.sector + adds[i - 1]!.sectors > adds[i]!.sector) {
        throw new ImageError('CORRUPT', 'ext4 delta maps a sector twice', { details: { layer: delta.layer, sector: adds[i]!.sector } });
      }
    }
    const last = adds[adds.length - 1];
    if (last && (last.sector + last.sectors) * 512 > this.deviceBytes) {
      throw new ImageError('CORRUPT', 'ext4 delta maps past the device end', { details: { layer: delta.layer, sector: last.sector } });
    }
    this.#pieces = this.#merge(upper, adds);
    this.#layers++;
  }

  /** Overlays sorted non-overlapping `top` on `base`; zero-source pieces punch holes. */
  #merge(base: readonly MapPiece[], top: Pending[]): MapPiece[] {
    const out: MapPiece[] = [];
    const push = (p: Pending): void => {
      if (p.sectors > 0 && p.source !== undefined) out.push(p as MapPiece);
    };
    let j = 0;
    for (const a of base) {
      const aEnd = a.sector + a.sectors;
      while (j < top.length && top[j]!.sector + top[j]!.sectors <= a.sector) push(top[j++]!);
      let cur = a.sector;
      let k = j;
      while (cur < aEnd) {
        const t = top[k];
        if (t && t.sector < aEnd) {
          if (t.sector > cur) push(slice(a, cur, t.sector));
          const tEnd = t.sector + t.sectors;
          cur = Math.max(cur, tEnd);
          if (tEnd <= aEnd) {
            push(t);
            k++;
            j = k;
          } else break;
        } else {
          push(slice(a, cur, aEnd));
          cur = aEnd;
        }
      }
    }
    while (j < top.length) push(top[j++]!);
    return out;
  }

  /** Index of the first piece ending after `sector`. */
  #find(sector: number): number {
    let lo = 0;
    let hi = this.#pieces.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      const p = this.#pieces[mid]!;
      if (p.sector + p.sectors <= sector) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Describes the device bytes [offset, offset + length) as pieces in order. */
  read(offset: number, length: number): ReadPiece[] {
    if (offset < 0 || length < 0 || offset + length > this.deviceBytes) {
      throw new ImageError('INVALID_ARGUMENT', 'read outside the device', { details: { offset, length, deviceBytes: this.deviceBytes } });
    }
    const out: ReadPiece[] = [];
    let pos = offset;
    const end = offset + length;
    let i = this.#find(Math.floor(offset / 512));
    while (pos < end) {
      const p = this.#pieces[i];
      const pStart = p ? p.sector * 512 : end;
      if (!p || pStart >= end || pStart > pos) {
        const to = Math.min(end, pStart);
        out.push({ kind: 'zero', length: to - pos });
        pos = to;
        continue;
      }
      const pEnd = Math.min(end, (p.sector + p.sectors) * 512);
      const skip = pos - pStart;
      const n = pEnd - pos;
      const s = p.source;
      if (s.kind === 'meta') out.push({ kind: 'bytes', data: s.block.subarray(s.byteOffset + skip, s.byteOffset + skip + n) });
      else out.push({ kind: 'tar', layer: s.layer, tarOffset: s.tarOffset + skip, length: n });
      pos = pEnd;
      i++;
    }
    return out;
  }
}
