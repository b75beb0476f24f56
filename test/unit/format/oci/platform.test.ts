// Platform selection from an index and digest validation.
import { describe, expect, it } from 'vitest';

import { digestOf, isDigest, parseDigest, sha256Digest, verifyDigest } from '../../../../src/format/oci/digest.js';
import type { ImageIndex } from '../../../../src/format/oci/manifest.js';
import { OCI_MANIFEST } from '../../../../src/format/oci/media-types.js';
import { parsePlatform, platformFromNode, selectPlatform } from '../../../../src/format/oci/platform.js';

const d = (n: number) => sha256Digest(Buffer.from(String(n)));
const INDEX: ImageIndex = {
  schemaVersion: 2,
  manifests: [
    { mediaType: OCI_MANIFEST, digest: d(1), size: 1, platform: { os: 'linux', architecture: 'amd64' } },
    { mediaType: OCI_MANIFEST, digest: d(2), size: 1, platform: { os: 'linux', architecture: 'arm', variant: 'v6' } },
    { mediaType: OCI_MANIFEST, digest: d(3), size: 1, platform: { os: 'linux', architecture: 'arm', variant: 'v7' } },
    { mediaType: OCI_MANIFEST, digest: d(4), size: 1, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
    { mediaType: OCI_MANIFEST, digest: d(5), size: 1 },
  ],
};

describe('selectPlatform', () => {
  it('prefers the exact variant, accepts a missing one, and fails with NOT_FOUND listing what exists', () => {
    expect(selectPlatform(INDEX, { os: 'linux', architecture: 'amd64' }).digest).toBe(d(1));
    expect(selectPlatform(INDEX, { os: 'linux', architecture: 'arm', variant: 'v7' }).digest).toBe(d(3));
    expect(selectPlatform(INDEX, { os: 'linux', architecture: 'arm64' }).digest).toBe(d(4));
    expect(selectPlatform(INDEX, platformFromNode('linux', 'arm64')).digest).toBe(d(4));
    expect(() => selectPlatform(INDEX, { os: 'windows', architecture: 'amd64' })).toThrowError(expect.objectContaining({ code: 'NOT_FOUND' }));
  });

  it('parses os/arch[/variant] and maps node names', () => {
    expect(parsePlatform('linux/arm/v7')).toEqual({ os: 'linux', architecture: 'arm', variant: 'v7' });
    expect(() => parsePlatform('linux')).toThrowError(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(platformFromNode('linux', 'x64')).toEqual({ os: 'linux', architecture: 'amd64' });
  });
});

describe('digests', () => {
  it('validates, computes and verifies', () => {
    const bytes = Buffer.from('hello');
    expect(sha256Digest(bytes)).toBe('sha256:2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824');
    expect(digestOf(bytes, 'sha512:').startsWith('sha512:')).toBe(true);
    expect(isDigest(sha256Digest(bytes))).toBe(true);
    expect(isDigest('sha256:ABC')).toBe(false);
    expect(() => parseDigest(`sha999:${'a'.repeat(64)}`)).toThrowError(expect.objectContaining({ code: 'UNSUPPORTED' }));
    expect(() => verifyDigest(Buffer.from('x'), sha256Digest(bytes), 'test')).toThrowError(expect.objectContaining({ code: 'CORRUPT' }));
  });
});
