// `turbo-index build <image-ref>`: index every layer of an image in one pass and attach the index as an OCI referrer.
import type { CommandModule } from 'yargs';

import { DEFAULT_SPAN_BYTES, INTERRUPT_GRACE_MS } from '../../defaults.js';
import { ImageError, isImageError } from '../../errors.js';
import { parsePlatform } from '../../format/oci/platform.js';
import { parseReference, referenceTarget } from '../../format/oci/reference.js';
import type { ImageStore } from '../../registry/image-store.js';
import { openImageStore } from '../../registry/open-store.js';
import { buildIndex, type LayerProgress } from '../../../indexer/pipeline/build-index.js';
import { defaultCacheFile, IndexCache } from '../../../indexer/pipeline/index-cache.js';
import type { LayerParts } from '../../../indexer/pipeline/layer-parts.js';
import { publishIndex } from '../../../indexer/pipeline/publish-index.js';
import { findIndexes, loadPublishedParts } from '../../../indexer/pipeline/published-index.js';
import { repositoryPartsLookup } from '../../../indexer/pipeline/repository-indexes.js';
import { platformText, resolveImages } from '../../../indexer/pipeline/resolve-image.js';
import { ProgressBars } from '../progress-bars.js';
import { parseBytes } from './byte-count.js';
import { storeOptions, withCommonOptions, type CommonArgs } from './registry.js';

/** Exit status after Ctrl-C (128 + SIGINT), as shells report it. */
export const INTERRUPTED_EXIT_STATUS = 130;

interface BuildArgs extends CommonArgs {
  'image-ref': string;
  output?: string;
  span: string;
  platform?: string;
  json?: boolean;
  cache: boolean;
}

/** Parts of published indexes of `subject` at `spanBytes` (unreadable ones are skipped: the build will redo them). */
async function publishedParts(store: ImageStore, subject: string, spanBytes: number): Promise<Map<string, LayerParts>> {
  const known = new Map<string, LayerParts>();
  try {
    for (const index of await findIndexes(store, subject)) {
      if (index.artifact.spanBytes !== spanBytes) continue;
      for (const [k, v] of (await loadPublishedParts(store, index)).parts) known.set(k, v);
    }
  } catch (err) {
    if (!isImageError(err)) throw err;
    known.clear();
  }
  return known;
}

/** Runs `fn` with an AbortSignal fired by SIGINT; after an interrupt, reports it and exits 130 once `fn` has unwound. */
export async function withInterrupt<T>(fn: (signal: AbortSignal) => Promise<T>): Promise<T> {
  const ac = new AbortController();
  const onSigint = (): void => {
    ac.abort(new ImageError('FAILED_PRECONDITION', 'interrupted'));
    // A request stuck in registry retries does not see the signal: leave anyway (the index manifest is written last).
    setTimeout(() => {
      process.stderr.write('turbo-index: interrupted; nothing was published\n');
      process.exit(INTERRUPTED_EXIT_STATUS);
    }, INTERRUPT_GRACE_MS).unref();
  };
  process.once('SIGINT', onSigint);
  try {
    return await fn(ac.signal);
  } catch (err) {
    if (ac.signal.aborted) {
      process.stderr.write('turbo-index: interrupted; nothing was published\n');
      process.exit(INTERRUPTED_EXIT_STATUS);
    }
    throw err;
  } finally {
    process.off('SIGINT', onSigint);
  }
}

/** Progress bars when stderr is a terminal and output is not JSON. */
export function progressFor(json: boolean | undefined): { onProgress?: (p: LayerProgress) => void; stop(): void } {
  if (json || !process.stderr.isTTY) return { stop: () => undefined };
  const bars = new ProgressBars(process.stderr);
  return { onProgress: (p) => bars.update(p), stop: () => bars.stop() };
}

/** `turbo-index build`. */
export const buildCommand: CommandModule<object, BuildArgs> = {
  command: 'build <image-ref>',
  describe: 'index an image (registry reference or oci:<dir>[:<tag>]) and attach the index as a referrer; prints its digest',
  builder: (y) =>
    withCommonOptions(y)
      .hide('ref')
      .positional('image-ref', { type: 'string', demandOption: true, describe: '[registry/]repository[:tag][@digest] or oci:<dir>[:<tag>]' })
      .option('output', { type: 'string', describe: 'write the index to this OCI layout (oci:<dir>) instead of the image\'s own store' })
      .option('span', { type: 'string', default: '1MiB', describe: 'uncompressed bytes between seek points (n or 1MiB)' })
      .option('platform', { type: 'string', describe: 'only this platform of a multi-platform image (os/arch[/variant]); default: every platform' })
      .option('cache', { type: 'boolean', default: true, describe: 'use the local layer index cache ($TURBO_OCI_INDEX_CACHE_DIR or ~/.cache/turbo-oci); --no-cache disables it' })
      .option('json', { type: 'boolean', describe: 'print the digests, per-layer stats and timings as JSON' }) as never,
  handler: (argv) =>
    withInterrupt(async (signal) => {
      const spanBytes = argv.span === undefined ? DEFAULT_SPAN_BYTES : parseBytes(argv.span, '--span');
      const platform = argv.platform ? parsePlatform(argv.platform) : undefined;
      const ref = parseReference(argv['image-ref']);
      let outputRef;
      if (argv.output !== undefined) {
        outputRef = parseReference(argv.output);
        if (outputRef.kind !== 'layout') throw new ImageError('INVALID_ARGUMENT', '--output must be an OCI layout: oci:<dir>');
      }
      const source = await openImageStore(ref, storeOptions(argv));
      const target = outputRef ? await openImageStore(outputRef, { createLayout: true }).catch(async (err: unknown) => { await source.close(); throw err; }) : source;
      let cache: IndexCache | undefined;
      if (argv.cache) {
        try {
          cache = new IndexCache(defaultCacheFile());
        } catch (err) {
          process.stderr.write(`turbo-index: warning: building without the layer index cache: ${(err as Error).message}\n`);
        }
      }
      const progress = progressFor(argv.json);
      try {
        const images = await resolveImages(source, referenceTarget(ref), platform);
        const inflight = new Map<string, Promise<LayerParts>>();
        const lookup = repositoryPartsLookup(target);
        const results = [];
        for (const image of images) {
          const known = await publishedParts(target, image.manifest.descriptor.digest, spanBytes);
          const built = await buildIndex(source, image, {
            spanBytes,
            known,
            lookup,
            inflight,
            signal,
            ...(cache ? { cache } : {}),
            ...(progress.onProgress ? { onProgress: progress.onProgress } : {}),
          });
          const published = await publishIndex(target, built, signal);
          results.push({
            digest: published.descriptor.digest,
            subject: image.manifest.descriptor.digest,
            platform: platformText(image.platform) || undefined,
            store: target.location,
            spanBytes,
            size: built.manifestBytes.length,
            artifactBytes: [...built.blobs.values()].reduce((n, b) => n + b.length, 0),
            imageBytes: built.layers.reduce((n, l) => n + l.size, 0),
            uploadedBlobs: published.uploadedBlobs,
            existingBlobs: published.existingBlobs,
            totalMs: built.totalMs,
            layers: built.layers,
          });
        }
        progress.stop();
        if (argv.json) process.stdout.write(`${JSON.stringify({ digest: results[0]!.digest, indexes: results }, null, 2)}\n`);
        else for (const r of results) process.stdout.write(images.length > 1 ? `${r.digest}\t${r.platform ?? ''}\n` : `${r.digest}\n`);
      } finally {
        progress.stop();
        cache?.close();
        if (target !== source) await target.close();
        await source.close();
      }
    }),
};
