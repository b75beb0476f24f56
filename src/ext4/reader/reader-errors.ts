// Error constructors of the ext4 reader: every structural problem is CORRUPT with the block/inode that has it.
import { ImageError, type ErrorDetails } from '../../errors.js';

/** A CORRUPT error naming the structure and where it is (block, inode, offset). */
export function corrupt(message: string, details: ErrorDetails): ImageError {
  return new ImageError('CORRUPT', `ext4: ${message}`, { details, hint: 'the filesystem image is damaged; e2fsck -fn <image> reports details' });
}

/** A NOT_FOUND error for a path (ENOENT). */
export function notFound(path: string, component: string): ImageError {
  return new ImageError('NOT_FOUND', `ext4: no such file or directory: ${path}`, { details: { path, component, errno: 'ENOENT' } });
}

/** A FAILED_PRECONDITION error (ENOTDIR, EISDIR, EINVAL): the path exists but is the wrong kind of file. */
export function wrongType(path: string, errno: string, message: string): ImageError {
  return new ImageError('FAILED_PRECONDITION', `ext4: ${message}: ${path}`, { details: { path, errno } });
}
