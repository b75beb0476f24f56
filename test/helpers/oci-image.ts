// Builds small, valid single-layer OCI images in memory for tests (tar made with tar-stream, gzip with zlib) and pushes them to any ImageStore.
import { gzipSync } from 'node:zlib';

import tarStream from 'tar-stream';

import { sha256Digest } from '../../src/format/oci/digest.js';
import { encodeManifest, type Descriptor, type ImageManifest } from '../../src/format/oci/manifest.js';
import { OCI_CONFIG, OCI_EMPTY, OCI_LAYER_GZIP, OCI_MANIFEST } from '../../src/format/oci/media-types.js';
import type { ImageStore } from '../../src/registry/image-store.js';
import { SeededRandom } from './random.js';

/** An image held in memory: every blob, the manifest bytes and its descriptor. */
export interface TestImage {
  blobs: Map<string, Buffer>;
  config: Descriptor;
  layers: Descriptor[];
  manifestBytes: Buffer;
  manifest: Descriptor;
}

/** A tar with the given files, made by tar-stream. */
export async function makeTar(files: Record<string, Buffer>): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (c: unknown) => chunks.push(c as Buffer));
  const done = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  for (const [name, content] of Object.entries(files)) pack.entry({ name, size: content.length, mode: 0o644, mtime: new Date(0) }, content);
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** A one-layer linux image with `fileBytes` of seeded random content in /data.bin. */
export async function makeTestImage(seed: string, fileBytes = 4096, platform = { os: 'linux', architecture: 'amd64' }): Promise<TestImage> {
  const rnd = new SeededRandom(seed);
  const tar = await makeTar({ 'data.bin': rnd.bytes(fileBytes), 'hello.txt': Buffer.from(`hello from ${seed}\n`) });
  const layerBytes = gzipSync(tar);
  const configBytes = Buffer.from(
    JSON.stringify({
      created: '2026-01-01T00:00:00Z',
      architecture: platform.architecture,
      os: platform.os,
      config: { Env: ['PATH=/usr/bin:/bin'] },
      rootfs: { type: 'layers', diff_ids: [sha256Digest(tar)] },
      history: [{ created: '2026-01-01T00:00:00Z', created_by: `turbo-oci test ${seed}` }],
    }),
  );
  const config: Descriptor = { mediaType: OCI_CONFIG, digest: sha256Digest(configBytes), size: configBytes.length };
  const layer: Descriptor = { mediaType: OCI_LAYER_GZIP, digest: sha256Digest(layerBytes), size: layerBytes.length };
  const manifest: ImageManifest = { schemaVersion: 2, mediaType: OCI_MANIFEST, config, layers: [layer] };
  const manifestBytes = encodeManifest(manifest);
  const blobs = new Map([
    [config.digest, configBytes],
    [layer.digest, layerBytes],
  ]);
  return { blobs, config, layers: [layer], manifestBytes, manifest: { mediaType: OCI_MANIFEST, digest: sha256Digest(manifestBytes), size: manifestBytes.length } };
}

/** Pushes every blob, then the manifest under `tag`. */
export async function pushTestImage(store: ImageStore, image: TestImage, tag?: string): Promise<Descriptor> {
  for (const [digest, bytes] of image.blobs) await store.putBlob(digest, bytes.length, bytes);
  return store.putManifest(image.manifestBytes, OCI_MANIFEST, tag);
}

/** An artifact manifest (image-spec 1.1) referring to `subject`, with an empty config and one small layer. */
export async function pushArtifact(store: ImageStore, subject: Descriptor, artifactType: string, note: string): Promise<Descriptor> {
  const empty = Buffer.from('{}');
  const layerBytes = Buffer.from(note);
  await store.putBlob(sha256Digest(empty), 2, empty);
  await store.putBlob(sha256Digest(layerBytes), layerBytes.length, layerBytes);
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    artifactType,
    config: { mediaType: OCI_EMPTY, digest: sha256Digest(empty), size: 2 },
    layers: [{ mediaType: 'application/octet-stream', digest: sha256Digest(layerBytes), size: layerBytes.length }],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations: { 'org.turbo-oci.test.note': note },
  };
  return store.attachReferrer(encodeManifest(manifest), OCI_MANIFEST);
}

/** Collects a readable stream into one buffer. */
export async function collect(stream: AsyncIterable<Uint8Array>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}
