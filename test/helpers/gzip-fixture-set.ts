// The gzip fixture classes (fixtures/gzip-fixtures.ts), generated once into the fixture cache, and the engines to test.
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { GZIP_FIXTURE_CLASSES, generateGzipFixtures, generateUsrLayer, type GzipFixture } from '../../fixtures/gzip-fixtures.js';
import { nativeUnavailableReason, selectEngine } from '../../src/seek/engine-select.js';
import type { InflateEngine } from '../../src/seek/inflate-engine.js';
import { pakoEngine } from '../../src/seek/pako-engine.js';
import { cachedFixture } from './fixture-cache.js';

/** Bump when generateGzipFixtures changes. */
const GZIP_FIXTURES_VERSION = 1;
/** Bump when generateUsrLayer changes. */
const USR_LAYER_VERSION = 3;

/** A fixture with its expected bytes loaded. */
export interface LoadedGzipFixture extends GzipFixture {
  gz: Buffer;
  raw: Buffer;
}

/** Every gzip fixture class, generated on first use and cached across runs. */
export async function gzipFixtures(): Promise<LoadedGzipFixture[]> {
  const dir = await cachedFixture('gzip-classes', GZIP_FIXTURES_VERSION, async (d) => {
    generateGzipFixtures(d);
  });
  return GZIP_FIXTURE_CLASSES.map((name) => {
    const file = path.join(dir, `${name}.gz`);
    const rawFile = path.join(dir, `${name}.raw`);
    return { name, file, rawFile, small: name === 'empty' || name === 'one-byte' || name === 'small-multi', gz: readFileSync(file), raw: readFileSync(rawFile) };
  });
}

/** The >= 200 MB tar of /usr files and its `gzip -6 -n` layer, generated once. */
export async function usrLayer(): Promise<{ tar: string; gz: string }> {
  const dir = await cachedFixture('usr-layer', USR_LAYER_VERSION, async (d) => {
    generateUsrLayer(d);
  });
  return { tar: path.join(dir, 'layer.tar'), gz: path.join(dir, 'layer.tar.gz') };
}

/** Why the native engine cannot be tested here (printed once), or undefined. */
export const nativeSkipReason: string | undefined = (() => {
  const reason = nativeUnavailableReason();
  if (reason) console.warn(`SKIP native engine tests: ${reason}`);
  return reason;
})();

/** The engines under test: pako always, native when it loads. */
export function testEngines(): InflateEngine[] {
  return nativeSkipReason ? [pakoEngine] : [pakoEngine, selectEngine('native')];
}

/** Yields `buf` in pieces of `size` bytes (1 = byte by byte). */
export async function* chunksOf(buf: Buffer, size: number): AsyncGenerator<Buffer> {
  for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size);
}
