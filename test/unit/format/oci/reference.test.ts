// Reference grammar: docker.io/library defaulting, hosts with ports, tags, digests and the oci:<dir> form.
import { describe, expect, it } from 'vitest';

import { isImageError } from '../../../../src/errors.js';
import { formatReference, parseReference, referenceTarget } from '../../../../src/format/oci/reference.js';

const HEX = 'a'.repeat(64);

describe('parseReference', () => {
  it.each([
    ['debian', { registry: 'docker.io', repository: 'library/debian' }],
    ['debian:12', { registry: 'docker.io', repository: 'library/debian', tag: '12' }],
    ['library/debian', { registry: 'docker.io', repository: 'library/debian' }],
    ['user/app:v1.2', { registry: 'docker.io', repository: 'user/app', tag: 'v1.2' }],
    ['docker.io/debian', { registry: 'docker.io', repository: 'library/debian' }],
    ['index.docker.io/debian', { registry: 'docker.io', repository: 'library/debian' }],
    ['ghcr.io/org/team/app:latest', { registry: 'ghcr.io', repository: 'org/team/app', tag: 'latest' }],
    ['localhost/app', { registry: 'localhost', repository: 'app' }],
    ['localhost:5000/app:t', { registry: 'localhost:5000', repository: 'app', tag: 't' }],
    ['127.0.0.1:5000/test/debian:latest', { registry: '127.0.0.1:5000', repository: 'test/debian', tag: 'latest' }],
    ['[::1]:5000/app', { registry: '[::1]:5000', repository: 'app' }],
    [`reg.example.com/a_b/c__d/e-f.g@sha256:${HEX}`, { registry: 'reg.example.com', repository: 'a_b/c__d/e-f.g', digest: `sha256:${HEX}` }],
    [`app:v1@sha256:${HEX}`, { registry: 'docker.io', repository: 'library/app', tag: 'v1', digest: `sha256:${HEX}` }],
    ['Registry/app', { registry: 'Registry', repository: 'app' }],
  ])('%s', (input, want) => {
    expect(parseReference(input)).toEqual({ kind: 'registry', ...want });
  });

  it.each([
    ['oci:/tmp/layout', { dir: '/tmp/layout' }],
    ['oci:/tmp/layout:v1', { dir: '/tmp/layout', tag: 'v1' }],
    ['oci:relative/dir:latest', { dir: 'relative/dir', tag: 'latest' }],
    [`oci:/tmp/layout@sha256:${HEX}`, { dir: '/tmp/layout', digest: `sha256:${HEX}` }],
    ['oci:/a:b/c', { dir: '/a:b/c' }],
  ])('%s', (input, want) => {
    expect(parseReference(input)).toEqual({ kind: 'layout', ...want });
  });

  it.each([
    'docker.io/UPPER',
    'app/UPPER',
    'app:',
    'app:-bad',
    `app:${'t'.repeat(129)}`,
    'app@sha256:short',
    `app@md5:${HEX}`,
    'a//b',
    'app/',
    '-app',
    'oci:',
    'oci::tag',
    `host.io/${'a'.repeat(250)}`,
    'host:port:5000/app',
  ])('rejects %s with INVALID_ARGUMENT or UNSUPPORTED', (input) => {
    let err: unknown;
    try {
      parseReference(input);
    } catch (e) {
      err = e;
    }
    expect(isImageError(err, 'INVALID_ARGUMENT') || isImageError(err, 'UNSUPPORTED')).toBe(true);
  });

  it('formats references canonically and picks digest, then tag, then latest', () => {
    expect(formatReference(parseReference('debian'))).toBe('docker.io/library/debian');
    expect(formatReference(parseReference('oci:/x:t'))).toBe('oci:/x:t');
    expect(referenceTarget(parseReference('debian'))).toBe('latest');
    expect(referenceTarget(parseReference('debian:12'))).toBe('12');
    expect(referenceTarget(parseReference(`debian:12@sha256:${HEX}`))).toBe(`sha256:${HEX}`);
  });
});
