// Index artifact v1: golden vector reproduced byte for byte, canonical round trip, every malformed manifest rejected with CORRUPT/UNSUPPORTED.
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import { ARTIFACT_GOLDEN_DIR, artifactGoldenVectors, goldenArtifact } from '../../../../fixtures/artifact-golden.js';
import { isImageError } from '../../../../src/errors.js';
import { chainIds } from '../../../../src/format/artifact/chain-id.js';
import { ANNOTATION, decodeIndexArtifact, encodeIndexArtifact, INDEX_ARTIFACT_TYPE } from '../../../../src/format/artifact/index-artifact.js';
import { EMPTY_JSON_DIGEST } from '../../../../src/format/oci/media-types.js';
import { PROPERTY_SEED } from '../../../helpers/random.js';

const golden = (): Buffer => readFileSync(path.join(ARTIFACT_GOLDEN_DIR, 'index-manifest.json'));

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
  } catch (err) {
    return isImageError(err) ? err.code : 'NOT_IMAGE_ERROR';
  }
  return undefined;
}

describe('index artifact v1', () => {
  it('the generator reproduces the committed golden vectors byte for byte', () => {
    for (const v of artifactGoldenVectors()) expect(v.bytes.equals(readFileSync(path.join(ARTIFACT_GOLDEN_DIR, v.name))), v.name).toBe(true);
  });

  it('decodes the golden manifest to the generator input and re-encodes it identically', () => {
    const decoded = decodeIndexArtifact(golden());
    expect(decoded).toEqual(goldenArtifact());
    expect(encodeIndexArtifact(decoded).equals(golden())).toBe(true);
  });

  it('is an OCI image manifest with the empty config, the subject and the index annotations', () => {
    const m = JSON.parse(golden().toString('utf8'));
    expect(Object.keys(m)).toEqual(['schemaVersion', 'mediaType', 'artifactType', 'config', 'layers', 'subject', 'annotations']);
    expect(m.artifactType).toBe(INDEX_ARTIFACT_TYPE);
    expect(m.config.digest).toBe(EMPTY_JSON_DIGEST);
    expect(EMPTY_JSON_DIGEST).toBe(`sha256:${createHash('sha256').update('{}').digest('hex')}`);
    expect(m.subject).toEqual(goldenArtifact().subject);
    expect(m.annotations[ANNOTATION.indexVersion]).toBe('1');
    expect(m.annotations['org.opencontainers.image.created']).toBeUndefined();
    expect(m.layers).toHaveLength(3 * goldenArtifact().layers.length);
  });

  it('chain IDs follow image-spec: ChainID(n) = sha256(ChainID(n-1) + " " + DiffID(n))', () => {
    const d = ['sha256:' + 'a'.repeat(64), 'sha256:' + 'b'.repeat(64), 'sha256:' + 'c'.repeat(64)];
    const c = chainIds(d);
    expect(c[0]).toBe(d[0]);
    expect(c[1]).toBe(`sha256:${createHash('sha256').update(`${d[0]} ${d[1]}`).digest('hex')}`);
    expect(c[2]).toBe(`sha256:${createHash('sha256').update(`${c[1]} ${d[2]}`).digest('hex')}`);
  });

  it('rejects a wrong artifact type, another version, broken triples and non-canonical JSON', () => {
    const m = JSON.parse(golden().toString('utf8'));
    const enc = (v: unknown): Buffer => Buffer.from(JSON.stringify(v));
    expect(codeOf(() => decodeIndexArtifact(enc({ ...m, artifactType: 'application/x' })))).toBe('CORRUPT');
    expect(codeOf(() => decodeIndexArtifact(enc({ ...m, annotations: { ...m.annotations, [ANNOTATION.indexVersion]: '2' } })))).toBe('UNSUPPORTED');
    expect(codeOf(() => decodeIndexArtifact(enc({ ...m, layers: m.layers.slice(1) })))).toBe('CORRUPT');
    expect(codeOf(() => decodeIndexArtifact(enc({ ...m, layers: [m.layers[1], m.layers[0], ...m.layers.slice(2)] })))).toBe('CORRUPT');
    expect(codeOf(() => decodeIndexArtifact(enc({ ...m, subject: undefined })))).toBe('CORRUPT');
    expect(codeOf(() => decodeIndexArtifact(Buffer.from(JSON.stringify(m, null, 2))))).toBe('CORRUPT');
    expect(codeOf(() => decodeIndexArtifact(golden().subarray(0, 100)))).toBe('CORRUPT');
  });

  // The seek point count exists only on the seek index descriptor: a changed count is caught against the blob (loadPublishedParts).
  it('any change to one shared annotation value of one blob descriptor is CORRUPT (the triple must agree)', () => {
    const m = JSON.parse(golden().toString('utf8'));
    const keysOf = (i: number): string[] => Object.keys(m.layers[i].annotations).filter((k) => k !== ANNOTATION.seekPoints);
    fc.assert(
      fc.property(fc.nat(m.layers.length - 1), fc.nat(100), fc.constantFrom('0', '9', 'x', 'sha256:'), (i, k, suffix) => {
        const copy = JSON.parse(JSON.stringify(m));
        const key = keysOf(i)[k % keysOf(i).length]!;
        copy.layers[i].annotations[key] += suffix;
        return codeOf(() => decodeIndexArtifact(Buffer.from(JSON.stringify(copy)))) === 'CORRUPT';
      }),
      { seed: PROPERTY_SEED, numRuns: 200 },
    );
  });
});
