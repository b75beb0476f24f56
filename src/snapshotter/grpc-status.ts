// The one translation of ImageError codes to gRPC status codes (grpc status codes, containerd errdefs v1.6 mapping).
import { status } from '@grpc/grpc-js';
import type { ErrorCode } from '../errors.js';

/** gRPC status for each ImageError code; codes containerd has no class for become INTERNAL. */
export const GRPC_STATUS: Record<ErrorCode, status> = {
  INVALID_ARGUMENT: status.INVALID_ARGUMENT,
  NOT_FOUND: status.NOT_FOUND,
  ALREADY_EXISTS: status.ALREADY_EXISTS,
  FAILED_PRECONDITION: status.FAILED_PRECONDITION,
  UNAVAILABLE: status.UNAVAILABLE,
  TIMEOUT: status.INTERNAL,
  UNAUTHENTICATED: status.INTERNAL,
  PERMISSION_DENIED: status.INTERNAL,
  CORRUPT: status.INTERNAL,
  TRUNCATED: status.INTERNAL,
  UNSUPPORTED: status.INTERNAL,
  LIMIT_EXCEEDED: status.INTERNAL,
  INTERNAL: status.INTERNAL,
};

/** The way back for clients (containerd's answers, our own service in tests): the statuses containerd's errdefs name; others are INTERNAL. */
export const ERROR_CODE_OF_GRPC_STATUS: Partial<Record<status, ErrorCode>> = {
  [status.INVALID_ARGUMENT]: 'INVALID_ARGUMENT',
  [status.NOT_FOUND]: 'NOT_FOUND',
  [status.ALREADY_EXISTS]: 'ALREADY_EXISTS',
  [status.FAILED_PRECONDITION]: 'FAILED_PRECONDITION',
  [status.UNAVAILABLE]: 'UNAVAILABLE',
};
