// `npm run bench -- build`: whole-pipeline indexing speed and artifact size, against `gzip -dc` in the same run.
//   A. one >= 200 MB gzip layer from a local file: everything (read, sha256, seek points, gunzip + tar scan, entry table, ext4 delta).
//   B. the Debian fixture image from a loopback distribution registry: build + publish wall time vs the sum of per-layer `gzip -dc`.
import { execFileSync } from 'node:child_process';
import { readFileSync, statSync } from 'node:fs';
import { loadavg } from 'node:os';
import path from 'node:path';

import { buildSeekIndex } from '../../indexer/seek/seek-index-builder.js';
import { Ext4ChainWriter } from '../../indexer/ext4/chain-writer.js';
import { applyLayer } from '../../indexer/layer/apply-layer.js';
import { buildIndex } from '../../indexer/pipeline/build-index.js';
import { indexLayerStream } from '../../indexer/pipeline/layer-stream-index.js';
import { publishIndex } from '../../indexer/pipeline/publish-index.js';
import { resolveImages } from '../../indexer/pipeline/resolve-image.js';
import { scanTarBatches } from '../../indexer/tar/scan-tar.js';
import { FsTree } from '../../indexer/tree/tree-model.js';
import { DEFAULT_EXT4_DEVICE_BYTES, DEFAULT_SPAN_BYTES } from '../../src/defaults.js';
import { encodeExt4Delta } from '../../src/format/ext4/delta-codec.js';
import { fileChunks } from '../../src/io/file-source.js';
import { RegistryClient } from '../../src/registry/registry-client.js';
import { nativeUnavailableReason, selectEngine } from '../../src/seek/engine-select.js';
import { usrLayer } from '../helpers/gzip-fixture-set.js';
import { blobPath, debianImage, pushToRegistry } from '../helpers/images.js';
import { startRegistry } from '../helpers/registry-server.js';
import { createGunzip } from 'node:zlib';
import { createReadStream } from 'node:fs';
import { createHash } from 'node:crypto';
import { BENCHMARKS_DOC, writeBenchmarkSection } from './benchmarks-doc.js';

const ROUNDS = Number(process.env.BUILD_BENCH_ROUNDS ?? 3);
const ROOT = path.resolve(import.meta.dirname, '../..');
const engine = selectEngine('auto');

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const f1 = (x: number): string => x.toFixed(1);
const f2 = (x: number): string => x.toFixed(2);
const verdict = (ok: boolean): string => (ok ? 'met' : '**missed**');

/** CPU seconds (user + system) of bash's children, from its `times` builtin (second line). */
function childCpuSeconds(timesOutput: string): number {
  const line = timesOutput.trim().split('\n')[1] ?? '';
  return [...line.matchAll(/(\d+)m([\d.]+)s/g)].reduce((sum, m) => sum + Number(m[1]) * 60 + Number(m[2]), 0);
}

/** Wall seconds of `gzip -dc file > /dev/null`; its CPU seconds are pushed to `cpu`. */
function gzipDc(file: string, cpu?: number[]): number {
  const t = performance.now();
  const out = execFileSync('bash', ['-c', `gzip -dc '${file}' > /dev/null; times`], { encoding: 'utf8' });
  cpu?.push(childCpuSeconds(out));
  return (performance.now() - t) / 1000;
}

/** Wall and CPU seconds (all threads of this process) of `fn`. */
async function timed<T>(fn: () => Promise<T>): Promise<{ s: number; cpu: number; value: T }> {
  const t = performance.now();
  const c = process.cpuUsage();
  const value = await fn();
  const used = process.cpuUsage(c);
  return { s: (performance.now() - t) / 1000, cpu: (used.user + used.system) / 1e6, value };
}

/** Everything for one layer file: the pipeline's layer stage plus its ext4 delta as layer 0. */
async function wholeLayer(gz: string, digest: string, size: number): Promise<number> {
  const r = await indexLayerStream(fileChunks(gz), { digest, size, spanBytes: DEFAULT_SPAN_BYTES, engine });
  const tree = new FsTree();
  await applyLayer(tree, r.entryTable.entries, 0);
  const delta = encodeExt4Delta(new Ext4ChainWriter({ deviceBytes: DEFAULT_EXT4_DEVICE_BYTES }).writeLayer(tree.root, 0));
  return r.seekIndexBlob.length + r.entryTableBlob.length + delta.length;
}

/** node:zlib gunzip + sha256 + tar scan only (reference for the scan half, which now runs on the seek builder's output). */
async function gunzipScan(gz: string): Promise<void> {
  const hash = createHash('sha256');
  async function* out(): AsyncGenerator<Buffer> {
    for await (const c of createReadStream(gz, { highWaterMark: 1 << 20 }).pipe(createGunzip({ chunkSize: 256 * 1024 })) as AsyncIterable<Buffer>) {
      hash.update(c);
      yield c;
    }
  }
  for await (const batch of scanTarBatches(out())) void batch;
}

console.log(`engine: ${engine.name}${nativeUnavailableReason() ? ` (native unavailable: ${nativeUnavailableReason()})` : ''}`);
const loadBefore = loadavg()[0]!;

// A. one big layer.
const { gz, tar } = await usrLayer();
const gzBytes = statSync(gz).size;
const tarBytes = statSync(tar).size;
const gzDigest = `sha256:${createHash('sha256').update(readFileSync(gz)).digest('hex')}`;
const a = { gzip: [] as number[], whole: [] as number[], seek: [] as number[], scan: [] as number[], gzipCpu: [] as number[], wholeCpu: [] as number[] };
let artifactA = 0;
for (let round = 0; round < ROUNDS; round++) {
  a.gzip.push(gzipDc(gz, a.gzipCpu));
  const w = await timed(() => wholeLayer(gz, gzDigest, gzBytes));
  a.whole.push(w.s);
  a.wholeCpu.push(w.cpu);
  artifactA = w.value;
  a.seek.push((await timed(() => buildSeekIndex(fileChunks(gz), { spanBytes: DEFAULT_SPAN_BYTES, engine }))).s);
  a.scan.push((await timed(() => gunzipScan(gz))).s);
  console.log(`A round ${round}: gzip -dc ${f2(a.gzip[round]!)} s, whole ${f2(w.s)} s, seek only ${f2(a.seek[round]!)} s, gunzip+scan only ${f2(a.scan[round]!)} s`);
}
const ratiosA = a.whole.map((s, i) => a.gzip[i]! / s);
const cpuRatiosA = a.wholeCpu.map((s, i) => a.gzipCpu[i]! / s);
const mbps = (s: number): number => tarBytes / s / 1e6;

// B. the Debian image from a loopback registry.
const debian = await debianImage();
const registry = await startRegistry();
const b = { gzipSum: [] as number[], build: [] as number[], publish: [] as number[] };
let artifactB = 0;
let imageB = 0;
let layersB = 0;
try {
  const gzFiles = debian.layers.map((l) => blobPath(debian.layoutDir, l.digest));
  for (let round = 0; round < ROUNDS; round++) {
    const repoName = `bench/debian-${round}`;
    await pushToRegistry(debian, registry.url, repoName);
    b.gzipSum.push(gzFiles.reduce((s, f) => s + gzipDc(f), 0));
    const client = new RegistryClient({});
    try {
      const repo = client.repository(registry.host, repoName);
      const t = performance.now();
      const [image] = await resolveImages(repo, 'latest');
      const built = await buildIndex(repo, image!, { spanBytes: DEFAULT_SPAN_BYTES, engine });
      const tBuilt = performance.now();
      await publishIndex(repo, built);
      const end = performance.now();
      b.build.push((end - t) / 1000);
      b.publish.push((end - tBuilt) / 1000);
      artifactB = [...built.blobs.values()].reduce((n, x) => n + x.length, 0) + built.manifestBytes.length;
      imageB = built.layers.reduce((n, l) => n + l.size, 0);
      layersB = built.layers.length;
    } finally {
      await client.close();
    }
    console.log(`B round ${round}: sum gzip -dc ${f2(b.gzipSum[round]!)} s, build+publish ${f2(b.build[round]!)} s`);
  }
} finally {
  await registry.stop();
}
const ratiosB = b.build.map((s, i) => s / b.gzipSum[i]!);
const sizePct = (100 * artifactB) / imageB;
const peakRssMiB = process.resourceUsage().maxRSS / 1024;
const loadAfter = loadavg()[0]!;

const section = `## build

\`npm run bench -- build\` (test/bench/build.ts), run ${new Date().toISOString().slice(0, 16)}Z, ${ROUNDS} interleaved rounds (median
[min, max]; ratios per round, then the median). Engine: ${engine.name}. 1-minute load average ${f1(loadBefore)} before, ${f1(loadAfter)} after
(2 cores shared with other jobs: absolute numbers are noisy, ratios come from the same rounds).

**A. One layer from a local file**: the cached \`/usr\` fixture, ${gzBytes} B gzip, ${tarBytes} B tar. "Everything" = one read of the
file → sha256 + seek points + zstd windows (seek builder, native inflate on a worker), whose inflated output feeds the
diffID + tar scan → entry table (one inflate per layer), then the ext4 delta of the layer; artifact parts ${artifactA} B (${f2((100 * artifactA) / gzBytes)} % of the layer).

| run | wall s | MB/s of tar | × \`gzip -dc\` throughput |
|---|---|---|---|
| \`gzip -dc\` > /dev/null | ${f2(median(a.gzip))} [${f2(Math.min(...a.gzip))}, ${f2(Math.max(...a.gzip))}] | ${f1(mbps(median(a.gzip)))} | 1.00 |
| turbo-index, everything | ${f2(median(a.whole))} [${f2(Math.min(...a.whole))}, ${f2(Math.max(...a.whole))}] | ${f1(mbps(median(a.whole)))} | ${f2(median(ratiosA))} |
| CPU seconds: \`gzip -dc\` ${f2(median(a.gzipCpu))}, turbo-index everything (all threads) ${f2(median(a.wholeCpu))} | | | CPU ratio ${f2(median(cpuRatiosA))} |
| seek index only (for reference) | ${f2(median(a.seek))} | ${f1(mbps(median(a.seek)))} | ${f2(median(a.seek.map((s, i) => a.gzip[i]! / s)))} |
| node:zlib gunzip + sha256 + tar scan only (for reference) | ${f2(median(a.scan))} | ${f1(mbps(median(a.scan)))} | ${f2(median(a.scan.map((s, i) => a.gzip[i]! / s)))} |

One inflate: the seek builder hands its inflated output (onUncompressed) to the diffID hash and the tar scan on the main
thread while the native worker inflates the next chunk; the "gunzip + scan only" row is kept as a reference for that half.

**B. Debian fixture image (${layersB} layers, ${imageB} B) from a loopback distribution 2.8**: resolve, stream every layer once
(in parallel up to the core count), ext4 deltas in order, upload all blobs, push the manifest (tag fallback).

| run | wall s |
|---|---|
| sum of per-layer \`gzip -dc\` | ${f2(median(b.gzipSum))} [${f2(Math.min(...b.gzipSum))}, ${f2(Math.max(...b.gzipSum))}] |
| turbo-index build + publish | ${f2(median(b.build))} [${f2(Math.min(...b.build))}, ${f2(Math.max(...b.build))}] (publish alone ${f2(median(b.publish))}) |

| artifact (span 1 MiB) | bytes | % of compressed image |
|---|---|---|
| manifest + seek indexes + ext4 deltas + entry tables | ${artifactB} | ${f2(sizePct)} |

Peak RSS of the benchmark process (both parts): ${f1(peakRssMiB)} MiB.

| target (issue 5) | measured | verdict |
|---|---|---|
| one ≥ 200 MB layer, everything, ≥ 2.0× \`gzip -dc\` throughput | ${f2(median(ratiosA))}× wall (${f2(median(cpuRatiosA))}× CPU) | ${verdict(median(ratiosA) >= 2)} |
| Debian image wall ≤ 0.65× sum of per-layer \`gzip -dc\` | ${f2(median(ratiosB))}× | ${verdict(median(ratiosB) <= 0.65)} |
| artifact ≤ 3.5 % of the compressed image | ${f2(sizePct)} % | ${verdict(sizePct <= 3.5)} |
`;

console.log(`\n${section}`);
writeBenchmarkSection('build', section);
console.log(`wrote the build section of ${path.relative(ROOT, BENCHMARKS_DOC)}`);
