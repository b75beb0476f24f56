// Flags and opening logic shared by the commands that read an indexed image lazily (ls, cat, stat, serve-nbd, mount).
import type { Argv } from 'yargs';

import { DEFAULT_BACKSTORE_READAHEAD_SPANS, DEFAULT_BACKSTORE_READ_TIMEOUT_MS, DEFAULT_SPAN_CACHE_BYTES, DEFAULT_SPAN_DISK_CACHE_BYTES } from '../../defaults.js';
import type { LazyBlockDevice } from '../../backstore/lazy-device.js';
import { openLazyImage, type OpenLazyImageOptions } from '../../backstore/open-image.js';
import { ImageError } from '../../errors.js';
import { parseDigest } from '../../format/oci/digest.js';
import { parsePlatform } from '../../format/oci/platform.js';
import { parseReference, referenceTarget } from '../../format/oci/reference.js';
import { openImageStore } from '../../registry/open-store.js';
import { parseBytes } from './byte-count.js';
import { storeOptions, withCommonOptions, type CommonArgs } from './registry.js';

/** The backstore flags (plus the registry flags of CommonArgs). */
export interface ImageDeviceArgs extends CommonArgs {
  'image-ref': string;
  platform?: string;
  index?: string;
  'index-digest'?: string;
  'cache-dir'?: string;
  'disk-cache': boolean;
  'cache-max-bytes': string;
  'memory-cache-bytes': string;
  'read-timeout-ms': number;
  readahead: number;
  'background-fetch'?: boolean;
  'background-fetch-rate'?: string;
  'record-trace'?: string;
  'prefetch-trace'?: string;
  layers?: number;
}

/** Adds `<image-ref>` handling, the registry flags and the backstore flags. */
export function withImageDeviceOptions<T>(y: Argv<T>): Argv<T & ImageDeviceArgs> {
  return withCommonOptions(y)
    .hide('ref')
    .positional('image-ref', { type: 'string', demandOption: true, describe: '[registry/]repository[:tag][@digest] or oci:<dir>[:<tag>] (indexed with turbo-index build)' })
    .option('platform', { type: 'string', describe: 'os/arch[/variant] to pick from a multi-platform image (default: this host)' })
    .option('index', { type: 'string', describe: 'OCI layout (oci:<dir>) holding the index when it was built with --output (default: the image\'s own store)' })
    .option('index-digest', { type: 'string', describe: 'serve this index artifact (sha256:…) instead of the lowest-digest index referrer of the image' })
    .option('cache-dir', { type: 'string', describe: 'persistent span cache directory (default $TURBO_OCI_SPAN_CACHE_DIR or ~/.cache/turbo-oci/spans)' })
    .option('disk-cache', { type: 'boolean', default: true, describe: 'keep fetched spans on disk (--no-disk-cache: memory only)' })
    .option('cache-max-bytes', { type: 'string', default: String(DEFAULT_SPAN_DISK_CACHE_BYTES), describe: 'disk cache bound (bytes, or with K/M/G suffix)' })
    .option('memory-cache-bytes', { type: 'string', default: String(DEFAULT_SPAN_CACHE_BYTES), describe: 'decompressed span memory cache bound' })
    .option('read-timeout-ms', { type: 'number', default: DEFAULT_BACKSTORE_READ_TIMEOUT_MS, describe: 'a read that takes longer fails (TIMEOUT; EIO over NBD)' })
    .option('readahead', { type: 'number', default: DEFAULT_BACKSTORE_READAHEAD_SPANS, describe: 'spans fetched ahead of a missed one' })
    .option('background-fetch', { type: 'boolean', describe: 'download whole layers after open (digest-verified, into <cache-dir>/layers), then serve from them' })
    .option('record-trace', { type: 'string', describe: 'write the device ranges read to this file (read trace v1) at exit' })
    .option('prefetch-trace', { type: 'string', describe: 'fetch the spans of this read trace right after open' })
    .option('background-fetch-rate', { type: 'string', describe: 'limit the background fetch to this many bytes/s (e.g. 10MiB); default unlimited' })
    .option('layers', { type: 'number', describe: 'serve the chain of the first n layers (a lower image that shares these base layers); default all' }) as unknown as Argv<T & ImageDeviceArgs>;
}

/** Backstore options from the flags. */
export function lazyImageOptions(argv: ImageDeviceArgs): OpenLazyImageOptions {
  const o: OpenLazyImageOptions = {
    cacheMaxBytes: parseBytes(argv['cache-max-bytes'], '--cache-max-bytes'),
    memoryCacheBytes: parseBytes(argv['memory-cache-bytes'], '--memory-cache-bytes'),
    readTimeoutMs: argv['read-timeout-ms'],
    readaheadSpans: argv.readahead,
    closeStore: true,
  };
  if (!argv['disk-cache']) o.cacheDir = null;
  else if (argv['cache-dir'] !== undefined) o.cacheDir = argv['cache-dir'];
  if (argv.platform) o.platform = parsePlatform(argv.platform);
  if (argv['index-digest'] !== undefined) {
    parseDigest(argv['index-digest']);
    o.indexDigest = argv['index-digest'];
  }
  if (argv['record-trace']) o.recordTrace = argv['record-trace'];
  if (argv['prefetch-trace']) o.prefetchTrace = argv['prefetch-trace'];
  if (argv.layers !== undefined) o.layers = argv.layers;
  if (argv['background-fetch']) o.backgroundFetch = argv['background-fetch-rate'] ? { bytesPerSecond: parseBytes(argv['background-fetch-rate'], '--background-fetch-rate') } : {};
  return o;
}

/** Opens `argv['image-ref']` as a lazy block device (the store is closed with the device). */
export async function openImageDevice(argv: ImageDeviceArgs): Promise<LazyBlockDevice> {
  const ref = parseReference(argv['image-ref']);
  const store = await openImageStore(ref, storeOptions(argv));
  let indexStore;
  try {
    const options = lazyImageOptions(argv);
    if (argv.index !== undefined) {
      const indexRef = parseReference(argv.index);
      if (indexRef.kind !== 'layout') throw new ImageError('INVALID_ARGUMENT', '--index must be an OCI layout: oci:<dir>');
      options.indexStore = indexStore = await openImageStore(indexRef);
    }
    return await openLazyImage(store, referenceTarget(ref), options);
  } catch (err) {
    await store.close();
    await indexStore?.close();
    throw err;
  }
}

/** The flags to hand to a child `turbo-index serve-nbd` so it opens the image exactly as this process would. */
export function forwardedImageArgs(argv: ImageDeviceArgs): string[] {
  const out: string[] = [];
  const flag = (name: string, value: string | number | boolean | undefined): void => {
    if (value === undefined || value === false) return;
    out.push(value === true ? `--${name}` : `--${name}=${String(value)}`);
  };
  flag('plain-http', argv['plain-http']);
  if (argv['plain-http'] === false) out.push('--no-plain-http');
  flag('insecure', argv.insecure);
  flag('ca-file', argv['ca-file']);
  flag('username', argv.username);
  flag('docker-config', argv['docker-config']);
  flag('platform', argv.platform);
  flag('index', argv.index);
  flag('index-digest', argv['index-digest']);
  flag('cache-dir', argv['cache-dir']);
  if (!argv['disk-cache']) out.push('--no-disk-cache');
  flag('cache-max-bytes', argv['cache-max-bytes']);
  flag('memory-cache-bytes', argv['memory-cache-bytes']);
  flag('read-timeout-ms', argv['read-timeout-ms']);
  flag('readahead', argv.readahead);
  flag('background-fetch', argv['background-fetch']);
  flag('record-trace', argv['record-trace']);
  flag('prefetch-trace', argv['prefetch-trace']);
  flag('background-fetch-rate', argv['background-fetch-rate']);
  flag('layers', argv.layers);
  return out;
}
