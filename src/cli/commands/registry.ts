// `turbo-index registry manifest|blob|referrers`: debug tools over a registry repository or an OCI layout (`oci:<dir>[:<tag>]`).
import type { Argv, CommandModule } from 'yargs';

import { ImageError } from '../../errors.js';
import { parseDigest } from '../../format/oci/digest.js';
import { parseReference, referenceTarget, type ImageReference } from '../../format/oci/reference.js';
import type { ImageStore } from '../../registry/image-store.js';
import { openImageStore, type OpenStoreOptions } from '../../registry/open-store.js';

/** Environment variables read when --username/--password are not given. */
const ENV_USERNAME = 'TURBO_OCI_REGISTRY_USERNAME';
const ENV_PASSWORD = 'TURBO_OCI_REGISTRY_PASSWORD';

/** Flags shared by commands that open an image store (also used by build/inspect/verify). */
export interface CommonArgs {
  ref: string;
  'plain-http'?: boolean;
  insecure?: boolean;
  username?: string;
  password?: string;
  'docker-config'?: string;
  'ca-file'?: string;
}

/** Adds the `ref` positional and the registry connection/credential flags. */
export function withCommonOptions<T>(y: Argv<T>): Argv<T & CommonArgs> {
  return y
    .positional('ref', { type: 'string', demandOption: true, describe: '[registry/]repository[:tag][@digest] or oci:<dir>[:<tag>]' })
    .option('plain-http', { type: 'boolean', describe: 'use http:// (default only for localhost/127.0.0.1)' })
    .option('insecure', { type: 'boolean', describe: 'skip TLS certificate verification' })
    .option('ca-file', { type: 'string', describe: 'PEM file of extra CA certificates to trust' })
    .option('username', { type: 'string', describe: `registry user name (or $${ENV_USERNAME})` })
    .option('password', { type: 'string', describe: `registry password (or $${ENV_PASSWORD}); prefer the environment or docker config` })
    .option('docker-config', { type: 'string', describe: 'docker config.json for credentials (default $DOCKER_CONFIG/config.json or ~/.docker/config.json)' }) as Argv<T & CommonArgs>;
}

/** Maps the common flags (and $TURBO_OCI_REGISTRY_*) to OpenStoreOptions. */
export function storeOptions(argv: CommonArgs): OpenStoreOptions {
  const options: OpenStoreOptions = {};
  if (argv['plain-http'] !== undefined) options.plainHttp = argv['plain-http'];
  if (argv.insecure) options.insecure = true;
  if (argv['ca-file']) options.caFile = argv['ca-file'];
  const username = argv.username ?? process.env[ENV_USERNAME];
  const password = argv.password ?? process.env[ENV_PASSWORD];
  if (username !== undefined) options.username = username;
  if (password !== undefined) options.password = password;
  if (argv['docker-config']) options.dockerConfig = argv['docker-config'];
  return options;
}

async function withStore<T>(argv: CommonArgs, fn: (store: ImageStore, ref: ImageReference) => Promise<T>): Promise<T> {
  const ref = parseReference(argv.ref);
  const store = await openImageStore(ref, storeOptions(argv));
  try {
    return await fn(store, ref);
  } finally {
    await store.close();
  }
}

async function writeStdout(chunk: Uint8Array | string): Promise<void> {
  if (!process.stdout.write(chunk)) await new Promise<void>((resolve) => process.stdout.once('drain', resolve));
}

/** Parses `<start>-<end>` (end inclusive, as in HTTP Range). */
export function parseByteRange(text: string): { offset: number; length: number } {
  const m = /^(\d+)-(\d+)$/.exec(text.trim());
  const start = m ? Number(m[1]) : NaN;
  const end = m ? Number(m[2]) : NaN;
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(end) || end < start) {
    throw new ImageError('INVALID_ARGUMENT', `--range must be <start>-<end> with end >= start (end inclusive), got '${text}'`);
  }
  return { offset: start, length: end - start + 1 };
}

const manifest: CommandModule<object, CommonArgs & { json?: boolean }> = {
  command: 'manifest <ref>',
  describe: 'print the manifest (or index) bytes a reference points to',
  builder: (y) => withCommonOptions(y).option('json', { type: 'boolean', describe: 'print {digest, mediaType, size} instead' }),
  handler: (argv) =>
    withStore(argv, async (store, ref) => {
      const { descriptor, bytes } = await store.getManifest(referenceTarget(ref));
      if (argv.json) await writeStdout(`${JSON.stringify({ digest: descriptor.digest, mediaType: descriptor.mediaType, size: descriptor.size })}\n`);
      else await writeStdout(bytes);
    }),
};

const blob: CommandModule<object, CommonArgs & { digest: string; range?: string }> = {
  command: 'blob <ref> <digest>',
  describe: 'write a blob (verified) or a byte range of it to stdout',
  builder: (y) =>
    withCommonOptions(y)
      .positional('digest', { type: 'string', demandOption: true, describe: 'blob digest (sha256:...)' })
      .option('range', { type: 'string', describe: 'only bytes <start>-<end> (end inclusive)' }),
  handler: (argv) =>
    withStore(argv, async (store) => {
      parseDigest(argv.digest);
      if (argv.range !== undefined) {
        const { offset, length } = parseByteRange(argv.range);
        await writeStdout(await store.getBlobRange(argv.digest, offset, length));
        return;
      }
      for await (const chunk of await store.getBlob(argv.digest)) await writeStdout(chunk as Buffer);
    }),
};

const referrers: CommandModule<object, CommonArgs & { 'artifact-type'?: string; json?: boolean }> = {
  command: 'referrers <ref>',
  describe: 'list manifests whose subject is the referenced manifest (API, else sha256-<hex> tag fallback)',
  builder: (y) =>
    withCommonOptions(y)
      .option('artifact-type', { type: 'string', describe: 'only referrers of this artifact type' })
      .option('json', { type: 'boolean', describe: 'print the descriptors as a JSON array' }),
  handler: (argv) =>
    withStore(argv, async (store, ref) => {
      const subject = ref.digest ?? (await store.resolve(referenceTarget(ref))).digest;
      const list = await store.listReferrers(subject, argv['artifact-type']);
      if (argv.json) await writeStdout(`${JSON.stringify(list, null, 2)}\n`);
      else for (const d of list) await writeStdout(`${d.digest}\t${d.artifactType ?? '-'}\t${d.size}\n`);
    }),
};

/** `turbo-index registry <manifest|blob|referrers>`. */
export const registryCommand: CommandModule = {
  command: 'registry <command>',
  describe: 'read manifests, blobs and referrers from a registry or an OCI layout',
  builder: (y) => y.command(manifest).command(blob).command(referrers).demandCommand(1),
  handler: () => undefined,
};
