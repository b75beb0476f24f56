// Places a regular file's data: allocates device blocks for every 4 KiB file block that holds tar bytes
// (holes stay unallocated) and maps ceil(length/512) tar sectors of each segment onto them.
import { ImageError } from '../../src/errors.js';
import type { Extent } from '../../src/format/ext4/extent.js';
import { EXT4_MAX_EXTENT_LEN } from '../../src/format/ext4/constants.js';
import type { FileData } from '../tree/fs-tree.js';
import type { BlockAllocator } from './block-allocator.js';
import type { DataExtent } from '../../src/format/ext4/delta-types.js';
import { BLOCK_SIZE } from './geometry.js';

const SECTORS_PER_BLOCK = BLOCK_SIZE / 512;

/** Where a file's data went: its extents, the tar mappings and the number of data blocks. */
export interface FileLayout {
  extents: Extent[];
  mappings: DataExtent[];
  blocks: number;
}

/** Allocates and maps `data`; `path` only names the file in errors. */
export function layoutFileData(data: FileData, alloc: BlockAllocator, path: string): FileLayout {
  // File block runs touched by segments, merged.
  const runs: { first: number; end: number }[] = [];
  data.segments.forEach((s, i) => {
    const last = i === data.segments.length - 1;
    if (s.fileOffset % 512 !== 0 || s.tarOffset % 512 !== 0 || (!last && s.length % 512 !== 0) || s.fileOffset + s.length > data.size) {
      throw new ImageError('UNSUPPORTED', 'sparse file segment is not 512-byte aligned or exceeds the file size', {
        details: { path, fileOffset: s.fileOffset, length: s.length, tarOffset: s.tarOffset, size: data.size },
      });
    }
    const first = Math.floor(s.fileOffset / BLOCK_SIZE);
    const end = Math.ceil((s.fileOffset + s.length) / BLOCK_SIZE);
    const prev = runs[runs.length - 1];
    if (prev && first <= prev.end) prev.end = Math.max(prev.end, end);
    else runs.push({ first, end });
  });
  let total = 0;
  for (const r of runs) total += r.end - r.first;
  const device = total > 0 ? alloc.allocData(total) : [];
  // Assign file runs onto device runs in order.
  const extents: Extent[] = [];
  let di = 0;
  let dOff = 0;
  for (const r of runs) {
    let fb = r.first;
    while (fb < r.end) {
      const dr = device[di]!;
      const take = Math.min(r.end - fb, dr.length - dOff, EXT4_MAX_EXTENT_LEN);
      const prev = extents[extents.length - 1];
      if (prev && prev.fileBlock + prev.length === fb && prev.start + prev.length === dr.start + dOff && prev.length + take <= EXT4_MAX_EXTENT_LEN) prev.length += take;
      else extents.push({ fileBlock: fb, length: take, start: dr.start + dOff });
      fb += take;
      dOff += take;
      if (dOff === dr.length) {
        di++;
        dOff = 0;
      }
    }
  }
  // Map each segment's sectors through the extents.
  const mappings: DataExtent[] = [];
  let ei = 0;
  for (const s of data.segments) {
    let fileSector = s.fileOffset / 512;
    const endSector = Math.ceil((s.fileOffset + s.length) / 512);
    let tar = s.tarOffset;
    while (fileSector < endSector) {
      while (ei < extents.length && (extents[ei]!.fileBlock + extents[ei]!.length) * SECTORS_PER_BLOCK <= fileSector) ei++;
      const e = extents[ei]!;
      const extEnd = (e.fileBlock + e.length) * SECTORS_PER_BLOCK;
      const n = Math.min(endSector, extEnd) - fileSector;
      const deviceSector = e.start * SECTORS_PER_BLOCK + (fileSector - e.fileBlock * SECTORS_PER_BLOCK);
      const prev = mappings[mappings.length - 1];
      if (prev && prev.deviceSector + prev.sectors === deviceSector && prev.tarOffset + prev.sectors * 512 === tar) prev.sectors += n;
      else mappings.push({ deviceSector, sectors: n, layer: data.layer, tarOffset: tar });
      fileSector += n;
      tar += n * 512;
    }
  }
  return { extents, mappings, blocks: total };
}
