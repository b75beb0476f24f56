// The per-layer inputs of an index (seek index, entry table) and how a build obtains them: shared, cached, published or read from the layer.
import { decodeSeekIndex } from '../../src/format/seek-index.js';
import { ImageError } from '../../src/errors.js';
import { parseDigest } from '../../src/format/oci/digest.js';
import { decodeEntryTable, type EntryTable } from '../artifact/entry-table.js';

/** Where a layer's parts came from. */
export type PartsSource = 'downloaded' | 'cache' | 'published' | 'shared';

/** A layer's seek index and entry table, checked against the layer descriptor. */
export interface LayerParts {
  seekIndexBlob: Buffer;
  entryTableBlob: Buffer;
  entryTable: EntryTable;
  points: number;
  source: PartsSource;
}

/** Key of a layer's parts: digest and span. */
export function partsKey(digest: string, spanBytes: number): string {
  return `${digest}@${spanBytes}`;
}

/**
 * Decodes stored parts and checks them against the layer (`digest`, `size`) and `spanBytes`: the seek index must
 * describe exactly this blob and span, the entry table the same uncompressed size. CORRUPT otherwise.
 */
export function checkStoredParts(seekIndexBlob: Buffer, entryTableBlob: Buffer, layer: { digest: string; size: number }, spanBytes: number, source: PartsSource): LayerParts {
  const index = decodeSeekIndex(seekIndexBlob);
  const entryTable = decodeEntryTable(entryTableBlob);
  const { hex } = parseDigest(layer.digest);
  if (index.layerSha256.toString('hex') !== hex || index.compressedBytes !== layer.size || index.spanBytes !== spanBytes || index.uncompressedBytes !== entryTable.tarBytes) {
    throw new ImageError('CORRUPT', `stored index parts do not describe layer ${layer.digest}`, {
      details: { digest: layer.digest, source, layerSha256: index.layerSha256.toString('hex'), compressedBytes: index.compressedBytes, spanBytes: index.spanBytes },
    });
  }
  return { seekIndexBlob, entryTableBlob, entryTable, points: index.points.length, source };
}
