// `npm run bench -- ext4`: ext4 metadata build (tar scan + layer apply + ext4 delta) for the Debian base layer and
// the 100k-small-file layer, side by side with `mke2fs -d <extracted tree>` on the same content in the same run;
// delta size as a share of the compressed layer; peak memory of the 100k-file build (in a child process).
import { execFileSync } from 'node:child_process';
import { createReadStream, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';

import { Ext4ChainWriter } from '../../indexer/ext4/chain-writer.js';
import { applyLayer } from '../../indexer/layer/apply-layer.js';
import { scanTar } from '../../indexer/tar/scan-tar.js';
import { FsTree } from '../../indexer/tree/tree-model.js';
import { DEFAULT_EXT4_DEVICE_BYTES } from '../../src/defaults.js';
import { encodeExt4Delta } from '../../src/format/ext4/delta-codec.js';
import { debianImage, manySmallFilesLayer } from '../helpers/images.js';
import { BENCHMARKS_DOC, writeBenchmarkSection } from './benchmarks-doc.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const ROUNDS = Number(process.env.EXT4_BENCH_ROUNDS ?? 3);

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** One metadata build: scan + apply + ext4 delta + encode; returns seconds and the encoded delta size. */
async function ours(tarPath: string): Promise<{ s: number; writerS: number; deltaBytes: number }> {
  const t = performance.now();
  const tree = new FsTree();
  await applyLayer(tree, scanTar(createReadStream(tarPath, { highWaterMark: 1 << 20 })), 0);
  const w = performance.now();
  const delta = new Ext4ChainWriter({ deviceBytes: DEFAULT_EXT4_DEVICE_BYTES }).writeLayer(tree.root, 0);
  const deltaBytes = encodeExt4Delta(delta).length;
  const end = performance.now();
  return { s: (end - t) / 1000, writerS: (end - w) / 1000, deltaBytes };
}

/** `mke2fs -d` of the extracted tree into a 64 GiB sparse image with our feature set; returns seconds. */
function mke2fs(tree: string, image: string): number {
  rmSync(image, { force: true });
  const t = performance.now();
  execFileSync('mke2fs', ['-q', '-F', '-t', 'ext4', '-b', '4096', '-I', '256', '-O', '^has_journal,^64bit,^resize_inode,metadata_csum', '-E', 'root_owner=0:0', '-d', tree, image, '64G']);
  return (performance.now() - t) / 1000;
}

interface Row {
  name: string;
  entries: number;
  compressedBytes: number;
  oursS: number;
  writerS: number;
  mke2fsS: number;
  deltaBytes: number;
}

async function measure(name: string, tarPath: string, compressedBytes: number): Promise<Row> {
  const work = mkdtempSync(path.join(tmpdir(), 'turbo-bench-ext4-'));
  try {
    const tree = path.join(work, 'tree');
    execFileSync('mkdir', ['-p', tree]);
    execFileSync('tar', ['-xf', tarPath, '-C', tree, '--numeric-owner', '--xattrs', '--xattrs-include=*']);
    const entries = Number(execFileSync('bash', ['-c', `find '${tree}' | wc -l`]).toString().trim());
    const image = path.join(work, 'ref.img');
    const oursTimes: number[] = [];
    const writerTimes: number[] = [];
    const refTimes: number[] = [];
    let deltaBytes = 0;
    for (let r = 0; r < ROUNDS; r++) {
      const o = await ours(tarPath);
      oursTimes.push(o.s);
      writerTimes.push(o.writerS);
      deltaBytes = o.deltaBytes;
      refTimes.push(mke2fs(tree, image));
    }
    return { name, entries, compressedBytes, oursS: median(oursTimes), writerS: median(writerTimes), mke2fsS: median(refTimes), deltaBytes };
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Peak RSS (MiB) of a fresh process building the metadata of `tarPath`. */
function peakRssMiB(tarPath: string): number {
  const script = `
    import { createReadStream } from 'node:fs';
    import { Ext4ChainWriter } from ${JSON.stringify(path.join(ROOT, 'indexer/ext4/chain-writer.ts'))};
    import { applyLayer } from ${JSON.stringify(path.join(ROOT, 'indexer/layer/apply-layer.ts'))};
    import { scanTar } from ${JSON.stringify(path.join(ROOT, 'indexer/tar/scan-tar.ts'))};
    import { FsTree } from ${JSON.stringify(path.join(ROOT, 'indexer/tree/tree-model.ts'))};
    const base = process.resourceUsage().maxRSS;
    const tree = new FsTree();
    await applyLayer(tree, scanTar(createReadStream(${JSON.stringify(tarPath)}, { highWaterMark: 1 << 20 })), 0);
    new Ext4ChainWriter({ deviceBytes: ${DEFAULT_EXT4_DEVICE_BYTES} }).writeLayer(tree.root, 0);
    console.log(JSON.stringify({ base, peak: process.resourceUsage().maxRSS }));`;
  const file = path.join(ROOT, 'test/bench/.ext4-rss-probe.mts');
  writeFileSync(file, script);
  try {
    const out = JSON.parse(execFileSync(process.execPath, ['--import', 'tsx', file], { cwd: ROOT }).toString()) as { base: number; peak: number };
    return out.peak / 1024;
  } finally {
    rmSync(file, { force: true });
  }
}

const deb = await debianImage();
const small = await manySmallFilesLayer();
const rows = [
  await measure('Debian base layer (debootstrap minbase)', deb.layers[0]!.uncompressedTarPath, deb.layers[0]!.size),
  await measure('100k small files', small.tarPath, statSync(small.gzPath).size),
];
const rss = peakRssMiB(small.tarPath);
const f2 = (x: number): string => x.toFixed(2);
const pct = (r: Row): number => (100 * r.deltaBytes) / r.compressedBytes;
const verdict = (ok: boolean): string => (ok ? 'met' : '**missed**');
const table = rows
  .map((r) => `| ${r.name} | ${r.entries} | ${f2(r.oursS)} s | ${f2(r.writerS)} s | ${f2(r.mke2fsS)} s | ${f2(r.oursS / r.mke2fsS)}× | ${(r.deltaBytes / 1024).toFixed(0)} KiB | ${f2(pct(r))} % |`)
  .join('\n');
const section = `## ext4

\`npm run bench -- ext4\` (test/bench/ext4.ts), ${new Date().toISOString().slice(0, 10)}, median of ${ROUNDS} rounds, load average ${loadavg()[0]!.toFixed(1)} on ${execFileSync('nproc').toString().trim()} cores.
"ours" = tar scan + OCI layer apply + ext4 metadata render + delta encode (zstd) from the uncompressed tar; file data is
never copied. "mke2fs" = \`mke2fs -t ext4 -d <tree>\` of the same content already extracted (it also copies the data),
64 GiB sparse image, same features (no journal, metadata_csum, 4 KiB blocks, 256-byte inodes).

| layer | entries | ours | of which ext4 writer + encode | mke2fs -d | ratio | delta | delta / compressed layer |
|---|---|---|---|---|---|---|---|
${table}

Peak RSS of a process building the 100k-file layer's metadata: ${rss.toFixed(0)} MiB.

Notes. The machine is shared (see the load average): both sides slow down, not necessarily equally. The time
target is not met: the tar scan + layer apply part alone is about as slow as \`mke2fs -d\` on the small Debian
layer, and the JavaScript writer renders every inode, bitmap and checksum where mke2fs is C. The 100k-file layer
is synthetic and compresses to ~13 bytes per file, while ext4 needs a 256-byte inode per file whose checksum and
times do not compress away (~28 bytes per file after zstd): 2 % of such a layer is below that floor. On the real
Debian layer the delta is well under 2 %, and upper deltas of small layers are a few KiB (docs/ext4.md).

| target | measured | verdict |
|---|---|---|
${rows.map((r) => `| ${r.name}: ours ≤ 0.3× mke2fs -d | ${f2(r.oursS / r.mke2fsS)}× | ${verdict(r.oursS / r.mke2fsS <= 0.3)} |`).join('\n')}
${rows.map((r) => `| ${r.name}: delta ≤ 2 % of the compressed layer | ${f2(pct(r))} % | ${verdict(pct(r) <= 2)} |`).join('\n')}
`;
console.log(`\n${section}`);
writeBenchmarkSection('ext4', section);
console.log(`wrote the ext4 section of ${path.relative(ROOT, BENCHMARKS_DOC)}`);
