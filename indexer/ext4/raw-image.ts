// Writes a complete raw ext4 image from a stacked device map: a sparse file of the device size holding
// the metadata blocks and the mapped tar ranges copied from each layer's uncompressed tar stream.
import { open } from 'node:fs/promises';
import type { DeviceBlockMap, MapPiece } from '../../src/ext4/block-map.js';

/** Opens the uncompressed tar stream of layer `layer` (called once per layer that has mapped data). */
export type TarStreamOpener = (layer: number) => AsyncIterable<Buffer> | Promise<AsyncIterable<Buffer>>;

/** Writes the image to `path` (created or truncated); unmapped ranges stay holes that read as zero. */
export async function writeRawImage(map: DeviceBlockMap, openTar: TarStreamOpener, path: string): Promise<void> {
  const fh = await open(path, 'w');
  try {
    await fh.truncate(map.deviceBytes);
    const byLayer = new Map<number, MapPiece[]>();
    for (const p of map.pieces) {
      if (p.source.kind === 'meta') {
        await fh.write(p.source.block, p.source.byteOffset, p.sectors * 512, p.sector * 512);
      } else {
        const list = byLayer.get(p.source.layer) ?? [];
        list.push(p);
        byLayer.set(p.source.layer, list);
      }
    }
    for (const [layer, pieces] of [...byLayer].sort((a, b) => a[0] - b[0])) {
      const tarOf = (p: MapPiece): number => (p.source as { tarOffset: number }).tarOffset;
      pieces.sort((a, b) => tarOf(a) - tarOf(b));
      const stream = await openTar(layer);
      let pos = 0;
      let i = 0;
      for await (const chunk of stream) {
        const cEnd = pos + chunk.length;
        while (i < pieces.length && tarOf(pieces[i]!) + pieces[i]!.sectors * 512 <= pos) i++;
        for (let k = i; k < pieces.length && tarOf(pieces[k]!) < cEnd; k++) {
          const p = pieces[k]!;
          const from = Math.max(pos, tarOf(p));
          const to = Math.min(cEnd, tarOf(p) + p.sectors * 512);
          if (to > from) await fh.write(chunk, from - pos, to - from, p.sector * 512 + (from - tarOf(p)));
        }
        pos = cEnd;
        if (i >= pieces.length) break;
      }
      (stream as { destroy?: () => void }).destroy?.();
    }
  } finally {
    await fh.close();
  }
}
