// Benchmark: tar scanner throughput on a 200 MiB layer and a 100k-small-file layer, against tar-stream in the same run;
// plus applying the 100k-file layer to the tree model.
import { performance } from 'node:perf_hooks';
import { Readable } from 'node:stream';
import tarStream from 'tar-stream';
import { TarBuilder } from '../../src/format/tar/tar-builder.js';
import { scanTar, scanTarBatches } from '../../indexer/tar/scan-tar.js';
import { applyLayer } from '../../indexer/layer/apply-layer.js';
import { FsTree, linkCounts } from '../../indexer/tree/tree-model.js';
import { SeededRandom } from '../helpers/random.js';

const CHUNK_BYTES = 1024 * 1024;

/** A tar of `count` files with sizes from `size()`; data bytes are a repeated pattern (content does not matter). */
function buildTar(count: number, size: (i: number) => number): Buffer {
  const b = new TarBuilder();
  const pattern = Buffer.alloc(8 * 1024 * 1024, 0x61);
  for (let i = 0; i < count; i++) {
    const n = size(i);
    b.entry({ name: `dir${i % 100}/file-${i}.bin`, mode: 0o644, mtime: 1_700_000_000, size: n });
    for (let off = 0; off < n; off += pattern.length) b.raw(pattern.subarray(0, Math.min(pattern.length, n - off)));
    const pad = (512 - (n % 512)) % 512;
    if (pad) b.raw(Buffer.alloc(pad));
  }
  return b.end().toBuffer();
}

function chunks(tar: Buffer): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < tar.length; i += CHUNK_BYTES) out.push(tar.subarray(i, i + CHUNK_BYTES));
  return out;
}

async function ours(parts: Buffer[]): Promise<number> {
  let n = 0;
  for await (const _ of scanTar(parts)) n++;
  return n;
}

async function oursBatched(parts: Buffer[]): Promise<number> {
  let n = 0;
  for await (const batch of scanTarBatches(parts)) n += batch.length;
  return n;
}

function theirs(parts: Buffer[]): Promise<number> {
  return new Promise((resolve, reject) => {
    let n = 0;
    const ex = tarStream.extract();
    ex.on('entry', (_h, stream, next) => {
      n++;
      stream.on('end', next);
      stream.resume();
    });
    ex.on('finish', () => resolve(n));
    ex.on('error', reject);
    Readable.from(parts).pipe(ex);
  });
}

async function best(fn: () => Promise<number>, runs: number): Promise<{ ms: number; entries: number }> {
  let ms = Infinity;
  let entries = 0;
  for (let i = 0; i < runs; i++) {
    const t0 = performance.now();
    entries = await fn();
    ms = Math.min(ms, performance.now() - t0);
  }
  return { ms, entries };
}

const rng = new SeededRandom('tar-scan-bench');
const workloads: [string, Buffer][] = [
  ['200 MiB, 2000 files (~100 KiB avg)', buildTar(2000, () => rng.int(200 * 1024))],
  ['100k files of 0-2 KiB', buildTar(100_000, () => rng.int(2048))],
];
console.log('| workload | tar MiB | entries | scanTarBatches ms | GB/s | scanTar (per entry) ms | GB/s | tar-stream ms | GB/s | batches / tar-stream |');
console.log('|---|---|---|---|---|---|---|---|---|---|');
for (const [name, tar] of workloads) {
  const parts = chunks(tar);
  const a = await best(() => oursBatched(parts), 5);
  const e = await best(() => ours(parts), 5);
  const b = await best(() => theirs(parts), 2);
  if (a.entries !== b.entries || e.entries !== b.entries) throw new Error(`entry counts differ: ${a.entries}/${e.entries} vs ${b.entries}`);
  const gbs = (ms: number): string => (tar.length / 1e9 / (ms / 1000)).toFixed(2);
  console.log(
    `| ${name} | ${(tar.length / 2 ** 20).toFixed(0)} | ${a.entries} | ${a.ms.toFixed(1)} | ${gbs(a.ms)} | ${e.ms.toFixed(1)} | ${gbs(e.ms)} | ${b.ms.toFixed(1)} | ${gbs(b.ms)} | ${(a.ms / b.ms).toFixed(3)} |`,
  );
}

{
  const parts = chunks(workloads[1]![1]);
  const scan = await best(() => oursBatched(parts), 3);
  const apply = await best(async () => {
    const tree = new FsTree();
    await applyLayer(tree, scanTarBatches(parts), 0);
    return linkCounts(tree).size;
  }, 3);
  console.log('');
  console.log('| 100k-file layer | ms | µs per entry |');
  console.log('|---|---|---|');
  console.log(`| scan only (scanTarBatches) | ${scan.ms.toFixed(1)} | ${((scan.ms * 1000) / 100_000).toFixed(2)} |`);
  console.log(`| scan + applyLayer + linkCounts (${apply.entries} nodes) | ${apply.ms.toFixed(1)} | ${((apply.ms * 1000) / 100_000).toFixed(2)} |`);
}
