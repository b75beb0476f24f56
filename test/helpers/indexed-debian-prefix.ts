// The raw ext4 image `turbo-index ext4 materialize` makes of the first n layers of the indexed Debian fixture, at the fixture's device size (cached per n).
import path from 'node:path';

import { cachedFixture } from './fixture-cache.js';
import { withFixtureLock } from './images.js';
import { INDEXED_DEVICE_BYTES, type IndexedDebian } from './indexed-debian.js';
import { turboIndex } from './turbo-index-cli.js';

/** Bump when the recipe changes. */
const VERSION = 1;

/** Path of the raw image of layers 0..n-1 of `fx` (sparse, INDEXED_DEVICE_BYTES). */
export async function materializedPrefix(fx: IndexedDebian, n: number): Promise<string> {
  if (!Number.isInteger(n) || n < 1 || n > fx.debian.layers.length) throw new Error(`prefix must be 1..${fx.debian.layers.length}, got ${n}`);
  // Keyed by the indexed fixture's directory (name + version) too: a rebuilt index means a rebuilt prefix.
  const name = `${path.basename(path.dirname(fx.layoutDir))}-prefix-${n}-${fx.debian.manifestDigest.slice(7, 19)}`;
  const dir = await withFixtureLock(name, () =>
    cachedFixture(name, VERSION, async (out) => {
      const layers = fx.debian.layers.slice(0, n).flatMap((l) => ['--layer', l.uncompressedTarPath]);
      const r = await turboIndex(['ext4', 'materialize', ...layers, '--device-size', String(INDEXED_DEVICE_BYTES), '--output', path.join(out, 'raw.img')]);
      if (r.status !== 0) throw new Error(`ext4 materialize failed: ${r.stderr}`);
    }),
  );
  return path.join(dir, 'raw.img');
}
