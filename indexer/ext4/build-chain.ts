// Runs a chain of layers through the tar scanner, the OCI layer applier and the ext4 chain writer,
// yielding one ext4 delta per layer (the data stays in the tars; only offsets are recorded).
import { scanTar } from '../tar/scan-tar.js';
import type { TarWarning } from '../tar/tar-entry.js';
import { applyLayer } from '../layer/apply-layer.js';
import { FsTree } from '../tree/tree-model.js';
import type { Ext4Delta } from '../../src/format/ext4/delta-types.js';
import { Ext4ChainWriter } from './chain-writer.js';

/** Opens layer `layer`'s uncompressed tar as a stream of chunks. */
export type LayerTarOpener = (layer: number) => AsyncIterable<Buffer> | Promise<AsyncIterable<Buffer>>;

/** Options of buildExt4Chain. */
export interface BuildChainOptions {
  deviceBytes: number;
  /** Tolerated irregularities of the tars and layers (e.g. trailing bytes, reserved whiteout names). */
  onWarning?: (layer: number, warning: { code: string; message: string }) => void;
}

/** Scans and applies `layerCount` layers in order; returns the delta of each (yields after every layer). */
export async function* buildExt4Chain(layerCount: number, open: LayerTarOpener, options: BuildChainOptions): AsyncGenerator<Ext4Delta> {
  const tree = new FsTree();
  const writer = new Ext4ChainWriter({ deviceBytes: options.deviceBytes });
  for (let layer = 0; layer < layerCount; layer++) {
    const warn = (w: TarWarning | { code: string; message: string }): void => options.onWarning?.(layer, w);
    await applyLayer(tree, scanTar(await open(layer), { onWarning: warn }), layer, { onWarning: warn });
    yield writer.writeLayer(tree.root, layer);
  }
}
