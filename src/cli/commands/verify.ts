// `turbo-index verify <image-ref>`: checks every attached index against a rebuild, byte for byte (`--full`: from the layers themselves).
import type { CommandModule } from 'yargs';

import { ImageError } from '../../errors.js';
import { parseReference, referenceTarget } from '../../format/oci/reference.js';
import { openImageStore } from '../../registry/open-store.js';
import { findIndexes } from '../../../indexer/pipeline/published-index.js';
import { platformText, resolveImages } from '../../../indexer/pipeline/resolve-image.js';
import { verifyIndex } from '../../../indexer/pipeline/verify-index.js';
import { progressFor, withInterrupt } from './build.js';
import { storeOptions, withCommonOptions, type CommonArgs } from './registry.js';

interface VerifyArgs extends CommonArgs {
  'image-ref': string;
  full?: boolean;
  json?: boolean;
}

/** `turbo-index verify`. */
export const verifyCommand: CommandModule<object, VerifyArgs> = {
  command: 'verify <image-ref>',
  describe: 'rebuild the indexes attached to an image and compare them byte for byte (CORRUPT on any difference)',
  builder: (y) =>
    withCommonOptions(y)
      .hide('ref')
      .positional('image-ref', { type: 'string', demandOption: true, describe: '[registry/]repository[:tag][@digest] or oci:<dir>[:<tag>]' })
      .option('full', { type: 'boolean', describe: 'also download every layer, check its digest, and rebuild the seek indexes and entry tables from it' })
      .option('json', { type: 'boolean', describe: 'print the results as JSON' }) as never,
  handler: (argv) =>
    withInterrupt(async (signal) => {
      const ref = parseReference(argv['image-ref']);
      const store = await openImageStore(ref, storeOptions(argv));
      const progress = progressFor(argv.json);
      try {
        const results = [];
        for (const image of await resolveImages(store, referenceTarget(ref))) {
          const indexes = await findIndexes(store, image.manifest.descriptor.digest);
          if (indexes.length === 0) {
            throw new ImageError('NOT_FOUND', `no turbo-oci index is attached to ${image.manifest.descriptor.digest}`, { hint: 'run turbo-index build first' });
          }
          for (const ix of indexes) {
            const r = await verifyIndex(store, store, image, ix, { full: argv.full ?? false, signal, ...(progress.onProgress ? { onProgress: progress.onProgress } : {}) });
            results.push({ ...r, platform: platformText(image.platform) || undefined });
          }
        }
        progress.stop();
        if (argv.json) process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
        else for (const r of results) process.stdout.write(`ok ${r.index} (${r.layers} layers, ${r.blobs} blobs, ${r.mode === 'full' ? 'rebuilt from the layers' : 'rebuilt from the published parts'}${r.platform ? `, ${r.platform}` : ''})\n`);
      } finally {
        progress.stop();
        await store.close();
      }
    }),
};
