// Layer annotations v1: the keys containerd forwards, the round trip of index digest + repository, and every malformed value ignored.
import { createHash } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';

import {
  annotateManifestLayers,
  inheritedLabels,
  INHERITED_LABEL_PREFIX,
  LAYER_ANNOTATION,
  layerAnnotations,
  parseLayerAnnotations,
  parseRepositoryName,
} from '../../../../src/format/artifact/layer-annotations.js';
import { isImageError } from '../../../../src/errors.js';
import { PROPERTY_SEED } from '../../../helpers/random.js';

const sha = (s: string) => `sha256:${createHash('sha256').update(s).digest('hex')}`;

describe('layer annotations v1', () => {
  it('both keys are inherited by containerd (the containerd.io/snapshot/ prefix) and differ from overlaybd\'s', () => {
    for (const key of Object.values(LAYER_ANNOTATION)) {
      expect(key.startsWith(INHERITED_LABEL_PREFIX)).toBe(true);
      expect(key.startsWith(`${INHERITED_LABEL_PREFIX}overlaybd/`)).toBe(false);
    }
    expect(LAYER_ANNOTATION).toEqual({ index: 'containerd.io/snapshot/turbo.ociv1.index', repository: 'containerd.io/snapshot/turbo.ociv1.repository' });
  });

  it('round-trips the index digest and repository; the repository key is optional', () => {
    const index = sha('index');
    const values = layerAnnotations(index, { registry: '127.0.0.1:5000', repository: 'team/app' });
    expect(values).toEqual({ [LAYER_ANNOTATION.index]: index, [LAYER_ANNOTATION.repository]: '127.0.0.1:5000/team/app' });
    expect(parseLayerAnnotations(values)).toEqual({ indexDigest: index, repository: { registry: '127.0.0.1:5000', repository: 'team/app' } });
    expect(parseLayerAnnotations({ [LAYER_ANNOTATION.index]: index })).toEqual({ indexDigest: index });
    // docker reference normalisation: Docker Hub names spelled out.
    expect(parseRepositoryName('debian')).toEqual({ registry: 'docker.io', repository: 'library/debian' });
    expect(layerAnnotations(index, parseRepositoryName('index.docker.io/library/debian')!)[LAYER_ANNOTATION.repository]).toBe('docker.io/library/debian');
  });

  it('ignores absent or malformed values (the layer then counts as not annotated)', () => {
    const index = sha('index');
    expect(parseLayerAnnotations({})).toBeUndefined();
    expect(parseLayerAnnotations({ [LAYER_ANNOTATION.repository]: 'reg.example/app' })).toBeUndefined();
    for (const bad of ['', 'sha256:abc', index.toUpperCase(), `md5:${'0'.repeat(32)}`, `${index} `, `sha256:${'g'.repeat(64)}`]) {
      expect(parseLayerAnnotations({ [LAYER_ANNOTATION.index]: bad }), bad).toBeUndefined();
    }
    for (const bad of ['', 'reg.example/app:v1', `reg.example/app@${index}`, 'oci:/tmp/layout', 'Reg.example/App', 'reg.example/a b', 'reg.example/app/']) {
      expect(parseLayerAnnotations({ [LAYER_ANNOTATION.index]: index, [LAYER_ANNOTATION.repository]: bad }), bad).toBeUndefined();
    }
  });

  it('inheritedLabels keeps exactly the containerd.io/snapshot/ annotations, as containerd\'s FilterInheritedLabels', () => {
    const annotations = {
      [LAYER_ANNOTATION.index]: sha('i'),
      'containerd.io/snapshot/overlaybd/blob-digest': sha('b'),
      'containerd.io/snapshot.ref': 'not inherited (no slash after snapshot)',
      'org.opencontainers.image.title': 'layer.tar.gz',
      'dev.turbo-oci.layer.position': '0',
    };
    expect(inheritedLabels(annotations)).toEqual({ [LAYER_ANNOTATION.index]: sha('i'), 'containerd.io/snapshot/overlaybd/blob-digest': sha('b') });
    expect(inheritedLabels(undefined)).toEqual({});
  });

  it('property: any valid registry/repository and digest survive layerAnnotations -> parseLayerAnnotations', () => {
    const component = fc.stringMatching(/^[a-z0-9]+(?:[._-][a-z0-9]+)?$/, { maxLength: 12 });
    const registry = fc.tuple(fc.stringMatching(/^[a-z][a-z0-9]{0,10}$/), fc.integer({ min: 1, max: 65535 })).map(([h, p]) => `${h}.example:${p}`);
    fc.assert(
      fc.property(registry, fc.array(component, { minLength: 1, maxLength: 4 }), fc.string(), (reg, parts, seed) => {
        const name = { registry: reg, repository: parts.join('/') };
        const index = sha(seed);
        expect(parseLayerAnnotations(layerAnnotations(index, name))).toEqual({ indexDigest: index, repository: name });
      }),
      { seed: PROPERTY_SEED, numRuns: 200 },
    );
  });

  it('annotateManifestLayers adds the values to every layer, keeps other annotations and fields, and replaces stale values of our keys', () => {
    const layer = (n: string, annotations?: Record<string, string>) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: sha(n), size: n.length, ...(annotations ? { annotations } : {}) });
    const manifest = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: sha('config'), size: 6 },
      layers: [layer('a'), layer('b', { 'org.example.keep': 'yes', [LAYER_ANNOTATION.index]: sha('stale') })],
      annotations: { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' },
      'x-unknown-field': [1, 2],
    };
    const values = layerAnnotations(sha('index'), { registry: 'reg.example', repository: 'app' });
    const out = JSON.parse(annotateManifestLayers(Buffer.from(JSON.stringify(manifest, null, 2)), values).toString('utf8'));
    expect(out).toEqual({ ...manifest, layers: [layer('a', values), layer('b', { 'org.example.keep': 'yes', ...values })] });
    const index = { schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests: [] };
    let code: string | undefined;
    try {
      annotateManifestLayers(Buffer.from(JSON.stringify(index)), values);
    } catch (err) {
      code = isImageError(err) ? err.code : 'other';
    }
    expect(code).toBe('CORRUPT');
  });
});
