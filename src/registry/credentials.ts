// Registry credentials: explicit username/password, docker config.json (`auths`, `credHelpers`, `credsStore`) and docker-credential-* helpers.
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import path from 'node:path';

import { ImageError } from '../errors.js';

/** Credentials for one registry: a password login or an identity (refresh) token. Never logged or put in errors. */
export interface Credential {
  username?: string;
  password?: string;
  /** OAuth2 refresh token for Bearer token endpoints (docker `identitytoken`). */
  identityToken?: string;
}

/** Looks up credentials for a registry host (`host[:port]`); undefined means anonymous. */
export type CredentialSource = (registry: string) => Promise<Credential | undefined>;

/** The parts of docker's config.json we read (docker/cli configfile). */
export interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  credHelpers?: Record<string, string>;
  credsStore?: string;
}

/** The config.json docker would read: $DOCKER_CONFIG/config.json, else ~/.docker/config.json. */
export function defaultDockerConfigPath(env: NodeJS.ProcessEnv = process.env): string {
  return path.join(env.DOCKER_CONFIG ?? path.join(homedir(), '.docker'), 'config.json');
}

/** The keys docker may have used for a registry in `auths`/`credHelpers` (Docker Hub has its legacy URL). */
export function configKeysFor(registry: string): string[] {
  if (registry === 'docker.io') return ['https://index.docker.io/v1/', 'index.docker.io', 'docker.io', 'registry-1.docker.io'];
  return [registry, `https://${registry}`, `http://${registry}`, `https://${registry}/v1/`, `https://${registry}/v2/`];
}

function normalizeKey(key: string): string {
  return key.replace(/^https?:\/\//, '').replace(/\/.*$/, '');
}

function findEntry<T>(map: Record<string, T> | undefined, registry: string): T | undefined {
  if (!map) return undefined;
  for (const key of configKeysFor(registry)) if (map[key] !== undefined) return map[key];
  for (const [key, value] of Object.entries(map)) if (normalizeKey(key) === registry) return value;
  return undefined;
}

/** Decodes an `auths` entry; `auth` is base64("user:password"). */
export function credentialFromAuthEntry(entry: { auth?: string; username?: string; password?: string; identitytoken?: string }): Credential | undefined {
  const cred: Credential = {};
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
    const colon = decoded.indexOf(':');
    if (colon < 0) throw new ImageError('INVALID_ARGUMENT', 'docker config: an auths entry has a malformed "auth" field (expected base64 of user:password)');
    cred.username = decoded.slice(0, colon);
    cred.password = decoded.slice(colon + 1);
  }
  if (entry.username) cred.username = entry.username;
  if (entry.password) cred.password = entry.password;
  if (entry.identitytoken) cred.identityToken = entry.identitytoken;
  return cred.password !== undefined || cred.identityToken !== undefined ? cred : undefined;
}

/** Runs `docker-credential-<helper> get` with the server URL on stdin (docker-credential-helpers protocol). */
export async function credentialFromHelper(helper: string, registry: string): Promise<Credential | undefined> {
  const program = `docker-credential-${helper}`;
  const serverUrl = registry === 'docker.io' ? 'https://index.docker.io/v1/' : registry;
  const output = await new Promise<string | undefined>((resolve, reject) => {
    const child = execFile(program, ['get'], { timeout: 30_000, maxBuffer: 1024 * 1024 }, (err, stdout) => {
      if (!err) return resolve(stdout);
      // The protocol reports "credentials not found in native keychain" on stdout with a non-zero status.
      if (/not found/i.test(String(stdout))) return resolve(undefined);
      reject(new ImageError('UNAUTHENTICATED', `credential helper ${program} failed for ${registry}`, {
        details: { helper: program, registry, exitCode: typeof err.code === 'number' ? err.code : undefined },
        hint: (err as NodeJS.ErrnoException).code === 'ENOENT' ? `${program} is not on PATH` : undefined,
      }));
    });
    child.stdin?.end(serverUrl);
  });
  if (output === undefined) return undefined;
  let parsed: { Username?: string; Secret?: string };
  try {
    parsed = JSON.parse(output) as { Username?: string; Secret?: string };
  } catch {
    throw new ImageError('UNAUTHENTICATED', `credential helper ${program} printed something that is not JSON`, { details: { helper: program, registry } });
  }
  if (!parsed.Secret) return undefined;
  // "<token>" as user name marks an identity token (docker/cli credentials/native_store.go).
  if (parsed.Username === '<token>') return { identityToken: parsed.Secret };
  return { username: parsed.Username ?? '', password: parsed.Secret };
}

/** Parses config.json text; throws INVALID_ARGUMENT naming the file on bad JSON. */
export function parseDockerConfig(text: string, file: string): DockerConfig {
  try {
    const value = JSON.parse(text) as unknown;
    if (typeof value !== 'object' || value === null) throw new Error('not an object');
    return value as DockerConfig;
  } catch (err) {
    throw new ImageError('INVALID_ARGUMENT', `docker config ${file} is not valid JSON`, { cause: err });
  }
}

/** A CredentialSource backed by a docker config.json: credHelpers, then auths, then credsStore. A missing file means anonymous. */
export function dockerConfigCredentials(file = defaultDockerConfigPath()): CredentialSource {
  let config: Promise<DockerConfig | undefined> | undefined;
  const load = () =>
    (config ??= readFile(file, 'utf8').then(
      (text) => parseDockerConfig(text, file),
      (err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return undefined;
        throw new ImageError('INVALID_ARGUMENT', `cannot read docker config ${file}: ${err.code ?? err.message}`);
      },
    ));
  return async (registry) => {
    const cfg = await load();
    if (!cfg) return undefined;
    const helper = findEntry(cfg.credHelpers, registry);
    if (helper) return credentialFromHelper(helper, registry);
    const entry = findEntry(cfg.auths, registry);
    const fromAuths = entry ? credentialFromAuthEntry(entry) : undefined;
    if (fromAuths) return fromAuths;
    if (cfg.credsStore) return credentialFromHelper(cfg.credsStore, registry);
    return undefined;
  };
}

/** Explicit credentials (flags or environment) win over the fallback source. */
export function explicitCredentials(username: string | undefined, password: string | undefined, fallback?: CredentialSource): CredentialSource {
  if (password !== undefined) return async () => ({ username: username ?? '', password });
  return fallback ?? (async () => undefined);
}
