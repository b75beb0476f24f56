// Content digests (image-spec 1.1 descriptor.md "Digests"): parsing, validation and computing sha256/sha512.
import { createHash, type Hash } from 'node:crypto';

import { ImageError } from '../../errors.js';

/** Digest algorithms we can verify, with the hex length the spec requires. */
const HEX_LENGTH: Record<string, number> = { sha256: 64, sha512: 128 };

const DIGEST_RE = /^([a-z0-9]+(?:[.+_-][a-z0-9]+)*):([a-zA-Z0-9=_-]+)$/;

/** A parsed digest: `algorithm:encoded`. */
export interface ParsedDigest {
  algorithm: string;
  hex: string;
}

/** Parses and validates a digest string; throws INVALID_ARGUMENT (or UNSUPPORTED for unknown algorithms). */
export function parseDigest(digest: string): ParsedDigest {
  const m = DIGEST_RE.exec(digest);
  if (!m) throw new ImageError('INVALID_ARGUMENT', `not a digest: ${JSON.stringify(digest)}`, { hint: 'a digest looks like sha256:<64 hex digits>' });
  const algorithm = m[1]!;
  const hex = m[2]!;
  const want = HEX_LENGTH[algorithm];
  if (want === undefined) throw new ImageError('UNSUPPORTED', `digest algorithm ${algorithm} is not supported`, { details: { digest } });
  if (hex.length !== want || !/^[0-9a-f]+$/.test(hex)) {
    throw new ImageError('INVALID_ARGUMENT', `${algorithm} digest must be ${want} lowercase hex digits`, { details: { digest } });
  }
  return { algorithm, hex };
}

/** True when `digest` is a well-formed digest of a supported algorithm. */
export function isDigest(digest: string): boolean {
  try {
    parseDigest(digest);
    return true;
  } catch {
    return false;
  }
}

/** A running hash for the algorithm of `digest`. */
export function hasherFor(digest: string): Hash {
  return createHash(parseDigest(digest).algorithm);
}

/** sha256 digest of `bytes` as `sha256:<hex>`. */
export function sha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash('sha256').update(bytes).digest('hex')}`;
}

/** Digest of `bytes` with the algorithm of `like` (sha256 by default). */
export function digestOf(bytes: Uint8Array, like = 'sha256:'): string {
  const algorithm = like.slice(0, like.indexOf(':'));
  return `${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`;
}

/** Throws CORRUPT when `bytes` does not hash to `digest`. */
export function verifyDigest(bytes: Uint8Array, digest: string, what: string): void {
  const actual = digestOf(bytes, `${parseDigest(digest).algorithm}:`);
  if (actual !== digest) throw new ImageError('CORRUPT', `${what}: digest mismatch`, { details: { expected: digest, actual, size: bytes.length } });
}
