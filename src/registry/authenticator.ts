// Registry authentication state for one registry: the last challenge, Basic credentials, and Bearer tokens cached per scope set (docker token spec).
import { REGISTRY_TOKEN_DEFAULT_TTL_S } from '../defaults.js';
import { ImageError } from '../errors.js';
import { parseWwwAuthenticate, type AuthChallenge } from './auth-challenge.js';
import type { Credential, CredentialSource } from './credentials.js';
import type { HttpRequest } from './http-exchange.js';
import { httpError } from './registry-error.js';

/** The token scope string for a repository (docker token spec "scope"): `repository:<name>:pull[,push]`. */
export function repositoryScope(name: string, actions: 'pull' | 'pull,push' | 'delete' | '*' = 'pull'): string {
  return `repository:${name}:${actions}`;
}

/** Performs a token-endpoint request (with retries) and returns its status, body text and URL. */
export type TokenSend = (request: HttpRequest) => Promise<{ status: number; body: string; url: string }>;

interface CachedToken {
  value: string;
  expiresAtMs: number;
}

/** Produces Authorization headers for one registry; never exposes credentials outside the header it builds. */
export class Authenticator {
  readonly #registry: string;
  readonly #credentials: CredentialSource;
  readonly #tokenSend: TokenSend;
  readonly #now: () => number;
  #challenge: AuthChallenge | undefined;
  #credential: Promise<Credential | undefined> | undefined;
  readonly #tokens = new Map<string, CachedToken>();
  readonly #inflight = new Map<string, Promise<string>>();

  /** `tokenSend` performs a token-endpoint request (with retries) and returns its status and body. */
  constructor(registry: string, credentials: CredentialSource, tokenSend: TokenSend, now = Date.now) {
    this.#registry = registry;
    this.#credentials = credentials;
    this.#tokenSend = tokenSend;
    this.#now = now;
  }

  #getCredential(): Promise<Credential | undefined> {
    this.#credential ??= this.#credentials(this.#registry);
    return this.#credential;
  }

  /** The header to send before any 401 was seen for these scopes: from the last challenge and the token cache; undefined when unknown. */
  async header(scopes: string[]): Promise<string | undefined> {
    const challenge = this.#challenge;
    if (!challenge) return undefined;
    if (challenge.scheme === 'basic') return this.#basicHeader();
    if (challenge.scheme !== 'bearer') return undefined;
    const cached = this.#tokens.get(this.#key(challenge, scopes));
    if (cached && cached.expiresAtMs > this.#now()) return `Bearer ${cached.value}`;
    return `Bearer ${await this.#token(challenge, scopes)}`;
  }

  /** Handles a 401: remembers the challenge, forgets the token that failed, and returns the header to retry with (undefined: cannot). */
  async onUnauthorized(wwwAuthenticate: string, scopes: string[], failedHeader: string | undefined): Promise<string | undefined> {
    const challenges = parseWwwAuthenticate(wwwAuthenticate);
    const challenge = challenges.find((c) => c.scheme === 'bearer') ?? challenges.find((c) => c.scheme === 'basic');
    if (!challenge) return undefined;
    this.#challenge = challenge;
    if (challenge.scheme === 'basic') {
      const header = await this.#basicHeader();
      return header === failedHeader ? undefined : header;
    }
    const wanted = [...new Set([...scopes, ...(challenge.params.scope ? challenge.params.scope.split(' ') : [])])];
    const key = this.#key(challenge, wanted);
    if (failedHeader !== undefined && this.#tokens.get(key) && `Bearer ${this.#tokens.get(key)!.value}` === failedHeader) this.#tokens.delete(key);
    const header = `Bearer ${await this.#token(challenge, wanted)}`;
    return header === failedHeader ? undefined : header;
  }

  async #basicHeader(): Promise<string | undefined> {
    const cred = await this.#getCredential();
    if (!cred || cred.password === undefined) return undefined;
    return `Basic ${Buffer.from(`${cred.username ?? ''}:${cred.password}`).toString('base64')}`;
  }

  #key(challenge: AuthChallenge, scopes: string[]): string {
    return `${challenge.params.realm ?? ''}|${challenge.params.service ?? ''}|${[...scopes].sort().join(' ')}`;
  }

  #token(challenge: AuthChallenge, scopes: string[]): Promise<string> {
    const key = this.#key(challenge, scopes);
    const cached = this.#tokens.get(key);
    if (cached && cached.expiresAtMs > this.#now()) return Promise.resolve(cached.value);
    let pending = this.#inflight.get(key);
    if (!pending) {
      pending = this.#fetchToken(challenge, scopes).then(
        (token) => {
          this.#tokens.set(key, token);
          this.#inflight.delete(key);
          return token.value;
        },
        (err: unknown) => {
          this.#inflight.delete(key);
          throw err;
        },
      );
      this.#inflight.set(key, pending);
    }
    return pending;
  }

  async #fetchToken(challenge: AuthChallenge, scopes: string[]): Promise<CachedToken> {
    const realm = challenge.params.realm;
    if (!realm) throw new ImageError('UNAUTHENTICATED', `registry ${this.#registry} sent a Bearer challenge without a realm`);
    const cred = await this.#getCredential();
    const url = new URL(realm);
    let result: { status: number; body: string; url: string };
    if (cred?.identityToken) {
      // OAuth2 refresh-token grant (docker token spec "oauth"): the secret travels in the body, never in the URL.
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: cred.identityToken, client_id: 'turbo-oci' });
      if (challenge.params.service) form.set('service', challenge.params.service);
      if (scopes.length) form.set('scope', scopes.join(' '));
      result = await this.#tokenSend({
        method: 'POST',
        url: url.toString(),
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: Buffer.from(form.toString()),
      });
    } else {
      if (challenge.params.service) url.searchParams.set('service', challenge.params.service);
      for (const s of scopes) url.searchParams.append('scope', s);
      const headers: Record<string, string> = {};
      if (cred?.password !== undefined) headers.authorization = `Basic ${Buffer.from(`${cred.username ?? ''}:${cred.password}`).toString('base64')}`;
      result = await this.#tokenSend({ method: 'GET', url: url.toString(), headers });
    }
    if (result.status !== 200) {
      throw httpError({ method: cred?.identityToken ? 'POST' : 'GET', url: result.url, status: result.status, body: result.body }, 'the token endpoint refused: check the credentials');
    }
    let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown };
    try {
      parsed = JSON.parse(result.body) as typeof parsed;
    } catch {
      throw new ImageError('UNAUTHENTICATED', `token endpoint of ${this.#registry} answered with something that is not JSON`);
    }
    const value = typeof parsed.token === 'string' ? parsed.token : typeof parsed.access_token === 'string' ? parsed.access_token : undefined;
    if (!value) throw new ImageError('UNAUTHENTICATED', `token endpoint of ${this.#registry} answered without a token`);
    const ttlS = typeof parsed.expires_in === 'number' && parsed.expires_in > 0 ? parsed.expires_in : REGISTRY_TOKEN_DEFAULT_TTL_S;
    // Renew at 90 % of the lifetime so a token never expires in flight.
    return { value, expiresAtMs: this.#now() + ttlS * 900 };
  }
}
