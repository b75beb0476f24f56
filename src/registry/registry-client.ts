// The registry client: one pooled undici Agent shared by every registry and repository it hands out.
import { rootCertificates } from 'node:tls';

import { Agent } from 'undici';

import {
  MAX_MANIFEST_BYTES,
  REFERRERS_FALLBACK_MAX_ATTEMPTS,
  REFERRERS_FALLBACK_SETTLE_MS,
  REGISTRY_BODY_IDLE_TIMEOUT_MS,
  REGISTRY_CONNECTIONS_PER_HOST,
  REGISTRY_HEADERS_TIMEOUT_MS,
  UPLOAD_CHUNK_BYTES,
} from '../defaults.js';
import { DOCKER_HUB, DOCKER_HUB_API_HOST } from '../format/oci/reference.js';
import type { CredentialSource } from './credentials.js';
import { RegistryHost } from './registry-host.js';
import { RegistryRepository, type RepositoryOptions } from './repository.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry.js';

/** Options of a RegistryClient; `{}` is valid (anonymous, HTTPS except on loopback, defaults from src/defaults.ts). */
export interface RegistryClientOptions {
  /** true: http:// for every registry; false: https:// even on loopback; unset: http only for loopback hosts. */
  plainHttp?: boolean;
  /** Skip TLS certificate verification. */
  insecure?: boolean;
  /** Extra CA certificates (PEM) to trust, e.g. a registry's self-signed CA. */
  ca?: string | Buffer;
  /** Where credentials come from (default: anonymous). */
  credentials?: CredentialSource;
  retry?: Partial<RetryPolicy>;
  headersTimeoutMs?: number;
  bodyIdleTimeoutMs?: number;
  connectionsPerHost?: number;
  userAgent?: string;
  repository?: Partial<RepositoryOptions>;
}

/** True for hosts that are this machine: they default to plain HTTP like docker's insecure-registry default for localhost. */
export function isLoopbackHost(registry: string): boolean {
  const host = registry.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
  return host === 'localhost' || host === '::1' || /^127\./.test(host);
}

/** Hands out RegistryRepository objects that share one connection pool and per-registry auth state. Call close() when done. */
export class RegistryClient {
  readonly #agent: Agent;
  readonly #options: RegistryClientOptions;
  readonly #hosts = new Map<string, RegistryHost>();
  readonly #retry: RetryPolicy;
  readonly #repositoryOptions: RepositoryOptions;

  constructor(options: RegistryClientOptions = {}) {
    this.#options = options;
    this.#retry = { ...DEFAULT_RETRY_POLICY, ...options.retry };
    this.#repositoryOptions = {
      maxManifestBytes: MAX_MANIFEST_BYTES,
      uploadChunkBytes: UPLOAD_CHUNK_BYTES,
      referrersSettleMs: REFERRERS_FALLBACK_SETTLE_MS,
      referrersMaxAttempts: REFERRERS_FALLBACK_MAX_ATTEMPTS,
      ...options.repository,
    };
    this.#agent = new Agent({
      connections: options.connectionsPerHost ?? REGISTRY_CONNECTIONS_PER_HOST,
      headersTimeout: options.headersTimeoutMs ?? REGISTRY_HEADERS_TIMEOUT_MS,
      bodyTimeout: options.bodyIdleTimeoutMs ?? REGISTRY_BODY_IDLE_TIMEOUT_MS,
      // A custom CA is added to Node's roots, not put in their place, so other registries keep working.
      connect: { rejectUnauthorized: !options.insecure, ...(options.ca ? { ca: [...rootCertificates, String(options.ca)] } : {}) },
    });
  }

  /** The base URL used for `registry` (Docker Hub's API host for docker.io). */
  baseUrl(registry: string): string {
    const host = registry === DOCKER_HUB ? DOCKER_HUB_API_HOST : registry;
    const plain = this.#options.plainHttp ?? isLoopbackHost(registry);
    const scheme = plain ? 'http' : 'https';
    return `${scheme}://${host}`;
  }

  /** The transport to one registry (shared auth state). */
  host(registry: string): RegistryHost {
    let host = this.#hosts.get(registry);
    if (!host) {
      host = new RegistryHost({
        registry,
        baseUrl: this.baseUrl(registry),
        dispatcher: this.#agent,
        userAgent: this.#options.userAgent ?? 'turbo-oci/0.1',
        credentials: this.#options.credentials ?? (async () => undefined),
        retry: this.#retry,
      });
      this.#hosts.set(registry, host);
    }
    return host;
  }

  /** A repository client; its close() is a no-op (close the client instead) unless `owned`. */
  repository(registry: string, name: string, owned = false): RegistryRepository {
    return new RegistryRepository(this.host(registry), name, this.#repositoryOptions, owned ? () => this.close() : undefined);
  }

  /** Closes every pooled connection; the process can exit afterwards. */
  async close(): Promise<void> {
    await this.#agent.close();
  }
}
