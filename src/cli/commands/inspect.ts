// `turbo-index inspect <image-ref>`: the turbo-oci indexes attached to an image, per layer span, points and sizes.
import type { CommandModule } from 'yargs';

import { parseReference, referenceTarget } from '../../format/oci/reference.js';
import { openImageStore } from '../../registry/open-store.js';
import { findIndexes } from '../../../indexer/pipeline/published-index.js';
import { platformText, resolveImages } from '../../../indexer/pipeline/resolve-image.js';
import { storeOptions, withCommonOptions, type CommonArgs } from './registry.js';

interface InspectArgs extends CommonArgs {
  'image-ref': string;
  json?: boolean;
}

function size(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  return `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 || c === 1 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  ').trimEnd()).join('\n');
}

/** `turbo-index inspect`. */
export const inspectCommand: CommandModule<object, InspectArgs> = {
  command: 'inspect <image-ref>',
  describe: 'list the turbo-oci indexes attached to an image: per layer span, seek points, delta size, % of the layer',
  builder: (y) =>
    withCommonOptions(y)
      .hide('ref')
      .positional('image-ref', { type: 'string', demandOption: true, describe: '[registry/]repository[:tag][@digest] or oci:<dir>[:<tag>]' })
      .option('json', { type: 'boolean', describe: 'print the indexes as JSON' }) as never,
  handler: async (argv) => {
    const ref = parseReference(argv['image-ref']);
    const store = await openImageStore(ref, storeOptions(argv));
    try {
      const report = [];
      for (const image of await resolveImages(store, referenceTarget(ref))) {
        const indexes = await findIndexes(store, image.manifest.descriptor.digest);
        report.push({
          image: image.manifest.descriptor.digest,
          platform: platformText(image.platform) || undefined,
          indexes: indexes.map((ix) => ({
            digest: ix.descriptor.digest,
            buildTool: ix.artifact.buildTool,
            spanBytes: ix.artifact.spanBytes,
            deviceBytes: ix.artifact.deviceBytes,
            layers: ix.artifact.layers.map((l, i) => {
              const indexBytes = l.seekIndex.size + l.ext4Delta.size + l.entryTable.size;
              return {
                position: i,
                digest: l.digest,
                mediaType: l.mediaType,
                size: l.size,
                uncompressedBytes: l.uncompressedBytes,
                chainId: l.chainId,
                points: l.points,
                seekIndexBytes: l.seekIndex.size,
                ext4DeltaBytes: l.ext4Delta.size,
                entryTableBytes: l.entryTable.size,
                percentOfLayer: l.size > 0 ? Math.round((indexBytes / l.size) * 10000) / 100 : 0,
              };
            }),
          })),
        });
      }
      if (argv.json) {
        process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
        return;
      }
      for (const image of report) {
        process.stdout.write(`image ${image.image}${image.platform ? ` (${image.platform})` : ''}\n`);
        if (image.indexes.length === 0) process.stdout.write('  no turbo-oci index attached (run turbo-index build)\n');
        for (const ix of image.indexes) {
          process.stdout.write(`  index ${ix.digest}  span ${size(ix.spanBytes)}  built by ${ix.buildTool}\n`);
          const rows = [['#', 'layer', 'size', 'span', 'points', 'seek index', 'ext4 delta', 'entries', '% of layer']];
          for (const l of ix.layers) {
            rows.push([String(l.position), l.digest.slice(0, 19), size(l.size), size(ix.spanBytes), String(l.points), size(l.seekIndexBytes), size(l.ext4DeltaBytes), size(l.entryTableBytes), `${l.percentOfLayer.toFixed(2)} %`]);
          }
          process.stdout.write(`${table(rows).replace(/^/gm, '    ')}\n`);
        }
      }
    } finally {
      await store.close();
    }
  },
};
