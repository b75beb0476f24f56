// `turbo-index annotate <image-ref> --to <new-ref>`: pushes a copy of an indexed image whose layer descriptors name the index (turbo.ociv1 layer annotations).
import type { CommandModule } from 'yargs';

import { annotateImage } from '../../../indexer/pipeline/annotate-image.js';
import { ImageError } from '../../errors.js';
import { formatRepositoryName } from '../../format/artifact/layer-annotations.js';
import { formatReference, parseReference, referenceTarget } from '../../format/oci/reference.js';
import { openImageStore } from '../../registry/open-store.js';
import { writeOut } from './output.js';
import { storeOptions, withCommonOptions, type CommonArgs } from './registry.js';

interface AnnotateArgs extends CommonArgs {
  'image-ref': string;
  to: string;
  json?: boolean;
}

/** `turbo-index annotate`. */
export const annotateCommand: CommandModule<object, AnnotateArgs> = {
  command: 'annotate <image-ref>',
  describe: 'push a copy of an indexed image whose layers carry the turbo.ociv1 annotations (containerd.io/snapshot/turbo.ociv1.*), so containerd pulls of it are served lazily',
  builder: (y) =>
    withCommonOptions(y)
      .hide('ref')
      .positional('image-ref', { type: 'string', demandOption: true, describe: 'registry image reference, indexed with turbo-index build' })
      .option('to', { type: 'string', demandOption: true, describe: 'reference of the copy: same registry and repository, a new tag' })
      .option('json', { type: 'boolean', describe: 'print the pushed digests as JSON' }) as never,
  handler: async (argv) => {
    const ref = parseReference(argv['image-ref']);
    const to = parseReference(argv.to);
    if (ref.kind !== 'registry' || to.kind !== 'registry') throw new ImageError('INVALID_ARGUMENT', 'annotate needs registry references', { details: { ref: argv['image-ref'], to: argv.to } });
    if (to.registry !== ref.registry || to.repository !== ref.repository || to.tag === undefined || to.digest !== undefined) {
      throw new ImageError('INVALID_ARGUMENT', `--to must be a tag in ${formatRepositoryName(ref)} (the annotations point at that repository)`, {
        details: { to: argv.to },
        hint: `e.g. --to ${formatRepositoryName(ref)}:lazy`,
      });
    }
    if (ref.digest === undefined && (ref.tag ?? 'latest') === to.tag) {
      throw new ImageError('INVALID_ARGUMENT', `--to ${to.tag} would move the tag off the original image, which the annotations serve from`, {
        details: { to: argv.to },
        hint: 'choose a new tag; keep the original tagged so registry garbage collection keeps it',
      });
    }
    const store = await openImageStore(ref, storeOptions(argv));
    try {
      const result = await annotateImage(store, ref, referenceTarget(ref), to.tag);
      const pushed = formatReference({ ...to, digest: result.descriptor.digest });
      if (argv.json) {
        await writeOut(`${JSON.stringify({ ref: pushed, digest: result.descriptor.digest, images: result.images.map((i) => ({ source: i.source.digest, annotated: i.annotated.digest, index: i.indexDigest, platform: i.platform })) }, null, 2)}\n`);
      } else {
        await writeOut(`${pushed}\n`);
      }
    } finally {
      await store.close();
    }
  },
};
