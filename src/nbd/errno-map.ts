// The one translation of turbo-oci errors into NBD reply errno values (NBD proto.md "Error values").
import { isImageError, type ErrorCode } from '../errors.js';
import { NBD_ERRNO, type NbdErrno } from '../format/nbd/constants.js';

/** ErrorCode -> NBD errno. Anything that means "the bytes cannot be had" is EIO: the kernel reports it as an I/O error. */
const ERRNO_OF_CODE: Record<ErrorCode, NbdErrno> = {
  INVALID_ARGUMENT: NBD_ERRNO.EINVAL,
  LIMIT_EXCEEDED: NBD_ERRNO.ENOSPC,
  UNSUPPORTED: NBD_ERRNO.ENOTSUP,
  PERMISSION_DENIED: NBD_ERRNO.EPERM,
  CORRUPT: NBD_ERRNO.EIO,
  UNAVAILABLE: NBD_ERRNO.EIO,
  TIMEOUT: NBD_ERRNO.EIO,
  INTERNAL: NBD_ERRNO.EIO,
  TRUNCATED: NBD_ERRNO.EIO,
  NOT_FOUND: NBD_ERRNO.EIO,
  UNAUTHENTICATED: NBD_ERRNO.EIO,
  FAILED_PRECONDITION: NBD_ERRNO.EIO,
  ALREADY_EXISTS: NBD_ERRNO.EIO,
};

/** The NBD errno to reply for an error thrown by a BlockDevice (non-ImageErrors are bugs: EIO). */
export function nbdErrnoOf(err: unknown): NbdErrno {
  return isImageError(err) ? ERRNO_OF_CODE[err.code] : NBD_ERRNO.EIO;
}
