// Opens the ImageStore a reference names: a registry repository (own client) or an OCI layout directory.
import { readFile } from 'node:fs/promises';

import { ImageError } from '../errors.js';
import type { ImageReference } from '../format/oci/reference.js';
import { dockerConfigCredentials, explicitCredentials } from './credentials.js';
import type { ImageStore } from './image-store.js';
import { OciLayoutStore } from './oci-layout-store.js';
import { RegistryClient, type RegistryClientOptions } from './registry-client.js';

/** Connection and credential options shared by every command that opens a store. */
export interface OpenStoreOptions extends Omit<RegistryClientOptions, 'credentials' | 'ca'> {
  username?: string;
  password?: string;
  /** docker config.json to read credentials from (default: $DOCKER_CONFIG or ~/.docker). */
  dockerConfig?: string;
  /** PEM file of extra CA certificates. */
  caFile?: string;
  /** Create an empty OCI layout when the directory has none. */
  createLayout?: boolean;
}

/** Opens the store of `ref`; the caller must close() it (which closes the registry client's pool). */
export async function openImageStore(ref: ImageReference, options: OpenStoreOptions = {}): Promise<ImageStore> {
  if (ref.kind === 'layout') return OciLayoutStore.open(ref.dir, { create: options.createLayout ?? false });
  let ca: string | undefined;
  if (options.caFile) {
    ca = await readFile(options.caFile, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new ImageError('INVALID_ARGUMENT', `cannot read CA file ${options.caFile}: ${err.code ?? err.message}`);
    });
  }
  const credentials = explicitCredentials(options.username, options.password, dockerConfigCredentials(options.dockerConfig));
  const client = new RegistryClient({ ...options, credentials, ...(ca ? { ca } : {}) });
  return client.repository(ref.registry, ref.repository, true);
}
