// Registry failures as ImageErrors: status → code, the OCI error code from the body (distribution-spec 1.1 "Error Codes"), URLs without secrets.
import { ImageError, type ErrorCode } from '../errors.js';

/** Removes userinfo and the query string (pre-signed storage URLs and upload state carry secrets there) from a URL. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = '';
    u.password = '';
    const hadQuery = u.search !== '';
    u.search = '';
    u.hash = '';
    return `${u.toString()}${hadQuery ? '?…' : ''}`;
  } catch {
    return '<unparseable url>';
  }
}

/** The first `errors[].code` and `.message` of an OCI error body, when it is one. */
export function parseOciErrorBody(body: string): { code?: string; message?: string } {
  try {
    const value = JSON.parse(body) as { errors?: { code?: unknown; message?: unknown }[] };
    const first = Array.isArray(value.errors) ? value.errors[0] : undefined;
    const out: { code?: string; message?: string } = {};
    if (first && typeof first.code === 'string') out.code = first.code;
    if (first && typeof first.message === 'string') out.message = first.message.slice(0, 300);
    return out;
  } catch {
    return {};
  }
}

/** Maps an HTTP status (and OCI error code) to our error code. */
export function codeForStatus(status: number, ociCode?: string): ErrorCode {
  if (ociCode === 'DIGEST_INVALID' || ociCode === 'SIZE_INVALID') return 'CORRUPT';
  if (ociCode === 'TOOMANYREQUESTS') return 'UNAVAILABLE';
  if (ociCode === 'DENIED') return 'PERMISSION_DENIED';
  if (status === 401) return 'UNAUTHENTICATED';
  if (status === 403) return 'PERMISSION_DENIED';
  if (status === 404) return 'NOT_FOUND';
  if (status === 408) return 'TIMEOUT';
  if (status === 409 || status === 412) return 'FAILED_PRECONDITION';
  if (status === 413) return 'LIMIT_EXCEEDED';
  if (status === 405 || status === 501) return 'UNSUPPORTED';
  if (status === 429 || status >= 500) return 'UNAVAILABLE';
  return 'INVALID_ARGUMENT';
}

/** Facts of one failed HTTP exchange. */
export interface HttpFailure {
  method: string;
  url: string;
  status: number;
  body?: string;
  retryAfterMs?: number;
}

/** Builds the ImageError for a failed exchange: `GET <url>: status 404 MANIFEST_UNKNOWN: <message>`. */
export function httpError(failure: HttpFailure, hint?: string): ImageError {
  const oci = failure.body ? parseOciErrorBody(failure.body) : {};
  const code = codeForStatus(failure.status, oci.code);
  const url = redactUrl(failure.url);
  const message = `${failure.method} ${url}: status ${failure.status}${oci.code ? ` ${oci.code}` : ''}${oci.message ? `: ${oci.message}` : ''}`;
  return new ImageError(code, message, {
    details: { method: failure.method, url, status: failure.status, ociCode: oci.code, retryAfterMs: failure.retryAfterMs },
    hint: hint ?? hintFor(code),
  });
}

function hintFor(code: ErrorCode): string | undefined {
  if (code === 'UNAUTHENTICATED') return 'pass --username/--password or log in (docker config.json)';
  if (code === 'PERMISSION_DENIED') return 'the credentials are valid but lack access to this repository';
  return undefined;
}

/** Undici/Node network error codes that mean "try again". */
const RETRYABLE_NETWORK = new Set([
  'ECONNRESET', 'ECONNREFUSED', 'EPIPE', 'ETIMEDOUT', 'ENETUNREACH', 'EHOSTUNREACH', 'EAI_AGAIN',
  'UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_ABORTED',
  'UND_ERR_REQ_CONTENT_LENGTH_MISMATCH', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH', 'ERR_STREAM_PREMATURE_CLOSE',
]);

/** Wraps a transport-level failure (socket reset, timeout, TLS) as UNAVAILABLE/TIMEOUT with the method and URL. */
export function networkError(method: string, url: string, err: unknown): ImageError {
  if (err instanceof ImageError) return err;
  const code = (err as { code?: string }).code ?? '';
  const timeout = /TIMEOUT/.test(code);
  const tls = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO_VERIFY/.test(code);
  // Only failures known to be transient are retried; TLS, DNS "not found" and unknown errors are reported at once.
  const retryable = timeout || RETRYABLE_NETWORK.has(code);
  const safeUrl = redactUrl(url);
  return new ImageError(timeout ? 'TIMEOUT' : 'UNAVAILABLE', `${method} ${safeUrl}: ${code || 'network error'}: ${(err as Error).message ?? String(err)}`, {
    details: { method, url: safeUrl, networkCode: code || undefined, retryable },
    hint: tls ? 'TLS verification failed: pass the registry CA (--ca-file) or --insecure' : undefined,
    cause: err,
  });
}

/** True when a failed attempt may succeed if repeated. */
export function isRetryable(err: unknown): boolean {
  if (!(err instanceof ImageError)) return false;
  if (err.details.retryable === false) return false;
  return err.code === 'UNAVAILABLE' || err.code === 'TIMEOUT';
}
