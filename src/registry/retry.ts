// Bounded retries with exponential backoff, equal jitter and Retry-After (RFC 9110 §10.2.3) for registry requests.
import { setTimeout as sleep } from 'node:timers/promises';

import { REGISTRY_MAX_RETRIES, REGISTRY_RETRY_BASE_MS, REGISTRY_RETRY_MAX_DELAY_MS } from '../defaults.js';
import { isRetryable } from './registry-error.js';

/** How often and how long to retry. */
export interface RetryPolicy {
  /** Attempts after the first. */
  maxRetries: number;
  /** Delay ceiling of the first retry; doubles each time. */
  baseDelayMs: number;
  /** Ceiling of any one delay, Retry-After included. */
  maxDelayMs: number;
}

/** The default policy (src/defaults.ts). */
export const DEFAULT_RETRY_POLICY: RetryPolicy = {
  maxRetries: REGISTRY_MAX_RETRIES,
  baseDelayMs: REGISTRY_RETRY_BASE_MS,
  maxDelayMs: REGISTRY_RETRY_MAX_DELAY_MS,
};

/** Parses Retry-After (delay-seconds or HTTP-date) into milliseconds from `now`; undefined when absent or malformed. */
export function parseRetryAfter(value: string | undefined, now = Date.now()): number | undefined {
  if (!value) return undefined;
  const trimmed = value.trim();
  if (/^\d+$/.test(trimmed)) return Number(trimmed) * 1000;
  const at = Date.parse(trimmed);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** Delay before retry number `attempt` (0-based): equal jitter over base·2^attempt (half fixed, half random), or the server's Retry-After, capped. */
export function retryDelayMs(policy: RetryPolicy, attempt: number, retryAfterMs?: number, random = Math.random): number {
  if (retryAfterMs !== undefined) return Math.min(retryAfterMs, policy.maxDelayMs);
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** attempt);
  return Math.round(ceiling / 2 + (random() * ceiling) / 2);
}

/** Runs `attempt` until it succeeds, fails with a non-retryable error, or the retries are spent (the last error is thrown). */
export async function withRetries<T>(policy: RetryPolicy, attempt: (n: number) => Promise<T>): Promise<T> {
  for (let n = 0; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (n >= policy.maxRetries || !isRetryable(err)) throw err;
      const retryAfter = (err as { details?: { retryAfterMs?: unknown } }).details?.retryAfterMs;
      await sleep(retryDelayMs(policy, n, typeof retryAfter === 'number' ? retryAfter : undefined));
    }
  }
}
