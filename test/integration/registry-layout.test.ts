// The OCI layout store against skopeo and umoci: layouts we write are read by them, layouts they write are read by us.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

import { describe, expect, it } from 'vitest';

import { isImageError } from '../../src/errors.js';
import { parseManifest, type ImageManifest } from '../../src/format/oci/manifest.js';
import { OCI_MANIFEST } from '../../src/format/oci/media-types.js';
import { readBlob } from '../../src/registry/image-store.js';
import { OciLayoutStore } from '../../src/registry/oci-layout-store.js';
import { missingNeeds } from '../helpers/capabilities.js';
import { makeTestImage, pushArtifact, pushTestImage } from '../helpers/oci-image.js';
import { makeTempDir } from '../helpers/tmpdir.js';

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe.skipIf(missingNeeds({ commands: ['skopeo', 'umoci'] }))('OCI layout store interoperability', () => {
  it('writes a layout that skopeo and umoci read, referrers included', async () => {
    const dir = path.join(makeTempDir(), 'ours');
    const store = await OciLayoutStore.open(dir, { create: true });
    const image = await makeTestImage('layout-ours', 50_000);
    const subject = await pushTestImage(store, image, 'v1');
    const artifact = await pushArtifact(store, subject, 'application/vnd.example.sig.v1', 'sig');

    const inspected = JSON.parse(run('skopeo', ['inspect', `oci:${dir}:v1`])) as { Digest: string; Layers: string[]; Os: string };
    expect(inspected.Digest).toBe(image.manifest.digest);
    expect(inspected.Layers).toEqual([image.layers[0]!.digest]);
    expect(inspected.Os).toBe('linux');

    const out = path.join(makeTempDir(), 'copied');
    run('skopeo', ['copy', `oci:${dir}:v1`, `dir:${out}`]);
    expect(readFileSync(path.join(out, 'manifest.json')).equals(image.manifestBytes)).toBe(true);
    const layerHex = image.layers[0]!.digest.slice('sha256:'.length);
    expect(readFileSync(path.join(out, layerHex)).equals(image.blobs.get(image.layers[0]!.digest)!)).toBe(true);

    expect(run('umoci', ['ls', '--layout', dir]).split('\n')).toContain('v1');
    expect(run('umoci', ['stat', '--image', `${dir}:v1`])).toContain('turbo-oci test layout-ours');

    expect((await store.listReferrers(subject.digest)).map((d) => d.digest)).toEqual([artifact.digest]);
    expect(await store.listReferrers(subject.digest, 'application/other')).toEqual([]);
    const layer = image.blobs.get(image.layers[0]!.digest)!;
    expect((await store.getBlobRange(image.layers[0]!.digest, 100, 1000)).equals(layer.subarray(100, 1100))).toBe(true);
    await expect(store.resolve('missing')).rejects.toMatchObject({ code: 'NOT_FOUND' });
  });

  it('reads layouts made by umoci and by skopeo copy', async () => {
    const tmp = makeTempDir();
    const umociDir = path.join(tmp, 'umoci');
    run('umoci', ['init', '--layout', umociDir]);
    run('umoci', ['new', '--image', `${umociDir}:base`]);
    const store = await OciLayoutStore.open(umociDir);
    const got = await store.getManifest('base');
    expect(got.descriptor.mediaType).toBe(OCI_MANIFEST);
    const manifest = parseManifest(got.bytes, got.descriptor.mediaType).manifest as ImageManifest;
    const config = JSON.parse((await readBlob(store, manifest.config.digest, manifest.config.size)).toString()) as { os: string };
    expect(config.os).toBe('linux');
    expect(await store.listReferrers(got.descriptor.digest)).toEqual([]);

    const ours = path.join(tmp, 'ours');
    const image = await makeTestImage('layout-skopeo', 20_000);
    await pushTestImage(await OciLayoutStore.open(ours, { create: true }), image, 'src');
    const copied = path.join(tmp, 'skopeo');
    run('skopeo', ['copy', `oci:${ours}:src`, `oci:${copied}:dst`]);
    const fromSkopeo = await OciLayoutStore.open(copied);
    const m = await fromSkopeo.getManifest('dst');
    const layers = (parseManifest(m.bytes, m.descriptor.mediaType).manifest as ImageManifest).layers;
    for (const layer of layers) expect((await readBlob(fromSkopeo, layer.digest, layer.size)).equals(image.blobs.get(layer.digest)!)).toBe(true);

    const err = await OciLayoutStore.open(path.join(tmp, 'nothing')).catch((e: unknown) => e);
    expect(isImageError(err, 'NOT_FOUND')).toBe(true);
  });
});
