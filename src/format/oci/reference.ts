// Image references: the docker reference grammar (distribution/reference, docker.io defaulting) and `oci:<dir>[:<tag>|@<digest>]`.
import { ImageError } from '../../errors.js';
import { parseDigest } from './digest.js';

/** The registry name docker uses when a reference names none. */
export const DOCKER_HUB = 'docker.io';
/** Where Docker Hub's registry API actually lives. */
export const DOCKER_HUB_API_HOST = 'registry-1.docker.io';

/** A repository in a registry, optionally with a tag and/or digest. */
export interface RegistryReference {
  kind: 'registry';
  /** host[:port] as normalized (`index.docker.io` → `docker.io`). */
  registry: string;
  /** Repository path, e.g. `library/debian`. */
  repository: string;
  tag?: string;
  digest?: string;
}

/** An OCI image layout directory (image-spec 1.1 image-layout.md), optionally with a tag or digest. */
export interface LayoutReference {
  kind: 'layout';
  dir: string;
  tag?: string;
  digest?: string;
}

/** Either kind of reference. */
export type ImageReference = RegistryReference | LayoutReference;

const COMPONENT = '[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*';
const PATH_RE = new RegExp(`^${COMPONENT}(?:/${COMPONENT})*$`);
const TAG_RE = /^[\w][\w.-]{0,127}$/;
const DOMAIN_RE = /^(?:(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])(?:\.(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9]))*|\[[0-9a-fA-F:.]+\])(?::[0-9]+)?$/;
const MAX_NAME_LENGTH = 255;

function invalid(input: string, why: string): ImageError {
  return new ImageError('INVALID_ARGUMENT', `invalid image reference ${JSON.stringify(input)}: ${why}`, {
    hint: 'use [registry[:port]/]repository[:tag][@sha256:<hex>] or oci:<dir>[:<tag>]',
  });
}

/** True when `tag` is a valid tag. */
export function isTag(tag: string): boolean {
  return TAG_RE.test(tag);
}

/** `digest` when it is a valid digest; INVALID_ARGUMENT about reference `input` otherwise. */
function checkedDigest(input: string, digest: string): string {
  try {
    parseDigest(digest);
  } catch (err) {
    throw invalid(input, (err as Error).message);
  }
  return digest;
}

/** Parses a reference; throws INVALID_ARGUMENT with a hint on malformed input. */
export function parseReference(input: string): ImageReference {
  if (input.startsWith('oci:')) return parseLayoutReference(input);
  let rest = input;
  let digest: string | undefined;
  const at = rest.indexOf('@');
  if (at >= 0) {
    digest = checkedDigest(input, rest.slice(at + 1));
    rest = rest.slice(0, at);
  }
  let tag: string | undefined;
  const lastColon = rest.lastIndexOf(':');
  if (lastColon > rest.lastIndexOf('/')) {
    tag = rest.slice(lastColon + 1);
    rest = rest.slice(0, lastColon);
    if (!TAG_RE.test(tag)) throw invalid(input, `bad tag ${JSON.stringify(tag)}`);
  }
  let registry = DOCKER_HUB;
  let repository = rest;
  const slash = rest.indexOf('/');
  if (slash >= 0) {
    const first = rest.slice(0, slash);
    if (first.includes('.') || first.includes(':') || first === 'localhost' || first.startsWith('[') || first !== first.toLowerCase()) {
      registry = first;
      repository = rest.slice(slash + 1);
    }
  }
  if (!DOMAIN_RE.test(registry)) throw invalid(input, `bad registry host ${JSON.stringify(registry)}`);
  if (registry === 'index.docker.io' || registry === 'registry-1.docker.io') registry = DOCKER_HUB;
  if (registry === DOCKER_HUB && !repository.includes('/')) repository = `library/${repository}`;
  if (!PATH_RE.test(repository)) throw invalid(input, `bad repository ${JSON.stringify(repository)} (lowercase letters, digits, separators . _ __ - and /)`);
  if (`${registry}/${repository}`.length > MAX_NAME_LENGTH) throw invalid(input, `name longer than ${MAX_NAME_LENGTH} characters`);
  const ref: RegistryReference = { kind: 'registry', registry, repository };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

function parseLayoutReference(input: string): LayoutReference {
  let rest = input.slice('oci:'.length);
  let digest: string | undefined;
  let tag: string | undefined;
  const at = rest.lastIndexOf('@');
  if (at >= 0 && /^[a-z0-9]+:/.test(rest.slice(at + 1))) {
    digest = checkedDigest(input, rest.slice(at + 1));
    rest = rest.slice(0, at);
  } else {
    const colon = rest.lastIndexOf(':');
    if (colon >= 0 && !rest.slice(colon + 1).includes('/')) {
      tag = rest.slice(colon + 1);
      rest = rest.slice(0, colon);
      if (!TAG_RE.test(tag)) throw invalid(input, `bad tag ${JSON.stringify(tag)}`);
    }
  }
  if (rest === '') throw invalid(input, 'no directory after oci:');
  const ref: LayoutReference = { kind: 'layout', dir: rest };
  if (tag !== undefined) ref.tag = tag;
  if (digest !== undefined) ref.digest = digest;
  return ref;
}

/** The tag or digest a reference points to: digest first, then tag, then `latest`. */
export function referenceTarget(ref: ImageReference): string {
  return ref.digest ?? ref.tag ?? 'latest';
}

/** The canonical string of a reference (docker.io and library/ spelled out). */
export function formatReference(ref: ImageReference): string {
  const suffix = `${ref.tag !== undefined ? `:${ref.tag}` : ''}${ref.digest !== undefined ? `@${ref.digest}` : ''}`;
  if (ref.kind === 'layout') return `oci:${ref.dir}${suffix}`;
  return `${ref.registry}/${ref.repository}${suffix}`;
}
