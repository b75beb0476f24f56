// Small multi-layer OCI images in memory (gzip tar layers of seeded files) for tests that need several chain IDs without the Debian fixture.
import { gzipSync } from 'node:zlib';

import { chainIds } from '../../src/format/artifact/chain-id.js';
import { sha256Digest } from '../../src/format/oci/digest.js';
import { encodeManifest, type Descriptor, type ImageManifest } from '../../src/format/oci/manifest.js';
import { OCI_CONFIG, OCI_LAYER_GZIP, OCI_MANIFEST } from '../../src/format/oci/media-types.js';
import { makeTar, type TestImage } from './oci-image.js';
import { SeededRandom } from './random.js';

/** A TestImage plus its layers' diffIDs, chain IDs and the files of each layer. */
export interface LayeredImage extends TestImage {
  diffIds: string[];
  chainIds: string[];
  files: Record<string, Buffer>[];
}

/** A linux/amd64 image of `layerCount` gzip layers; layer i holds `layer-<i>/data.bin` (`fileBytes` seeded bytes) and `layer-<i>/name.txt`. */
export async function makeLayeredImage(seed: string, layerCount: number, fileBytes = 8192): Promise<LayeredImage> {
  const rnd = new SeededRandom(seed);
  const files: Record<string, Buffer>[] = [];
  const tars: Buffer[] = [];
  for (let i = 0; i < layerCount; i++) {
    const f = { [`layer-${i}/data.bin`]: rnd.bytes(fileBytes), [`layer-${i}/name.txt`]: Buffer.from(`${seed} layer ${i}\n`) };
    files.push(f);
    tars.push(await makeTar(f));
  }
  const diffIds = tars.map((t) => sha256Digest(t));
  const blobs = new Map<string, Buffer>();
  const layers: Descriptor[] = tars.map((t) => {
    const gz = gzipSync(t);
    blobs.set(sha256Digest(gz), gz);
    return { mediaType: OCI_LAYER_GZIP, digest: sha256Digest(gz), size: gz.length };
  });
  const configBytes = Buffer.from(
    JSON.stringify({
      created: '2026-01-01T00:00:00Z',
      architecture: 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/usr/bin:/bin'] },
      rootfs: { type: 'layers', diff_ids: diffIds },
      history: diffIds.map((_, i) => ({ created: '2026-01-01T00:00:00Z', created_by: `turbo-oci test ${seed} layer ${i}` })),
    }),
  );
  const config: Descriptor = { mediaType: OCI_CONFIG, digest: sha256Digest(configBytes), size: configBytes.length };
  blobs.set(config.digest, configBytes);
  const manifest: ImageManifest = { schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers };
  const manifestBytes = encodeManifest(manifest);
  return {
    blobs,
    config,
    layers,
    manifestBytes,
    manifest: { mediaType: OCI_MANIFEST, digest: sha256Digest(manifestBytes), size: manifestBytes.length },
    diffIds,
    chainIds: chainIds(diffIds),
    files,
  };
}
