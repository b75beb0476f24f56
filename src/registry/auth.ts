// The auth layer of the registry transport: attach the known Authorization, answer one 401 challenge, resend.
import { REGISTRY_ERROR_BODY_BYTES } from '../defaults.js';
import type { Authenticator } from './authenticator.js';
import { headerValue, isReplayable, type Send } from './http-exchange.js';
import { readBodyText } from './response-body.js';
import { httpError } from './registry-error.js';

/** Wraps `send` so requests carry credentials from `auth`, retrying once after a 401 with a fresh challenge answer. */
export function withAuth(send: Send, auth: Authenticator): Send {
  return async (request) => {
    const origin = new URL(request.url).origin;
    const scopes = request.scopes ?? [];
    const header = await auth.header(scopes);
    const res = await send(header ? { ...request, headers: { ...request.headers, authorization: header } } : request);
    // A 401 from storage after a redirect is not ours to answer.
    if (res.statusCode !== 401 || new URL(res.url).origin !== origin) return res;
    const www = headerValue(res.headers, 'www-authenticate');
    if (!www || !isReplayable(request)) return res;
    const body = await readBodyText(res.body, REGISTRY_ERROR_BODY_BYTES);
    const retryHeader = await auth.onUnauthorized(www, scopes, header);
    if (retryHeader === undefined) {
      throw httpError({ method: request.method, url: request.url, status: 401, body }, header ? 'the registry rejected the credentials' : undefined);
    }
    return send({ ...request, headers: { ...request.headers, authorization: retryHeader } });
  };
}
