// The CLI boundary: error code → process exit status (translated once, here).
import type { ErrorCode } from '../errors.js';

/** Exit status for each error code; documented in README "Exit status". */
export const EXIT_STATUS: Record<ErrorCode, number> = {
  INTERNAL: 1,
  INVALID_ARGUMENT: 2,
  NOT_FOUND: 3,
  ALREADY_EXISTS: 3,
  CORRUPT: 4,
  TRUNCATED: 4,
  UNAVAILABLE: 5,
  TIMEOUT: 5,
  UNAUTHENTICATED: 6,
  PERMISSION_DENIED: 6,
  UNSUPPORTED: 7,
  FAILED_PRECONDITION: 8,
  LIMIT_EXCEEDED: 8,
};
