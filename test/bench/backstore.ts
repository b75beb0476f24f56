// Backstore benchmark: cold 4 KiB random reads (library and NBD), warm NBD throughput, and cold start through a 100 Mbit/s proxy against skopeo copy + umoci unpack.
import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { open } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { openLazyImage, type OpenLazyImageOptions } from '../../src/backstore/open-image.js';
import { openExt4 } from '../../src/ext4/reader/ext4-volume.js';
import { INDEX_ARTIFACT_TYPE, EMPTY_CONFIG, decodeIndexArtifact } from '../../src/format/artifact/index-artifact.js';
import { OCI_MANIFEST } from '../../src/format/oci/media-types.js';
import { findSpan, loadWindow, spanCompressedRange, spanUncompressedRange } from '../../src/format/seek-index.js';
import { parseReference } from '../../src/format/oci/reference.js';
import { serveNbd } from '../../src/nbd/serve-nbd.js';
import { readBlob } from '../../src/registry/image-store.js';
import { selectEngine } from '../../src/seek/engine-select.js';
import { OciLayoutStore } from '../../src/registry/oci-layout-store.js';
import { openImageStore } from '../../src/registry/open-store.js';
import { pushToRegistry } from '../helpers/images.js';
import { indexedDebian } from '../helpers/indexed-debian.js';
import { NbdTestClient } from '../helpers/nbd-client.js';
import { SeededRandom } from '../helpers/random.js';
import { startRegistry } from '../helpers/registry-server.js';
import { writeBenchmarkSection } from './benchmarks-doc.js';

const exec = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const CLI = path.join(ROOT, 'dist/src/cli/main.js');
const READS = Number(process.env.BACKSTORE_BENCH_READS ?? 300);
const RATE_BYTES_PER_S = 100e6 / 8;

const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;
const f2 = (x: number) => x.toFixed(2);
const ms = (t: bigint) => Number(process.hrtime.bigint() - t) / 1e6;

const fx = await indexedDebian();
const work = mkdtempSync(path.join(tmpdir(), 'turbo-backstore-bench-'));
const layout = () => OciLayoutStore.open(fx.layoutDir, { create: false });
async function localDevice(o: OpenLazyImageOptions) {
  return openLazyImage(await layout(), 'latest', { closeStore: true, ...o });
}

// --- cold 4 KiB random reads: every read needs a span that is not decompressed yet (memory cache off, no readahead),
// compressed bytes local (OCI layout on disk, page cache warm).
const cold: OpenLazyImageOptions = { cacheDir: null, memoryCacheBytes: 0, readaheadSpans: 0 };
const lib = await localDevice(cold);
const rng = new SeededRandom('backstore-bench');
const tarPieces = lib.map.pieces.filter((p) => p.source.kind === 'tar' && p.sectors >= 8);
const offsets: number[] = [];
for (let i = 0; i < READS + 50; i++) {
  const p = tarPieces[rng.int(tarPieces.length)]!;
  offsets.push(Math.floor((p.sector * 512 + rng.int(p.sectors * 512 - 4096)) / 4096) * 4096);
}
async function latencies(read: (o: number) => Promise<unknown>): Promise<number[]> {
  for (const o of offsets.slice(0, 50)) await read(o);
  const out: number[] = [];
  for (const o of offsets.slice(50)) {
    const t = process.hrtime.bigint();
    await read(o);
    out.push(ms(t));
  }
  return out;
}
// reference in the same process: the physical limit of such a read (one pread of the span's compressed bytes from an
// open file + inflate from the point up to the read's end; no sha256, no queueing, no cache).
const refEngine = selectEngine('native');
const blobFiles = await Promise.all(lib.info.layers.map((l) => open(path.join(fx.layoutDir, 'blobs', ...l.digest.split(':')), 'r'))); // OCI image layout 1.1: blobs/<alg>/<hex>
const refRead = async (o: number) => {
  for (const piece of lib.map.read(o, 4096)) {
    if (piece.kind !== 'tar') continue;
    const index = lib.layers[piece.layer]!.index;
    for (let i = findSpan(index, piece.tarOffset); i < index.points.length && index.points[i]!.uncompressedOffset < piece.tarOffset + piece.length; i++) {
      const c = spanCompressedRange(index, i);
      const u = spanUncompressedRange(index, i);
      const input = Buffer.allocUnsafe(c.end - c.start);
      await blobFiles[piece.layer]!.read(input, 0, input.length, c.start);
      const point = index.points[i]!;
      await refEngine.inflateFrom({ input, firstBitInByte: point.compressedBitOffset & 7, window: loadWindow(point), skipBytes: 0, outBytes: Math.min(u.end, piece.tarOffset + piece.length) - u.start });
    }
  }
};
// library and reference reads of the same offsets interleaved (order alternating), so both see the same machine load
const libLat: number[] = [];
const refLat: number[] = [];
{
  const timed = async (read: (o: number) => Promise<unknown>, o: number, into: number[]) => {
    const t = process.hrtime.bigint();
    await read(o);
    into.push(ms(t));
  };
  for (const o of offsets.slice(0, 50)) {
    await lib.read(o, 4096);
    await refRead(o);
  }
  for (const [k, o] of offsets.slice(50).entries()) {
    const libFirst = k % 2 === 0;
    await timed(libFirst ? (x) => lib.read(x, 4096) : refRead, o, libFirst ? libLat : refLat);
    await timed(libFirst ? refRead : (x) => lib.read(x, 4096), o, libFirst ? refLat : libLat);
  }
}
for (const f of blobFiles) await f.close();
const nbdDev = await localDevice(cold);
const sock = path.join(work, 'cold.sock');
const svc = await serveNbd(nbdDev, { socketPath: sock });
const client = await NbdTestClient.open({ socketPath: sock });
await client.info('', true);
const nbdLat = await latencies((o) => client.read(o, 4096));
await client.disconnect();
await svc.close();
await nbdDev.close();
await lib.close();

// --- warm NBD throughput: nbdcopy of the whole device twice, the second pass from the span memory cache.
const warmDev = await localDevice({ cacheDir: null, memoryCacheBytes: 1024 * 1024 * 1024 });
const warmSock = path.join(work, 'warm.sock');
const warmSvc = await serveNbd(warmDev, { socketPath: warmSock });
const copy = async () => {
  const t = process.hrtime.bigint();
  await exec('nbdcopy', [`nbd+unix:///?socket=${warmSock}`, 'null:']);
  return ms(t) / 1000;
};
await copy();
const warmSec = await copy();
const warmMBs = warmDev.sizeBytes / warmSec / 1e6;
await warmSvc.close();
await warmDev.close();

// --- cold start through a 100 Mbit/s loopback proxy.
/** A TCP proxy whose downstream bytes share one token bucket of RATE_BYTES_PER_S. */
async function throttledProxy(upstreamPort: number): Promise<{ port: number; bytes: () => number; reset: () => void; close: () => Promise<void> }> {
  let next = 0;
  let bytes = 0;
  const socks = new Set<net.Socket>();
  const server = net.createServer((down) => {
    const up = net.connect(upstreamPort, '127.0.0.1');
    socks.add(down).add(up);
    down.pipe(up);
    up.on('data', (chunk: Buffer) => {
      bytes += chunk.length;
      const now = performance.now();
      next = Math.max(now, next) + (chunk.length / RATE_BYTES_PER_S) * 1000;
      up.pause();
      setTimeout(() => {
        down.write(chunk);
        up.resume();
      }, Math.max(0, next - now));
    });
    const end = () => {
      up.destroy();
      down.destroy();
    };
    up.on('end', () => setTimeout(() => down.end(), Math.max(0, next - performance.now()) + 1));
    up.on('error', end);
    down.on('error', end);
    down.on('close', () => up.destroy());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as net.AddressInfo).port,
    bytes: () => bytes,
    reset: () => void (bytes = 0),
    close: async () => {
      for (const s of socks) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

let catMs = 0, catBytes = 0, lazyMs = 0, lazyBytes = 0, dataBytes = 0, pullMs = 0, pullBytes = 0;
let files: string[] = [];
let proxy: Awaited<ReturnType<typeof throttledProxy>> | undefined;
const imageBytes = fx.debian.layers.reduce((n, l) => n + l.size, 0);
const registry = await startRegistry();
try {
const pushed = await pushToRegistry(fx.debian, registry.url, 'debian');
// attach the fixture's index (built once from the layout) to the pushed image
{
  const src = await layout();
  const dst = await openImageStore(parseReference(pushed), { plainHttp: true });
  const [d] = await src.listReferrers(fx.debian.manifestDigest, INDEX_ARTIFACT_TYPE);
  const bytes = (await src.getManifest(d!.digest)).bytes;
  const a = decodeIndexArtifact(bytes);
  await dst.putBlob(EMPTY_CONFIG.digest, 2, Buffer.from('{}'));
  for (const l of a.layers) for (const b of [l.seekIndex, l.ext4Delta, l.entryTable]) await dst.putBlob(b.digest, b.size, await readBlob(src, b.digest, b.size));
  await dst.attachReferrer(bytes, OCI_MANIFEST);
  await src.close();
  await dst.close();
}
proxy = await throttledProxy(Number(registry.host.split(':')[1]));
const viaProxy = `127.0.0.1:${proxy!.port}/debian:latest`;

/** The files `bash -c true` opens (strace in a chroot of the unpacked image when possible; the kernel also maps the ELF interpreter). */
async function bashFiles(): Promise<string[]> {
  const base = ['/usr/bin/bash', '/lib64/ld-linux-x86-64.so.2', '/etc/ld.so.cache', '/lib/x86_64-linux-gnu/libtinfo.so.6', '/lib/x86_64-linux-gnu/libc.so.6'];
  try {
    const root = await fx.debian.unpackedRoot();
    const trace = path.join(work, 'strace.txt');
    await exec('strace', ['-f', '-e', 'trace=openat', '-o', trace, 'chroot', root, '/bin/bash', '-c', 'true']);
    const opened = readFileSync(trace, 'utf8').split('\n').filter((l) => !l.includes('ENOENT') && l.includes('openat(')).map((l) => /"([^"]+)"/.exec(l)?.[1]).filter((p): p is string => !!p && p.startsWith('/') && !p.startsWith(root) && existsSync(path.join(root, p)));
    return [...new Set([...base, ...opened])].filter((p) => statSync(path.join(root, p)).isFile());
  } catch {
    return base;
  }
}
files = await bashFiles();

// lazy: `turbo-index cat /etc/os-release` (new process, cold span cache) ...
proxy!.reset();
const spans = path.join(work, 'spans');
let t = process.hrtime.bigint();
await exec(process.execPath, [CLI, 'cat', viaProxy, '/etc/os-release', '--cache-dir', spans]);
catMs = ms(t);
catBytes = proxy!.bytes();
// ... and in one process: open + /etc/os-release + the files bash -c true opens (cold caches).
proxy!.reset();
t = process.hrtime.bigint();
const store = await openImageStore(parseReference(viaProxy), { plainHttp: true });
const dev = await openLazyImage(store, 'latest', { cacheDir: null, closeStore: true });
const vol = await openExt4(dev);
await vol.readFile('/etc/os-release');
for (const f of files) await vol.readFile(f);
lazyMs = ms(t);
lazyBytes = proxy!.bytes();
dataBytes = dev.metrics.bytesFetched;
await vol.close();

// full pull: skopeo copy + umoci unpack through the same proxy
proxy!.reset();
t = process.hrtime.bigint();
await exec('skopeo', ['--insecure-policy', 'copy', '--quiet', '--src-tls-verify=false', `docker://${viaProxy}`, `oci:${path.join(work, 'pulled')}:latest`]);
await exec('umoci', ['unpack', '--image', `${path.join(work, 'pulled')}:latest`, path.join(work, 'bundle')]);
pullMs = ms(t);
pullBytes = proxy!.bytes();
} finally {
  await proxy?.close();
  await registry.stop();
}

const load = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
const mb = (b: number) => (b / 1e6).toFixed(1);
const section = `\`npm run bench -- backstore\` (test/bench/backstore.ts), run ${new Date().toISOString().slice(0, 16)}Z on the Debian fixture image
(4 layers, ${mb(imageBytes)} MB compressed), 1 MiB spans, native inflate. 1-minute load average at the end: ${load} (2 shared cores).

| cold 4 KiB random reads (${READS} reads in tar-mapped blocks after 50 warm-up; span memory cache off, no readahead; compressed bytes local) | p50 ms | p99 ms |
|---|---|---|
| library \`LazyBlockDevice.read\` (fetch the span from the layout file + sha256 of all of it + inflate from its point up to the read's end) | ${f2(pct(libLat, 50))} | ${f2(pct(libLat, 99))} |
| through NBD (our server + node test client, same process) | ${f2(pct(nbdLat, 50))} | ${f2(pct(nbdLat, 99))} |
| reference: one pread of the span from an open file + inflate up to the read's end (no sha256, no queue) | ${f2(pct(refLat, 50))} | ${f2(pct(refLat, 99))} |
| library / reference (same offsets, interleaved) | ${f2(pct(libLat, 50) / pct(refLat, 50))} | ${f2(pct(libLat, 99) / pct(refLat, 99))} |

| warm NBD read | s | MB/s |
|---|---|---|
| \`nbdcopy <uri> null:\` of the whole ${mb(warmDev.sizeBytes)} MB device, second pass (spans in memory) | ${f2(warmSec)} | ${warmMBs.toFixed(0)} |

| cold start through a 100 Mbit/s loopback proxy (distribution 2.8 behind it) | s | × full pull | MB through the proxy | % of image |
|---|---|---|---|---|
| \`skopeo copy\` + \`umoci unpack\` of the whole image (reference) | ${f2(pullMs / 1000)} | 1.00 | ${mb(pullBytes)} | ${((pullBytes / imageBytes) * 100).toFixed(0)} |
| \`turbo-index cat /etc/os-release\` (new process, cold span cache) | ${f2(catMs / 1000)} | ${f2(catMs / pullMs)} | ${mb(catBytes)} | ${((catBytes / imageBytes) * 100).toFixed(1)} |
| library: open + \`/etc/os-release\` + the ${files.length} files \`bash -c true\` opens | ${f2(lazyMs / 1000)} | ${f2(lazyMs / pullMs)} | ${mb(lazyBytes)} (layer data ${mb(dataBytes)}) | ${((lazyBytes / imageBytes) * 100).toFixed(1)} |
`;
writeBenchmarkSection('backstore', section);
console.log(section);
rmSync(work, { recursive: true, force: true });

