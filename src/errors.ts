// The one error type of turbo-oci: a stable string `code` to branch on, the facts needed to act, and a hint.

/** Stable error codes. Callers and boundaries (CLI exit status, gRPC status, NBD errno) branch on these. */
export type ErrorCode =
  | 'INVALID_ARGUMENT' // the caller passed something malformed (flag, reference, option)
  | 'NOT_FOUND' // a blob, manifest, file, path or index that does not exist
  | 'ALREADY_EXISTS' // something that must be unique exists already
  | 'FAILED_PRECONDITION' // the state of the world does not allow the operation
  | 'UNAVAILABLE' // a server or device did not answer (retryable)
  | 'TIMEOUT' // an operation ran past its deadline
  | 'UNAUTHENTICATED' // credentials missing or rejected
  | 'PERMISSION_DENIED' // credentials fine, access refused
  | 'CORRUPT' // bytes that fail a checksum, digest or structural check
  | 'TRUNCATED' // input ended before its format says it should
  | 'UNSUPPORTED' // valid input that this version cannot handle
  | 'LIMIT_EXCEEDED' // a size or count bound was hit
  | 'INTERNAL'; // a bug: an invariant of our own code broke

/** Facts attached to an error: offsets, digests, URLs (never secrets). */
export type ErrorDetails = Record<string, string | number | boolean | bigint | undefined>;

/** Options for constructing an ImageError. */
export interface ImageErrorOptions {
  details?: ErrorDetails;
  hint?: string;
  cause?: unknown;
}

/** Base error: `code` is stable, `details` carries the facts, `hint` says what to do. */
export class ImageError extends Error {
  readonly code: ErrorCode;
  readonly details: ErrorDetails;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: ImageErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'ImageError';
    this.code = code;
    this.details = options.details ?? {};
    this.hint = options.hint;
  }

  /** One line for humans: message, facts and hint. */
  describe(): string {
    const facts = Object.entries(this.details)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => `${k}=${String(v)}`)
      .join(' ');
    return `${this.code}: ${this.message}${facts ? ` (${facts})` : ''}${this.hint ? `\nhint: ${this.hint}` : ''}`;
  }
}

/** True when `err` is an ImageError, optionally with the given code. */
export function isImageError(err: unknown, code?: ErrorCode): err is ImageError {
  return err instanceof ImageError && (code === undefined || err.code === code);
}

/** Wraps any thrown value as an ImageError, keeping ImageErrors as they are. */
export function toImageError(err: unknown, fallback: ErrorCode = 'INTERNAL'): ImageError {
  if (err instanceof ImageError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new ImageError(fallback, message, { cause: err });
}
