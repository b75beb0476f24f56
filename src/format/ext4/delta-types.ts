// The in-memory form of one layer's ext4 delta: changed metadata blocks, new data mappings, zero ranges.

/** Device sectors mapped onto a layer's uncompressed tar: `sectors` × 512 bytes from `tarOffset`. */
export interface DataExtent {
  deviceSector: number;
  sectors: number;
  /** Layer whose tar holds the bytes. */
  layer: number;
  tarOffset: number;
}

/** Device sectors that read as zero from this layer on. */
export interface ZeroRange {
  deviceSector: number;
  sectors: number;
}

/** What layer `layer` changes on the device relative to the image after layer - 1. */
export interface Ext4Delta {
  layer: number;
  deviceBytes: number;
  blockSize: number;
  /** Changed metadata blocks by block number, ascending. */
  metadata: Map<number, Buffer>;
  /** New data mappings, ascending by deviceSector. */
  dataExtents: DataExtent[];
  /** Ranges that must now read as zero, ascending, applied before this layer's blocks and extents. */
  zeroRanges: ZeroRange[];
}
