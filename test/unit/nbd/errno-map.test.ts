// The one ImageError -> NBD errno translation: every code maps to an errno the protocol allows; "cannot have the bytes" is EIO.
import { describe, expect, it } from 'vitest';

import { ImageError, type ErrorCode } from '../../../src/errors.js';
import { NBD_ERRNO } from '../../../src/format/nbd/constants.js';
import { nbdErrnoOf } from '../../../src/nbd/errno-map.js';

const ALL_CODES: ErrorCode[] = [
  'INVALID_ARGUMENT', 'NOT_FOUND', 'ALREADY_EXISTS', 'FAILED_PRECONDITION', 'UNAVAILABLE', 'TIMEOUT', 'UNAUTHENTICATED',
  'PERMISSION_DENIED', 'CORRUPT', 'TRUNCATED', 'UNSUPPORTED', 'LIMIT_EXCEEDED', 'INTERNAL',
];

describe('nbdErrnoOf', () => {
  it('maps every ErrorCode to a protocol errno other than success', () => {
    const allowed = new Set<number>(Object.values(NBD_ERRNO).filter((e) => e !== 0));
    for (const code of ALL_CODES) expect(allowed.has(nbdErrnoOf(new ImageError(code, 'x')))).toBe(true);
  });

  it('device failures are EIO, bad ranges EINVAL, bounds ENOSPC, and non-ImageErrors EIO', () => {
    for (const code of ['CORRUPT', 'UNAVAILABLE', 'TIMEOUT', 'INTERNAL'] as const) expect(nbdErrnoOf(new ImageError(code, 'x'))).toBe(NBD_ERRNO.EIO);
    expect(nbdErrnoOf(new ImageError('INVALID_ARGUMENT', 'x'))).toBe(NBD_ERRNO.EINVAL);
    expect(nbdErrnoOf(new ImageError('LIMIT_EXCEEDED', 'x'))).toBe(NBD_ERRNO.ENOSPC);
    expect(nbdErrnoOf(new TypeError('bug'))).toBe(NBD_ERRNO.EIO);
    expect(nbdErrnoOf('thrown string')).toBe(NBD_ERRNO.EIO);
  });
});
