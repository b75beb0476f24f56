// A deadline on a promise: it settles as the promise does, or rejects with TIMEOUT after `ms` milliseconds.
import { ImageError, type ErrorDetails } from '../errors.js';

/** `promise`, or a TIMEOUT ImageError (message and details from `describe`) once `ms` pass; ms <= 0 means no deadline. */
export function withDeadline<T>(promise: Promise<T>, ms: number, describe: () => { message: string; details: ErrorDetails }): Promise<T> {
  if (!(ms > 0) || !Number.isFinite(ms)) return promise;
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      const d = describe();
      reject(new ImageError('TIMEOUT', d.message, { details: { ...d.details, timeoutMs: ms } }));
    }, ms);
    promise.then(
      (v) => {
        clearTimeout(timer);
        resolve(v);
      },
      (e: unknown) => {
        clearTimeout(timer);
        reject(e);
      },
    );
  });
}
