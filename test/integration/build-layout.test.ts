// `turbo-index build|inspect|verify` on OCI layouts (the demo image): artifact shape, offsets checked against the layers, determinism, tampering, corrupt and zstd layers.
import { cpSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { compress } from 'zstd-napi';
import { beforeAll, describe, expect, it } from 'vitest';

import { demoLayerEntries, generateDemoImage, type DemoImageSummary } from '../../fixtures/demo/generate.js';
import { decodeEntryTable } from '../../indexer/artifact/entry-table.js';
import { decodeIndexArtifact, encodeIndexArtifact, INDEX_ARTIFACT_TYPE } from '../../src/format/artifact/index-artifact.js';
import { decodeSeekIndex } from '../../src/format/seek-index.js';
import { sha256Digest } from '../../src/format/oci/digest.js';
import { encodeManifest } from '../../src/format/oci/manifest.js';
import { OCI_CONFIG, OCI_INDEX, OCI_LAYER_ZSTD, OCI_MANIFEST } from '../../src/format/oci/media-types.js';
import { readBlob } from '../../src/registry/image-store.js';
import { OciLayoutStore } from '../../src/registry/oci-layout-store.js';
import { tarBytes } from '../helpers/images.js';
import { makeTempDir } from '../helpers/tmpdir.js';
import { turboIndex } from '../helpers/turbo-index-cli.js';

let work: string;
let demoDir: string;
let demo: DemoImageSummary;
let env: Record<string, string>;

function blobFile(dir: string, digest: string): string {
  return path.join(dir, 'blobs', 'sha256', digest.slice(7));
}

function copyDemo(name: string): string {
  const dir = path.join(work, name);
  cpSync(demoDir, dir, { recursive: true });
  return dir;
}

beforeAll(() => {
  work = makeTempDir('turbo-build-layout-');
  demoDir = path.join(work, 'demo');
  demo = generateDemoImage(demoDir);
  env = { TURBO_OCI_INDEX_CACHE_DIR: path.join(work, 'cache') };
});

describe('turbo-index build on OCI layouts', { timeout: 600_000 }, () => {
  it('builds the demo image into --output oci:<dir>: a referrer artifact whose parts match the layers byte for byte', async () => {
    const out = path.join(work, 'out');
    const r = await turboIndex(['build', `oci:${demoDir}:latest`, '--output', `oci:${out}`, '--json'], env);
    expect(r.stderr).toBe('');
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as { digest: string; indexes: { subject: string; layers: { source: string; points: number }[] }[] };
    expect(report.indexes[0]!.subject).toBe(demo.manifestDigest);
    expect(report.indexes[0]!.layers.map((l) => l.source)).toEqual(['downloaded', 'downloaded', 'downloaded']);

    const store = await OciLayoutStore.open(out);
    const referrers = await store.listReferrers(demo.manifestDigest, INDEX_ARTIFACT_TYPE);
    expect(referrers.map((d) => d.digest)).toEqual([report.digest]);
    const { bytes } = await store.getManifest(report.digest);
    const artifact = decodeIndexArtifact(bytes);
    expect(artifact.layers.map((l) => l.digest)).toEqual(demo.layers.map((l) => l.digest));
    expect(artifact.layers.map((l) => l.diffId)).toEqual(demo.layers.map((l) => l.diffId));
    const specs = demoLayerEntries();
    for (const [i, layer] of artifact.layers.entries()) {
      const gz = readFileSync(blobFile(demoDir, layer.digest));
      const tar = gunzipSync(gz);
      const seek = decodeSeekIndex(await readBlob(store, layer.seekIndex.digest, layer.seekIndex.size));
      expect(seek.layerSha256.toString('hex')).toBe(layer.digest.slice(7));
      expect(seek.uncompressedBytes).toBe(tar.length);
      expect(seek.points.length).toBe(layer.points);
      const table = decodeEntryTable(await readBlob(store, layer.entryTable.digest, layer.entryTable.size));
      expect(table.diffId).toBe(sha256Digest(tar));
      // Every regular file's recorded data range holds exactly the file's content.
      const files = specs[i]!.filter((s) => s.type === 'file');
      const tabled = table.entries.filter((e) => e.type === 'file');
      expect(tabled.map((e) => e.path.replace(/^\.?\//, ''))).toEqual(files.map((f) => f.path.replace(/^\.?\//, '')));
      tabled.forEach((e, k) => expect(tar.subarray(e.dataOffset, e.dataOffset + e.dataBytes).equals(files[k]!.data ?? Buffer.alloc(0))).toBe(true));
      const delta = await readBlob(store, layer.ext4Delta.digest, layer.ext4Delta.size);
      expect(delta.subarray(0, 8).toString('latin1')).toBe('TOCIEXT4');
    }
    await store.close();
  });

  it('is deterministic: cached, uncached and in-place builds give the same digest; inspect shows it; verify and verify --full confirm it', async () => {
    const out2 = path.join(work, 'out2');
    const a = await turboIndex(['build', `oci:${demoDir}:latest`, '--output', `oci:${out2}`], env);
    const b = await turboIndex(['build', `oci:${demoDir}:latest`, '--output', `oci:${out2}`, '--no-cache'], env);
    const dir = copyDemo('inplace');
    const c = await turboIndex(['build', `oci:${dir}:latest`], env);
    expect([a.status, b.status, c.status]).toEqual([0, 0, 0]);
    expect(a.stdout).toMatch(/^sha256:[0-9a-f]{64}\n$/);
    expect(b.stdout).toBe(a.stdout);
    expect(c.stdout).toBe(a.stdout);
    const digest = a.stdout.trim();
    const inspect = await turboIndex(['inspect', `oci:${dir}:latest`, '--json'], env);
    expect(inspect.status).toBe(0);
    const shown = JSON.parse(inspect.stdout) as { image: string; indexes: { digest: string; spanBytes: number; layers: { points: number; ext4DeltaBytes: number; percentOfLayer: number }[] }[] }[];
    expect(shown[0]!.image).toBe(demo.manifestDigest);
    expect(shown[0]!.indexes.map((x) => x.digest)).toEqual([digest]);
    expect(shown[0]!.indexes[0]!.spanBytes).toBe(1024 * 1024);
    expect(shown[0]!.indexes[0]!.layers).toHaveLength(3);
    const table = await turboIndex(['inspect', `oci:${dir}:latest`], env);
    expect(table.stdout).toContain(digest);
    expect(table.stdout).toContain('% of layer');
    const v = await turboIndex(['verify', `oci:${dir}:latest`], env);
    expect(v.stdout).toContain(`ok ${digest}`);
    const full = await turboIndex(['verify', `oci:${dir}:latest`, '--full'], env);
    expect(full.status).toBe(0);
    expect(full.stdout).toContain('rebuilt from the layers');
    // The image itself is untouched.
    const store = await OciLayoutStore.open(dir);
    expect((await store.resolve('latest')).digest).toBe(demo.manifestDigest);
    await store.close();
  });

  it('multi-platform image: every platform by default, one with --platform; inspect and verify cover each', async () => {
    const dir = copyDemo('multi');
    const store = await OciLayoutStore.open(dir);
    const base = await store.getManifest('latest');
    const other = JSON.parse(base.bytes.toString('utf8')) as Record<string, unknown>;
    other.annotations = { ...(other.annotations as Record<string, string>), 'org.opencontainers.image.title': 'arm64 twin' };
    const armDesc = await store.putManifest(Buffer.from(JSON.stringify(other)), OCI_MANIFEST);
    const index = {
      schemaVersion: 2,
      mediaType: OCI_INDEX,
      manifests: [
        { ...base.descriptor, annotations: undefined, platform: { architecture: 'amd64', os: 'linux' } },
        { ...armDesc, platform: { architecture: 'arm64', os: 'linux', variant: 'v8' } },
        { mediaType: OCI_MANIFEST, digest: base.descriptor.digest, size: base.descriptor.size, platform: { architecture: 'unknown', os: 'unknown' } },
      ],
    };
    await store.putManifest(Buffer.from(JSON.stringify(index)), OCI_INDEX, 'multi');
    await store.close();
    const all = await turboIndex(['build', `oci:${dir}:multi`], env);
    expect(all.stderr).toBe('');
    const lines = all.stdout.trim().split('\n').map((l) => l.split('\t'));
    expect(lines.map((l) => l[1])).toEqual(['linux/amd64', 'linux/arm64/v8']);
    expect(lines[0]![0]).not.toBe(lines[1]![0]);
    const one = await turboIndex(['build', `oci:${dir}:multi`, '--platform', 'linux/arm64'], env);
    expect(one.stdout.trim()).toBe(lines[1]![0]);
    const inspect = JSON.parse((await turboIndex(['inspect', `oci:${dir}:multi`, '--json'], env)).stdout) as { image: string; platform: string; indexes: { digest: string }[] }[];
    expect(inspect.map((i) => [i.image, i.platform, i.indexes.map((x) => x.digest)])).toEqual([
      [demo.manifestDigest, 'linux/amd64', [lines[0]![0]]],
      [armDesc.digest, 'linux/arm64/v8', [lines[1]![0]]],
    ]);
    const v = await turboIndex(['verify', `oci:${dir}:multi`], env);
    expect(v.stdout.trim().split('\n')).toHaveLength(2);
    const missing = await turboIndex(['build', `oci:${dir}:multi`, '--platform', 'linux/s390x'], env);
    expect(missing.status).toBe(3);
  });

  it('a different span gives a different index; --span is honoured', async () => {
    const dir = copyDemo('span');
    const r = await turboIndex(['build', `oci:${dir}:latest`, '--span', '64KiB', '--json'], env);
    expect(r.status).toBe(0);
    const report = JSON.parse(r.stdout) as { indexes: { spanBytes: number; layers: { points: number }[] }[] };
    expect(report.indexes[0]!.spanBytes).toBe(65536);
    expect(report.indexes[0]!.layers[0]!.points).toBeGreaterThan(1);
  });

  it('verify detects tampered artifacts: a flipped blob byte, and a consistent manifest whose delta is not the rebuilt one', async () => {
    const dir = copyDemo('tamper');
    const built = await turboIndex(['build', `oci:${dir}:latest`], env);
    const digest = built.stdout.trim();
    const store = await OciLayoutStore.open(dir);
    const artifact = decodeIndexArtifact((await store.getManifest(digest)).bytes);
    // 1. A consistent forgery: layer 1's delta replaced by layer 0's (a valid blob with a valid digest), attached as a second index.
    const forged = { ...artifact, layers: artifact.layers.map((l, i) => (i === 1 ? { ...l, ext4Delta: artifact.layers[0]!.ext4Delta } : l)) };
    await store.attachReferrer(encodeIndexArtifact(forged), OCI_MANIFEST);
    const v1 = await turboIndex(['verify', `oci:${dir}:latest`], env);
    expect(v1.status).toBe(4);
    expect(v1.stderr).toMatch(/CORRUPT: .*ext4Delta of layer 1 differs from a rebuild/);
    // 2. A flipped byte in the entry table blob of the genuine index.
    const file = blobFile(dir, artifact.layers[2]!.entryTable.digest);
    const bytes = readFileSync(file);
    bytes[bytes.length - 3]! ^= 0x40;
    writeFileSync(file, bytes);
    const v2 = await turboIndex(['verify', `oci:${dir}:latest`], env);
    expect(v2.status).toBe(4);
    expect(v2.stderr).toContain('CORRUPT');
    await store.close();
  });

  it('a corrupted layer blob fails the build with CORRUPT naming the layer and publishes nothing', async () => {
    const dir = copyDemo('corrupt');
    const layer = demo.layers[1]!;
    const file = blobFile(dir, layer.digest);
    const bytes = readFileSync(file);
    bytes[Math.floor(bytes.length / 2)]! ^= 0x01;
    writeFileSync(file, bytes);
    const r = await turboIndex(['build', `oci:${dir}:latest`, '--no-cache'], env);
    expect(r.status).toBe(4);
    expect(r.stderr).toContain('CORRUPT');
    expect(r.stderr).toContain(layer.digest);
    const store = await OciLayoutStore.open(dir);
    expect(await store.listReferrers(demo.manifestDigest)).toEqual([]);
    await store.close();
  });

  it('a zstd layer fails with UNSUPPORTED naming the layer; a plain tar layer gets an identity seek index', async () => {
    const dir = path.join(work, 'zstd');
    const store = await OciLayoutStore.open(dir, { create: true });
    const tar = tarBytes([{ path: 'a.txt', type: 'file', mode: 0o644, mtime: 1_700_000_000, data: Buffer.from('plain layer\n') }]);
    const zst = compress(tar);
    const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [sha256Digest(tar), sha256Digest(tar)] } }));
    for (const b of [tar, zst, config]) await store.putBlob(sha256Digest(b), b.length, b);
    const manifest = (layers: { mediaType: string; digest: string; size: number }[]): Buffer =>
      encodeManifest({ schemaVersion: 2, mediaType: OCI_MANIFEST, config: { mediaType: OCI_CONFIG, digest: sha256Digest(config), size: config.length }, layers });
    const plain = { mediaType: 'application/vnd.oci.image.layer.v1.tar', digest: sha256Digest(tar), size: tar.length };
    await store.putManifest(manifest([plain, { mediaType: OCI_LAYER_ZSTD, digest: sha256Digest(zst), size: zst.length }]), OCI_MANIFEST, 'zstd');
    await store.putManifest(manifest([plain, plain]), OCI_MANIFEST, 'plain');
    const z = await turboIndex(['build', `oci:${dir}:zstd`], env);
    expect(z.status).toBe(7);
    expect(z.stderr).toContain('UNSUPPORTED');
    expect(z.stderr).toContain(sha256Digest(zst));
    const p = await turboIndex(['build', `oci:${dir}:plain`, '--json'], env);
    expect(p.stderr).toBe('');
    const report = JSON.parse(p.stdout) as { indexes: { layers: { points: number; uncompressedBytes: number }[] }[] };
    expect(report.indexes[0]!.layers.map((l) => [l.points, l.uncompressedBytes])).toEqual([[0, tar.length], [0, tar.length]]);
    await store.close();
  });
});
