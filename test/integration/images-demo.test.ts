// Tests of the embedded demo image generator: byte-reproducible, golden digests, accepted by skopeo and umoci.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { generateDemoImage, type DemoImageSummary } from '../../fixtures/demo/generate.js';
import { missingNeeds } from '../helpers/capabilities.js';
import { expectedTree } from '../helpers/images.js';
import { makeTempDir } from '../helpers/tmpdir.js';

const tmp = makeTempDir('images-demo-');
const golden = JSON.parse(readFileSync(path.join(import.meta.dirname, '../../fixtures/demo/digests.json'), 'utf8')) as DemoImageSummary;

/** Relative path → sha256 of every file under `dir`. */
function fileDigests(dir: string, rel = ''): Record<string, string> {
  const out: Record<string, string> = {};
  for (const name of readdirSync(path.join(dir, rel)).sort()) {
    const p = path.join(rel, name);
    if (statSync(path.join(dir, p)).isDirectory()) Object.assign(out, fileDigests(dir, p));
    else out[p] = createHash('sha256').update(readFileSync(path.join(dir, p))).digest('hex');
  }
  return out;
}

const first = path.join(tmp, 'demo-a');
const summary = generateDemoImage(first);

describe('demo image generator', () => {
  it('is byte-reproducible and matches the committed digests (fixtures/demo/digests.json)', () => {
    const second = path.join(tmp, 'demo-b');
    expect(generateDemoImage(second)).toEqual(summary);
    expect(fileDigests(second)).toEqual(fileDigests(first));
    expect(summary).toEqual(golden);
    // Regenerating over an existing layout gives the same bytes again.
    expect(generateDemoImage(first)).toEqual(summary);
  });

  it('writes a small layout whose blobs match their digests, with deterministic gzip headers', () => {
    const blobs = readdirSync(path.join(first, 'blobs', 'sha256'));
    let total = 0;
    for (const hex of blobs) {
      const bytes = readFileSync(path.join(first, 'blobs', 'sha256', hex));
      total += bytes.length;
      expect(createHash('sha256').update(bytes).digest('hex')).toBe(hex);
    }
    expect(blobs).toHaveLength(summary.layers.length + 2);
    expect(total).toBeLessThan(400 * 1024);
    for (const layer of summary.layers) {
      const gz = readFileSync(path.join(first, 'blobs', 'sha256', layer.digest.slice(7)));
      expect([gz[0], gz[1], gz[2], gz[3], gz.readUInt32LE(4), gz[9]]).toEqual([0x1f, 0x8b, 8, 0, 0, 3]);
      expect(`sha256:${createHash('sha256').update(gunzipSync(gz)).digest('hex')}`).toBe(layer.diffId);
    }
    const names2 = execFileSync('tar', ['-tzf', path.join(first, 'blobs', 'sha256', summary.layers[1]!.digest.slice(7))]).toString().split('\n');
    expect(names2).toContain('usr/share/demo/.wh.to-be-deleted.txt');
    expect(names2).toContain('usr/share/demo/replaced-dir/.wh..wh..opq');
  });
});

describe.skipIf(missingNeeds({ commands: ['skopeo', 'umoci'] }))('demo image with skopeo and umoci', () => {
  it('skopeo inspect and umoci ls accept the layout', () => {
    const inspect = JSON.parse(execFileSync('skopeo', ['inspect', `oci:${first}:latest`]).toString()) as { Digest: string; Layers: string[] };
    expect(inspect.Digest).toBe(summary.manifestDigest);
    expect(inspect.Layers).toEqual(summary.layers.map((l) => l.digest));
    expect(execFileSync('umoci', ['ls', '--layout', first]).toString().trim()).toBe('latest');
  });
});

describe.skipIf(missingNeeds({ root: true, commands: ['umoci', 'python3'] }))('demo image unpacked by umoci', () => {
  it('applies the whiteout, the opaque directory, the hardlink and the symlink', async () => {
    const bundle = path.join(tmp, 'bundle');
    execFileSync('umoci', ['unpack', '--image', `${first}:latest`, bundle]);
    const tree = await expectedTree(path.join(bundle, 'rootfs'));
    const byPath = new Map(tree.map((e) => [e.path, e]));
    expect(byPath.has('/usr/share/demo/to-be-deleted.txt')).toBe(false);
    expect(tree.filter((e) => e.path.startsWith('/usr/share/demo/replaced-dir/')).map((e) => e.path)).toEqual(['/usr/share/demo/replaced-dir/z.txt']);
    expect(byPath.get('/bin/hello.sh')?.hardlinks).toEqual(['/bin/hello.sh', '/bin/hi.sh']);
    expect(byPath.get('/etc/motd')).toMatchObject({ type: 'symlink', target: '../usr/share/demo/motd.txt' });
    expect(readFileSync(path.join(bundle, 'rootfs/etc/os-release'), 'utf8')).toContain('VERSION_ID="2"');
    expect(byPath.get('/home/demo')).toMatchObject({ uid: 1000, gid: 100, mode: 0o750 });
    expect(byPath.get('/tmp')?.mode).toBe(0o1777);
    expect(tree.every((e) => e.path === '/' || e.mtime === 1_700_000_000)).toBe(true);
  });
});
