// `turbo-index pull <image-ref> --containerd-address <sock>`: records the image's index in the snapshotter's lazy catalog, then makes containerd "pull" it lazily.
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import type { CommandModule } from 'yargs';

import { DEFAULT_SNAPSHOTTER_ROOT } from '../../defaults.js';
import { ImageError } from '../../errors.js';
import { inheritedLabels } from '../../format/artifact/layer-annotations.js';
import { parseManifest, type ImageManifest } from '../../format/oci/manifest.js';
import { parseReference, referenceTarget } from '../../format/oci/reference.js';
import { readBlob } from '../../registry/image-store.js';
import { openImageStore } from '../../registry/open-store.js';
import { ContainerdClient } from '../../snapshotter/containerd-client.js';
import { LazyCatalog } from '../../snapshotter/lazy-catalog.js';
import { resolveAnnotatedImage } from '../../snapshotter/annotation-discovery.js';
import { resolveLazyImage } from '../../snapshotter/lazy-image-resolver.js';
import { TARGET_SNAPSHOT_LABEL } from '../../snapshotter/lazy-layer.js';
import { writeOut } from './output.js';
import { storeOptions, withCommonOptions, type CommonArgs } from './registry.js';

interface PullArgs extends CommonArgs {
  'image-ref': string;
  'containerd-address': string;
  snapshotter: string;
  'snapshotter-root': string;
  namespace: string;
}

/** `turbo-index pull`. */
export const pullCommand: CommandModule<object, PullArgs> = {
  command: 'pull <image-ref>',
  describe: 'make containerd know an indexed image without downloading its layers: lazy catalog entry + content, image and remote snapshots via containerd\'s API',
  builder: (y) =>
    withCommonOptions(y)
      .hide('ref')
      .positional('image-ref', { type: 'string', demandOption: true, describe: 'registry image reference (indexed with turbo-index build)' })
      .option('containerd-address', { type: 'string', demandOption: true, describe: 'containerd\'s gRPC unix socket' })
      .option('snapshotter', { type: 'string', default: 'turbo', describe: 'name of the turbo-snapshotter proxy plugin in containerd' })
      .option('snapshotter-root', { type: 'string', default: DEFAULT_SNAPSHOTTER_ROOT, describe: 'turbo-snapshotter --root (its lazy catalog lives there)' })
      .option('namespace', { type: 'string', default: 'default', describe: 'containerd namespace' }) as never,
  handler: async (argv) => {
    const ref = parseReference(argv['image-ref']);
    if (ref.kind !== 'registry') throw new ImageError('INVALID_ARGUMENT', 'pull needs a registry reference', { details: { ref: argv['image-ref'] } });
    const store = await openImageStore(ref, storeOptions(argv));
    let resolved;
    let manifestDigest: string;
    let manifestBytes: Buffer;
    let config: Buffer;
    let manifest: ImageManifest;
    let manifestMediaType: string;
    try {
      // An image whose layers carry turbo.ociv1 annotations names its index (discovery step 2); else the referrers lookup.
      const annotated = await resolveAnnotatedImage(store, ref, referenceTarget(ref), (name) => openImageStore({ kind: 'registry', ...name }, storeOptions(argv)));
      resolved = annotated ?? (await resolveLazyImage(store, ref, referenceTarget(ref)));
      manifestDigest = annotated?.manifestDigest ?? resolved.imageDigest;
      const m = await store.getManifest(manifestDigest);
      manifestBytes = Buffer.from(m.bytes);
      manifestMediaType = m.descriptor.mediaType;
      manifest = parseManifest(m.bytes, m.descriptor.mediaType).manifest as ImageManifest;
      config = await readBlob(store, manifest.config.digest, manifest.config.size);
    } finally {
      await store.close();
    }
    // 1. The catalog: the snapshotter recognises these chain IDs on Prepare.
    const catalog = new LazyCatalog(path.join(argv['snapshotter-root'], 'lazy.db'));
    try {
      catalog.record(resolved.entries);
    } finally {
      catalog.close();
    }
    // 2. containerd: one remote-snapshotter Prepare per layer, manifest + config in its content store, then the image record.
    const chainIds = resolved.entries.map((e) => e.chainId);
    const client = new ContainerdClient(argv['containerd-address'], argv.namespace);
    try {
      await client.withLease(async () => {
        // The snapshots first (the lease holds them meanwhile): the top layer's Prepare starts the snapshotter's mount ahead.
        let parent = '';
        for (const [k, chainId] of chainIds.entries()) {
          if ((await client.snapshotKind(argv.snapshotter, chainId)) === undefined) {
            const key = `extract-${randomBytes(8).toString('hex')} ${chainId}`;
            // As containerd's unpacker: the layer's containerd.io/snapshot/* annotations go along as labels.
            const labels = { ...inheritedLabels(manifest.layers[k]?.annotations), [TARGET_SNAPSHOT_LABEL]: chainId };
            try {
              await client.prepareSnapshot(argv.snapshotter, key, parent, labels);
              await client.removeSnapshot(argv.snapshotter, key).catch(() => undefined);
              throw new ImageError('FAILED_PRECONDITION', `snapshotter ${argv.snapshotter} unpacks layer ${chainId} instead of serving it lazily`, {
                details: { chainId, snapshotter: argv.snapshotter },
                hint: '--snapshotter-root must be the root of the turbo-snapshotter that containerd calls',
              });
            } catch (err) {
              if (!(err instanceof ImageError) || err.code !== 'ALREADY_EXISTS') throw err;
            }
            if ((await client.snapshotKind(argv.snapshotter, chainId)) !== 'COMMITTED') {
              throw new ImageError('UNAVAILABLE', `containerd did not record the lazy snapshot ${chainId}`, { details: { chainId } });
            }
          }
          parent = chainId;
        }
        // GC references as containerd's own unpacker sets them: image -> manifest -> config -> top snapshot.
        await client.writeBlob(config, manifest.config.digest, { [`containerd.io/gc.ref.snapshot.${argv.snapshotter}`]: chainIds[chainIds.length - 1]! });
        await client.writeBlob(manifestBytes, manifestDigest, { 'containerd.io/gc.ref.content.config': manifest.config.digest });
        await client.putImage(argv['image-ref'], { mediaType: manifestMediaType, digest: manifestDigest, size: manifestBytes.length });
      });
    } finally {
      client.close();
    }
    await writeOut(`pulled ${argv['image-ref']} lazily (image ${manifestDigest}, index ${resolved.indexDigest}, ${chainIds.length} layers)\n`);
  },
};
