// One registry as seen by the client: its base URL and the composed transport (retry ∘ auth ∘ redirect ∘ undici).
import type { Dispatcher } from 'undici';

import { REGISTRY_ERROR_BODY_BYTES } from '../defaults.js';
import { ImageError } from '../errors.js';
import { withAuth } from './auth.js';
import { Authenticator, type TokenSend } from './authenticator.js';
import type { CredentialSource } from './credentials.js';
import { dispatcherSend, headerValue, isReplayable, type HttpRequest, type HttpResponse, type Send } from './http-exchange.js';
import { withRedirects } from './redirect.js';
import { httpError, networkError, redactUrl } from './registry-error.js';
import { discardBody, readBodyBounded, readBodyText } from './response-body.js';
import { parseRetryAfter, withRetries, type RetryPolicy } from './retry.js';

/** Token responses are small JSON documents; 1 MiB bounds a hostile endpoint. */
const MAX_TOKEN_RESPONSE_BYTES = 1024 * 1024;

/** What a RegistryHost needs. */
export interface RegistryHostOptions {
  /** `host[:port]` as in references (docker.io for Docker Hub): the key for credentials. */
  registry: string;
  /** `http(s)://host[:port]`, no trailing slash. */
  baseUrl: string;
  dispatcher: Dispatcher;
  userAgent: string;
  credentials: CredentialSource;
  retry: RetryPolicy;
}

/** The transport to one registry: `exchange` (one try), `open` and `fetch` (with bounded retries). */
export class RegistryHost {
  readonly registry: string;
  readonly baseUrl: string;
  readonly retry: RetryPolicy;
  readonly #send: Send;

  constructor(options: RegistryHostOptions) {
    this.registry = options.registry;
    this.baseUrl = options.baseUrl;
    this.retry = options.retry;
    const redirecting = withRedirects(dispatcherSend(options.dispatcher, options.userAgent));
    const tokenSend: TokenSend = (request) =>
      withRetries(this.retry, async () => {
        const res = await redirecting(request);
        const body = await readBodyText(res.body, MAX_TOKEN_RESPONSE_BYTES);
        if (res.statusCode === 429 || res.statusCode >= 500) {
          throw httpError({ method: request.method, url: request.url, status: res.statusCode, body, retryAfterMs: parseRetryAfter(headerValue(res.headers, 'retry-after')) });
        }
        return { status: res.statusCode, body, url: request.url };
      });
    this.#send = withAuth(redirecting, new Authenticator(options.registry, options.credentials, tokenSend));
  }

  /** Absolute URL of a registry path such as `/v2/<name>/manifests/<ref>`. */
  url(path: string): string {
    return `${this.baseUrl}${path}`;
  }

  /** One exchange (auth and redirects included, no retries); a status outside `expect` throws the matching ImageError. */
  async exchange(request: HttpRequest, expect: readonly number[]): Promise<HttpResponse> {
    const res = await this.#send(request);
    if (expect.includes(res.statusCode)) return res;
    const body = request.method === 'HEAD' ? '' : await readBodyText(res.body, REGISTRY_ERROR_BODY_BYTES);
    if (request.method === 'HEAD') await res.body.dump().catch(() => undefined);
    throw httpError({
      method: request.method,
      url: res.url,
      status: res.statusCode,
      body,
      retryAfterMs: parseRetryAfter(headerValue(res.headers, 'retry-after')),
    });
  }

  /** `exchange` with retries (only for replayable requests); the body is left open for the caller. */
  open(request: HttpRequest, expect: readonly number[]): Promise<HttpResponse> {
    const policy = isReplayable(request) ? this.retry : { ...this.retry, maxRetries: 0 };
    return withRetries(policy, () => this.exchange(request, expect));
  }

  /** `exchange` with retries, reading the whole body (up to `maxBytes`) inside each attempt. */
  fetch(request: HttpRequest, expect: readonly number[], maxBytes: number, what: string): Promise<{ response: HttpResponse; body: Buffer }> {
    const policy = isReplayable(request) ? this.retry : { ...this.retry, maxRetries: 0 };
    return withRetries(policy, async () => {
      const response = await this.exchange(request, expect);
      const declared = Number(headerValue(response.headers, 'content-length') ?? NaN);
      if (declared > maxBytes) {
        discardBody(response.body);
        throw new ImageError('LIMIT_EXCEEDED', `${what} is ${declared} bytes, more than the ${maxBytes}-byte limit`, {
          details: { limitBytes: maxBytes, sizeBytes: declared, url: redactUrl(response.url) },
        });
      }
      if (request.method === 'HEAD') return { response, body: Buffer.alloc(0) };
      try {
        return { response, body: await readBodyBounded(response.body, maxBytes, what) };
      } catch (err) {
        throw networkError(request.method, response.url, err);
      }
    });
  }
}
