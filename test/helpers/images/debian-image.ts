// The 4-layer Debian bookworm fixture image (OCI layout made with umoci), its prefix tags and unpacked roots; cached.
import { appendFileSync, createReadStream, createWriteStream, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { createGunzip } from 'node:zlib';
import { cachedFixture } from '../fixture-cache.js';
import { withFixtureLock } from './fixture-lock.js';
import { DEBOOTSTRAP_CLAMP_EPOCH, FIXTURE_EPOCH, FIXTURE_EPOCH_RFC3339, layer2Entries, layer4Entries } from './debian-layers.js';
import { assertCanBuildDebian, debootstrapMinbase } from './debian-rootfs.js';
import { run } from './run.js';
import { writeTarFile } from './tar-writer.js';

/** Bump when the image recipe (layers, tags, config) changes. */
const IMAGE_VERSION = 3;

/** Number of layers of the Debian fixture image. */
export const DEBIAN_LAYER_COUNT = 4;

/** One layer of a fixture image. */
export interface FixtureLayer {
  digest: string;
  size: number;
  mediaType: string;
  /** sha256 of the uncompressed tar (the config's diff_id). */
  diffId: string;
  /** A gunzipped copy of the layer in the cache (read-only by convention). */
  uncompressedTarPath: string;
}

/** The Debian fixture image: an OCI layout with tags `latest` and `prefix-1` … `prefix-4`. */
export interface DebianImage {
  layoutDir: string;
  /** `oci:<layoutDir>:latest` (skopeo/umoci syntax). */
  ref: string;
  manifestDigest: string;
  layers: FixtureLayer[];
  /** `oci:<layoutDir>:prefix-<k>`: the image truncated to its first k layers (1 ≤ k ≤ 4). */
  prefixRef(k: number): string;
  /**
   * rootfs directory of `umoci unpack` of the whole image (cached, ~140 MB), or of its first `prefixLayers` layers
   * (unpacked once per process, ~5 s, into a temp dir removed at exit, or swept by a later call once its process is gone).
   * Read-only by convention.
   */
  unpackedRoot(prefixLayers?: number): Promise<string>;
}

/** umoci history/config flags that pin dates to FIXTURE_EPOCH. */
function historyFlags(createdBy: string): string[] {
  return ['--history.created', FIXTURE_EPOCH_RFC3339, '--history.created_by', createdBy, '--history.author', 'turbo-oci fixtures'];
}

/** Applies layer 3's changes to an unpacked bundle: per-file deletions, a recreated directory, an appended file. */
function applyLayer3Changes(rootfs: string): void {
  const p = (rel: string) => path.join(rootfs, rel);
  rmSync(p('opt/turbo/delete-me.txt'));
  rmSync(p('usr/bin/apt-cdrom'));
  rmSync(p('opt/turbo/opaque-dir'), { recursive: true });
  mkdirSync(p('opt/turbo/opaque-dir'), { mode: 0o755 });
  writeFileSync(p('opt/turbo/opaque-dir/new.txt'), 'recreated by layer 3\n', { mode: 0o644 });
  appendFileSync(p('opt/turbo/hello.txt'), 'appended by layer 3\n');
  const t = FIXTURE_EPOCH + 2000;
  // Every directory whose content changed gets a new mtime, so umoci writes it into the layer (and unpack restores it).
  for (const rel of ['opt/turbo/opaque-dir/new.txt', 'opt/turbo/opaque-dir', 'opt/turbo/hello.txt', 'opt/turbo', 'usr/bin']) utimesSync(p(rel), t, t);
}

/** Reads the manifest of `tag` from an OCI layout. */
export function readLayoutManifest(layoutDir: string, tag: string): { digest: string; manifest: { layers: { digest: string; size: number; mediaType: string }[]; config: { digest: string } } } {
  const index = JSON.parse(readFileSync(path.join(layoutDir, 'index.json'), 'utf8')) as { manifests: { digest: string; annotations?: Record<string, string> }[] };
  const desc = index.manifests.find((m) => m.annotations?.['org.opencontainers.image.ref.name'] === tag);
  if (!desc) throw new Error(`tag ${tag} not in ${layoutDir}/index.json`);
  return { digest: desc.digest, manifest: JSON.parse(readFileSync(blobPath(layoutDir, desc.digest), 'utf8')) };
}

/** Path of a blob in an OCI layout. */
export function blobPath(layoutDir: string, digest: string): string {
  const [alg, hex] = digest.split(':');
  return path.join(layoutDir, 'blobs', alg!, hex!);
}

async function buildImage(out: string): Promise<void> {
  const layout = path.join(out, 'oci');
  const bundle = path.join(out, 'bundle');
  const work = `${layout}:work`;
  const env = { ...process.env, SOURCE_DATE_EPOCH: String(FIXTURE_EPOCH) };
  const umoci = (...args: string[]) => run('umoci', args, { env });
  await umoci('init', '--layout', layout);
  await umoci('new', '--image', work);
  await umoci('config', '--image', work, '--no-history', '--created', FIXTURE_EPOCH_RFC3339, '--os', 'linux', '--architecture', 'amd64');
  // Layer 1: the debootstrap minbase rootfs, diffed by umoci repack.
  await umoci('unpack', '--image', work, bundle);
  rmSync(path.join(bundle, 'rootfs'), { recursive: true });
  await debootstrapMinbase(path.join(bundle, 'rootfs'));
  await run('sh', ['-c', `find . -newermt @${DEBOOTSTRAP_CLAMP_EPOCH} -print0 | xargs -0r touch -h -d @${DEBOOTSTRAP_CLAMP_EPOCH}`], { cwd: path.join(bundle, 'rootfs') });
  const optMtime = Math.floor(statSync(path.join(bundle, 'rootfs', 'opt')).mtimeMs / 1000);
  await umoci('repack', ...historyFlags('debootstrap --variant=minbase bookworm'), '--refresh-bundle', '--image', work, bundle);
  await umoci('tag', '--image', work, 'prefix-1');
  // Layer 2: hand-made, because it hardlinks to a lower-layer file (umoci repack would copy the file instead).
  const layer2 = path.join(out, 'layer-2.tar');
  writeTarFile(layer2, layer2Entries(optMtime));
  await umoci('raw', 'add-layer', ...historyFlags('add /opt/turbo (hand-made tar)'), '--image', work, layer2);
  await umoci('tag', '--image', work, 'prefix-2');
  // Layer 3: per-file whiteouts as umoci writes them (delete, rm -rf + recreate, modify a hardlinked file).
  rmSync(bundle, { recursive: true, force: true });
  await umoci('unpack', '--image', work, bundle);
  applyLayer3Changes(path.join(bundle, 'rootfs'));
  await umoci('repack', ...historyFlags('rm delete-me.txt apt-cdrom; recreate opaque-dir; append hello.txt'), '--image', work, bundle);
  await umoci('tag', '--image', work, 'prefix-3');
  rmSync(bundle, { recursive: true, force: true });
  // Layer 4: an opaque whiteout, which umoci never writes itself.
  const layer4 = path.join(out, 'layer-4.tar');
  writeTarFile(layer4, layer4Entries());
  await umoci('raw', 'add-layer', ...historyFlags('opaque whiteout on /opt/turbo/opaque-target (hand-made tar)'), '--image', work, layer4);
  await umoci('tag', '--image', work, 'prefix-4');
  await umoci('config', '--image', work, '--tag', 'latest', '--no-history', '--created', FIXTURE_EPOCH_RFC3339,
    '--config.cmd', '/bin/bash', '--config.env', 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
    '--os', 'linux', '--architecture', 'amd64');
  await umoci('rm', '--image', work);
  await umoci('gc', '--layout', layout);
  rmSync(layer2);
  rmSync(layer4);
  // Gunzipped copies of every layer, named by digest.
  mkdirSync(path.join(out, 'layers'));
  for (const layer of readLayoutManifest(layout, 'latest').manifest.layers) {
    const hex = layer.digest.split(':')[1]!;
    await pipeline(createReadStream(blobPath(layout, layer.digest)), createGunzip(), createWriteStream(path.join(out, 'layers', `${hex}.tar`)));
  }
}

/** True when process `pid` exists. */
function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes prefix unpacks left by processes that died without their exit hook (vitest kills its workers). */
function sweepStaleUnpacks(): void {
  for (const name of readdirSync(tmpdir())) {
    const pid = name.match(/^turbo-oci-unpack-pid(\d+)-/)?.[1];
    if (pid && !processAlive(Number(pid))) rmSync(path.join(tmpdir(), name), { recursive: true, force: true });
  }
}

let cached: Promise<DebianImage> | undefined;

/**
 * The Debian fixture image, built once per machine (debootstrap ~1 min, then ~15 s of umoci) and cached.
 * Throws an Error whose message starts with 'SKIP:' when not root or debootstrap/umoci/skopeo are missing.
 */
export function debianImage(): Promise<DebianImage> {
  cached ??= loadDebianImage();
  return cached;
}

async function loadDebianImage(): Promise<DebianImage> {
  assertCanBuildDebian();
  const dir = await withFixtureLock('debian-image', () => cachedFixture('debian-image', IMAGE_VERSION, buildImage));
  const layoutDir = path.join(dir, 'oci');
  const { digest, manifest } = readLayoutManifest(layoutDir, 'latest');
  const config = JSON.parse(readFileSync(blobPath(layoutDir, manifest.config.digest), 'utf8')) as { rootfs: { diff_ids: string[] } };
  const layers = manifest.layers.map((l, i) => ({
    digest: l.digest,
    size: l.size,
    mediaType: l.mediaType,
    diffId: config.rootfs.diff_ids[i]!,
    uncompressedTarPath: path.join(dir, 'layers', `${l.digest.split(':')[1]}.tar`),
  }));
  const prefixRef = (k: number) => {
    if (!Number.isInteger(k) || k < 1 || k > layers.length) throw new Error(`prefix must be 1..${layers.length}, got ${k}`);
    return `oci:${layoutDir}:prefix-${k}`;
  };
  const prefixRoots = new Map<number, Promise<string>>();
  const unpackedRoot = async (prefixLayers?: number) => {
    if (prefixLayers === undefined || prefixLayers === layers.length) {
      // Keyed by the manifest digest so a regenerated image never pairs with an old unpack.
      const name = `debian-image-unpacked-latest-${digest.slice(7, 19)}`;
      const out = await withFixtureLock(name, () => cachedFixture(name, IMAGE_VERSION, async (d) => {
        await run('umoci', ['unpack', '--image', `${layoutDir}:latest`, path.join(d, 'bundle')]);
      }));
      return path.join(out, 'bundle', 'rootfs');
    }
    const tag = prefixRef(prefixLayers).split(':').pop()!;
    // Prefix roots (~130 MB each) are unpacked once per process into a temp dir removed at exit, to keep the cache small.
    let root = prefixRoots.get(prefixLayers);
    if (!root) {
      root = (async () => {
        sweepStaleUnpacks();
        const d = mkdtempSync(path.join(tmpdir(), `turbo-oci-unpack-pid${process.pid}-${tag}-`));
        process.once('exit', () => rmSync(d, { recursive: true, force: true }));
        await run('umoci', ['unpack', '--image', `${layoutDir}:${tag}`, path.join(d, 'bundle')]);
        return path.join(d, 'bundle', 'rootfs');
      })();
      prefixRoots.set(prefixLayers, root);
    }
    return root;
  };
  return { layoutDir, ref: `oci:${layoutDir}:latest`, manifestDigest: digest, layers, prefixRef, unpackedRoot };
}

/**
 * Copies `image` (tag latest, digests preserved) to `<registry>/<repo>:<tag>` with skopeo over plain HTTP;
 * `registryUrl` is `host:port` or `http://host:port`. Returns the pushed reference `host:port/repo:tag`.
 */
export async function pushToRegistry(image: Pick<DebianImage, 'ref'>, registryUrl: string, repo: string, tag = 'latest'): Promise<string> {
  const host = registryUrl.replace(/^https?:\/\//, '').replace(/\/+$/, '');
  const dest = `${host}/${repo}:${tag}`;
  await run('skopeo', ['--insecure-policy', 'copy', '--quiet', '--preserve-digests', '--dest-tls-verify=false', image.ref, `docker://${dest}`]);
  return dest;
}
