// The Debian fixture image indexed for the backstore tests: a copy of its OCI layout with a 1 GiB-device index attached, and the raw ext4 image `turbo-index ext4 materialize` makes of its layers (cached).
import { cpSync } from 'node:fs';
import path from 'node:path';

import { DEFAULT_SPAN_BYTES } from '../../src/defaults.js';
import { OciLayoutStore } from '../../src/registry/oci-layout-store.js';
import { buildIndex } from '../../indexer/pipeline/build-index.js';
import { publishIndex } from '../../indexer/pipeline/publish-index.js';
import { resolveImages } from '../../indexer/pipeline/resolve-image.js';
import { cachedFixture } from './fixture-cache.js';
import { debianImage, withFixtureLock, type DebianImage } from './images.js';
import { turboIndex } from './turbo-index-cli.js';

/** Bump when the recipe changes. */
const VERSION = 2; // 2: rebuilt after the ext4 writer froze backup superblocks at the first layer (deltas changed)

/** Device size of the fixture's index: small enough for nbdcopy and cmp of the whole device in seconds. */
export const INDEXED_DEVICE_BYTES = 1024 * 1024 * 1024;

/** The indexed copy of the Debian image. */
export interface IndexedDebian {
  debian: DebianImage;
  /** OCI layout holding the image (tag `latest`) and its index as a referrer. */
  layoutDir: string;
  /** `oci:<layoutDir>:latest`. */
  ref: string;
  /** Raw ext4 image of the 4 layers (sparse, INDEXED_DEVICE_BYTES). */
  rawImage: string;
}

/** Builds (once, cached) the indexed layout and the materialized raw image. */
export async function indexedDebian(): Promise<IndexedDebian> {
  const debian = await debianImage();
  const dir = await withFixtureLock('debian-indexed', () =>
    cachedFixture('debian-indexed-1g', VERSION, async (out) => {
      const layoutDir = path.join(out, 'layout');
      cpSync(debian.layoutDir, layoutDir, { recursive: true });
      const store = await OciLayoutStore.open(layoutDir, { create: false });
      try {
        const [image] = await resolveImages(store, 'latest');
        const built = await buildIndex(store, image!, { spanBytes: DEFAULT_SPAN_BYTES, deviceBytes: INDEXED_DEVICE_BYTES });
        await publishIndex(store, built);
      } finally {
        await store.close();
      }
      const layers = debian.layers.flatMap((l) => ['--layer', l.uncompressedTarPath]);
      const r = await turboIndex(['ext4', 'materialize', ...layers, '--device-size', String(INDEXED_DEVICE_BYTES), '--output', path.join(out, 'raw.img')]);
      if (r.status !== 0) throw new Error(`ext4 materialize failed: ${r.stderr}`);
    }),
  );
  const layoutDir = path.join(dir, 'layout');
  return { debian, layoutDir, ref: `oci:${layoutDir}:latest`, rawImage: path.join(dir, 'raw.img') };
}
