// Redirect following for registry requests: blob GETs are sent to storage (S3, CDN) whose origin must not see our Authorization.
import { REGISTRY_MAX_REDIRECTS } from '../defaults.js';
import { ImageError } from '../errors.js';
import { headerValue, isReplayable, type Send } from './http-exchange.js';
import { redactUrl } from './registry-error.js';

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** Wraps `send` to follow up to `maxRedirects` redirects, dropping Authorization whenever the origin changes. */
export function withRedirects(send: Send, maxRedirects = REGISTRY_MAX_REDIRECTS): Send {
  return async (request) => {
    let current = request;
    for (let hop = 0; ; hop++) {
      const res = await send(current);
      const location = headerValue(res.headers, 'location');
      if (!REDIRECT_STATUSES.has(res.statusCode) || !location) return res;
      await res.body.dump();
      if (hop >= maxRedirects) {
        throw new ImageError('UNAVAILABLE', `${request.method} ${redactUrl(request.url)}: more than ${maxRedirects} redirects`, {
          details: { method: request.method, url: redactUrl(request.url), status: res.statusCode, retryable: false },
        });
      }
      const next = new URL(location, current.url);
      const headers = { ...current.headers };
      if (next.origin !== new URL(current.url).origin) delete headers.authorization;
      const toGet = res.statusCode === 303 && current.method !== 'HEAD';
      if (!toGet && !isReplayable(current)) {
        throw new ImageError('UNSUPPORTED', `${current.method} ${redactUrl(current.url)} redirected with a streamed body`, {
          details: { method: current.method, url: redactUrl(current.url), status: res.statusCode },
        });
      }
      current = { ...current, url: next.toString(), headers, ...(toGet ? { method: 'GET' as const, body: undefined } : {}) };
    }
  };
}
