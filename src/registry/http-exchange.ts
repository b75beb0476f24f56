// One HTTP exchange on an undici dispatcher: the bottom of the registry transport stack (auth and redirects wrap it).
import type { Dispatcher } from 'undici';

import { REGISTRY_BODY_BUFFER_BYTES } from '../defaults.js';

import { networkError } from './registry-error.js';

/** A request as the registry layers see it. `scopes` are the token scopes it needs (docker token auth). */
export interface HttpRequest {
  method: 'GET' | 'HEAD' | 'PUT' | 'POST' | 'PATCH' | 'DELETE';
  url: string;
  headers?: Record<string, string>;
  /** A Uint8Array body can be replayed (retries, auth, redirects); a stream cannot. */
  body?: Uint8Array | AsyncIterable<Uint8Array>;
  scopes?: string[];
}

/** A response: status, headers, the still-open body and the URL that produced it (after redirects). */
export interface HttpResponse {
  statusCode: number;
  headers: Record<string, string | string[] | undefined>;
  body: Dispatcher.ResponseData['body'];
  url: string;
}

/** A function that performs one exchange; layers wrap one Send into another. */
export type Send = (request: HttpRequest) => Promise<HttpResponse>;

/** True when the request can be sent again (no body, or a buffered one). */
export function isReplayable(request: HttpRequest): boolean {
  return request.body === undefined || request.body instanceof Uint8Array;
}

/** The first value of a response header. */
export function headerValue(headers: HttpResponse['headers'], name: string): string | undefined {
  const v = headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

/** The bottom Send: one request on `dispatcher`; transport failures become UNAVAILABLE/TIMEOUT ImageErrors. */
export function dispatcherSend(dispatcher: Dispatcher, userAgent: string): Send {
  return async (request) => {
    const url = new URL(request.url);
    try {
      const res = await dispatcher.request({
        origin: url.origin,
        path: `${url.pathname}${url.search}`,
        method: request.method,
        headers: { 'user-agent': userAgent, ...request.headers },
        body: request.body as Dispatcher.DispatchOptions['body'],
        highWaterMark: REGISTRY_BODY_BUFFER_BYTES,
      });
      return { statusCode: res.statusCode, headers: res.headers, body: res.body, url: request.url };
    } catch (err) {
      throw networkError(request.method, request.url, err);
    }
  };
}
