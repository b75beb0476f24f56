// Big synthetic layers (100k files, a 50k-entry directory, a 5 GiB sparse file, a > 4 GiB file), seeded and cached.
import { createHash } from 'node:crypto';
import { closeSync, createWriteStream, ftruncateSync, mkdirSync, openSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync, writeSync } from 'node:fs';
import path from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { createGzip } from 'node:zlib';
import { cachedFixture } from '../fixture-cache.js';
import { withFixtureLock } from './fixture-lock.js';
import { seededBytes } from './content.js';
import { FIXTURE_EPOCH } from './debian-layers.js';
import { run } from './run.js';
import { TarFileWriter, tarEntryBytes } from './tar-writer.js';

/** Generator versions, one per fixture: bump a fixture's number when its generator changes. */
const VERSIONS = { many: 2, wide: 3, sparse: 2, huge: 2, hugeStreamed: 2 } as const;

/** A byte range of a sparse file that holds data (everything else reads as zeros). */
export interface DataRegion {
  offset: number;
  length: number;
  /** sha256 (hex) of the region's bytes. */
  sha256: string;
}

/** A file whose content a test can check without storing it. */
export interface ExpectedFile {
  path: string;
  size: number;
  /** sha256 of the whole content (absent for sparse files: use dataRegions). */
  sha256?: string;
  /** Sparse files: where the data is; all other bytes are zero. */
  dataRegions?: DataRegion[];
}

/** What a big layer holds, for tests to assert against. */
export interface LayerExpectation {
  /** Tar entries as `tar -t` lists them (pax/GNU extension headers not counted). */
  entries: number;
  regularFiles: number;
  directories: number;
  symlinks: number;
  /** Sum of the apparent sizes of all regular files. */
  totalFileBytes: number;
  /** A few files (first, middle, last, sparse ones) with size and content digest. */
  samples: ExpectedFile[];
}

/** A generated layer: uncompressed tar, its `gzip -6 -n` compression and what it holds. */
export interface LayerFixture {
  tarPath: string;
  gzPath: string;
  expectation: LayerExpectation;
}

const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function readFixture(name: string, version: number, generate: (dir: string) => Promise<LayerExpectation>): Promise<LayerFixture> {
  const dir = await withFixtureLock(name, () => cachedFixture(name, version, async (out) => {
    const expectation = await generate(out);
    await run('sh', ['-c', `gzip -6 -n -c layer.tar > layer.tar.gz`], { cwd: out });
    writeFileSync(path.join(out, 'expectation.json'), JSON.stringify(expectation, null, 1));
  }));
  const expectation = JSON.parse(readFileSync(path.join(dir, 'expectation.json'), 'utf8')) as LayerExpectation;
  return { tarPath: path.join(dir, 'layer.tar'), gzPath: path.join(dir, 'layer.tar.gz'), expectation };
}

/** Content of small file i: "file <i>\n" repeated and cut to a seeded size in 1..512 (3 of 4 files are empty). */
export function smallFileContent(i: number, sizes: Buffer): Buffer {
  const r = sizes.readUInt16LE(2 * i);
  if (r % 4 !== 0) return Buffer.alloc(0);
  const size = 1 + ((r >> 2) % 512);
  const unit = `file ${i}\n`;
  return Buffer.from(unit.repeat(Math.ceil(size / unit.length)).slice(0, size));
}

/** `count` small files in directories of 1000 (many/d000/f000000 …): 3/4 empty, the rest 1..512 bytes (seeded). */
export function manySmallFilesLayer(count = 100_000): Promise<LayerFixture> {
  return readFixture(`layer-many-small-files-${count}`, VERSIONS.many, async (out) => {
    const sizes = seededBytes(`many-small-sizes-${count}`, 2 * count);
    const w = new TarFileWriter(path.join(out, 'layer.tar'));
    const t = FIXTURE_EPOCH;
    w.add({ path: 'many', type: 'dir', mode: 0o755, mtime: t });
    let dirs = 1;
    let bytes = 0;
    const samples: ExpectedFile[] = [];
    const pick = new Set([0, 1, Math.floor(count / 2), count - 1]);
    for (let i = 0; i < count; i++) {
      const d = `many/d${String(Math.floor(i / 1000)).padStart(3, '0')}`;
      if (i % 1000 === 0) {
        w.add({ path: d, type: 'dir', mode: 0o755, mtime: t });
        dirs++;
      }
      const p = `${d}/f${String(i).padStart(6, '0')}`;
      const data = smallFileContent(i, sizes);
      w.add({ path: p, type: 'file', mode: 0o644, mtime: t + (i % 1000), data });
      bytes += data.length;
      if (pick.has(i)) samples.push({ path: p, size: data.length, sha256: sha256(data) });
    }
    w.finish();
    return { entries: count + dirs, regularFiles: count, directories: dirs, symlinks: 0, totalFileBytes: bytes, samples };
  });
}

/** Name of entry i of the wide directory: 8..90 bytes, every 50th one 150..255 bytes (pax path), all distinct. */
export function wideEntryName(i: number, rnd: Buffer): string {
  const r = rnd.readUInt16LE((2 * i) % (rnd.length - 1));
  const len = i % 50 === 21 ? 150 + (r % 106) : 8 + (r % 83);
  const base = `e${i}-`;
  const start = (i * 7) % (rnd.length - 128);
  return (base + rnd.subarray(start, start + 128).toString('hex')).slice(0, Math.max(len, base.length));
}

/** One directory `wide/` with `entries` entries: 96 % small files, 2 % subdirectories, 2 % symlinks. */
export function wideDirectoryLayer(entries = 50_000): Promise<LayerFixture> {
  return readFixture(`layer-wide-directory-${entries}`, VERSIONS.wide, async (out) => {
    const rnd = seededBytes(`wide-names-${entries}`, 1 << 16);
    const w = new TarFileWriter(path.join(out, 'layer.tar'));
    const t = FIXTURE_EPOCH;
    w.add({ path: 'wide', type: 'dir', mode: 0o755, mtime: t });
    let files = 0;
    let dirs = 1;
    let links = 0;
    let bytes = 0;
    const samples: ExpectedFile[] = [];
    for (let i = 0; i < entries; i++) {
      const p = `wide/${wideEntryName(i, rnd)}`;
      if (i % 50 === 7) {
        w.add({ path: p, type: 'dir', mode: 0o755, mtime: t });
        dirs++;
      } else if (i % 50 === 13) {
        w.add({ path: p, type: 'symlink', mode: 0o777, mtime: t, linkname: `../wide/${wideEntryName(i - 1, rnd)}` });
        links++;
      } else {
        const data = i % 3 === 0 ? Buffer.from(`entry ${i}\n`) : Buffer.alloc(0);
        w.add({ path: p, type: 'file', mode: 0o644, mtime: t, data });
        files++;
        bytes += data.length;
        if (i === 0 || i === entries - 1 || i === 3 * Math.floor(entries / 6)) samples.push({ path: p, size: data.length, sha256: sha256(data) });
      }
    }
    w.finish();
    return { entries: entries + 1, regularFiles: files, directories: dirs, symlinks: links, totalFileBytes: bytes, samples };
  });
}

/** Creates a sparse file of `size` bytes with seeded data at `regions` and returns the regions with their digests. */
function writeSparseFile(file: string, size: number, regions: { offset: number; length: number }[], seed: string): DataRegion[] {
  const fd = openSync(file, 'w');
  try {
    ftruncateSync(fd, size);
    return regions.map((r, i) => {
      const data = seededBytes(`${seed}-${i}`, r.length);
      writeSync(fd, data, 0, data.length, r.offset);
      return { ...r, sha256: sha256(data) };
    });
  } finally {
    closeSync(fd);
  }
}

const GiB = 2 ** 30;
const MiB = 2 ** 20;

async function sparseTarLayer(out: string, fileName: string, size: number, regions: { offset: number; length: number }[], tarFormat: string[]): Promise<LayerExpectation> {
  const src = path.join(out, 'src');
  mkdirSync(path.join(src, 'sparse'), { recursive: true });
  const file = path.join(src, 'sparse', fileName);
  const dataRegions = writeSparseFile(file, size, regions, fileName);
  utimesSync(file, FIXTURE_EPOCH, FIXTURE_EPOCH);
  utimesSync(path.join(src, 'sparse'), FIXTURE_EPOCH, FIXTURE_EPOCH);
  await run('tar', ['--sparse', ...tarFormat, '--numeric-owner', '--owner=0', '--group=0', '--sort=name', `--mtime=@${FIXTURE_EPOCH}`,
    '-C', src, '-cf', path.join(out, 'layer.tar'), 'sparse']);
  if (statSync(file).blocks * 512 > 64 * MiB) throw new Error(`sparse source ${file} is not sparse on this file system`);
  rmSync(src, { recursive: true, force: true });
  return { entries: 2, regularFiles: 1, directories: 1, symlinks: 0, totalFileBytes: size, samples: [{ path: `sparse/${fileName}`, size, dataRegions }] };
}

/** sparse/five-gib.img: 5 GiB apparent size, 4 data regions (start, unaligned middle, across 4 GiB, end); old GNU sparse tar. */
export function sparseFileLayer(): Promise<LayerFixture> {
  return readFixture('layer-sparse-5gib', VERSIONS.sparse, (out) =>
    sparseTarLayer(out, 'five-gib.img', 5 * GiB, [
      { offset: 0, length: 64 * 1024 },
      { offset: GiB + 12_345, length: 100_000 },
      { offset: 4 * GiB - 4096, length: 8192 },
      { offset: 5 * GiB - 65_536, length: 65_536 },
    ], ['--format=gnu']));
}

/**
 * sparse/huge.bin: 4 GiB + 3 MiB + 17 bytes (odd size > 2^32) with 1 MiB data regions at the start, straddling
 * 4 GiB and at the very end; PAX sparse 1.0 tar (GNU.sparse.major/minor, realsize), so the tar stays a few MB.
 */
export function hugeFileLayer(): Promise<LayerFixture> {
  const size = 4 * GiB + 3 * MiB + 17;
  return readFixture('layer-huge-file', VERSIONS.huge, (out) =>
    sparseTarLayer(out, 'huge.bin', size, [
      { offset: 0, length: MiB },
      { offset: 4 * GiB - MiB / 2, length: MiB },
      { offset: size - MiB, length: MiB },
    ], ['--format=posix', '--sparse-version=1.0', '--pax-option=exthdr.name=%d/PaxHeaders/%f,delete=atime,delete=ctime']));
}

/** A layer kept only gzip-compressed (its tar is too big to store); gunzip it as a stream. */
export interface StreamedLayerFixture {
  gzPath: string;
  /** Size and sha256 (hex) of the uncompressed tar. */
  tarSize: number;
  tarSha256: string;
  expectation: LayerExpectation;
}

/** Size of huge/huge.bin in hugeStreamedLayer (odd, > 2^32). */
export const HUGE_STREAMED_SIZE = 4 * GiB + 3 * MiB + 17;

/** Tar bytes of hugeStreamedLayer, generated on the fly: dir, the non-sparse huge file, then a file past 4 GiB. */
async function* hugeStreamedTar(regions: { offset: number; length: number; data: Buffer }[]): AsyncGenerator<Buffer> {
  const t = FIXTURE_EPOCH;
  yield tarEntryBytes({ path: 'huge', type: 'dir', mode: 0o755, mtime: t });
  yield fileHeader('huge/huge.bin', HUGE_STREAMED_SIZE, t);
  const chunk = 4 * MiB;
  for (let off = 0; off < HUGE_STREAMED_SIZE; off += chunk) {
    const len = Math.min(chunk, HUGE_STREAMED_SIZE - off);
    const buf = Buffer.alloc(len);
    for (const r of regions) {
      const from = Math.max(off, r.offset);
      const to = Math.min(off + len, r.offset + r.length);
      if (from < to) r.data.copy(buf, from - off, from - r.offset, to - r.offset);
    }
    yield buf;
  }
  yield Buffer.alloc((512 - (HUGE_STREAMED_SIZE % 512)) % 512);
  yield tarEntryBytes({ path: 'huge/after-huge.txt', type: 'file', mode: 0o644, mtime: t, data: Buffer.from('this entry starts past 4 GiB in the tar\n') });
  yield Buffer.alloc(1024);
}

/** A ustar header of a regular file of `size` bytes (no data), for files too big to hold in memory. */
function fileHeader(name: string, size: number, mtime: number): Buffer {
  const h = tarEntryBytes({ path: name, type: 'file', mode: 0o644, mtime });
  h.write(size.toString(8).padStart(11, '0') + '\0', 124, 'ascii');
  h.write('        ', 148, 'ascii');
  let sum = 0;
  for (const b of h) sum += b;
  h.write(sum.toString(8).padStart(6, '0') + '\0 ', 148, 'ascii');
  return h;
}

/**
 * huge/huge.bin: a NON-sparse regular file of 4 GiB + 3 MiB + 17 bytes (zeros except 1 MiB seeded regions at the start,
 * across 4 GiB and at the end), then huge/after-huge.txt whose header and data lie past 4 GiB in the tar. Only the
 * gzip (~5 MB) is stored; the ~4 GiB tar exists only as a stream (gunzip the gzPath). Generation takes ~30 s once.
 */
export async function hugeStreamedLayer(): Promise<StreamedLayerFixture> {
  const dir = await withFixtureLock('layer-huge-streamed', () => cachedFixture('layer-huge-streamed', VERSIONS.hugeStreamed, async (out) => {
    const spec = [
      { offset: 0, length: MiB },
      { offset: 4 * GiB - MiB / 2, length: MiB },
      { offset: HUGE_STREAMED_SIZE - MiB, length: MiB },
    ];
    const regions = spec.map((r, i) => ({ ...r, data: seededBytes(`huge-streamed-${i}`, r.length) }));
    const hash = createHash('sha256');
    let size = 0;
    const source = Readable.from((async function* () {
      for await (const b of hugeStreamedTar(regions)) {
        hash.update(b);
        size += b.length;
        yield b;
      }
    })());
    await pipeline(source, createGzip({ level: 6 }), createWriteStream(path.join(out, 'layer.tar.gz')));
    const after = Buffer.from('this entry starts past 4 GiB in the tar\n');
    const expectation: LayerExpectation = {
      entries: 3, regularFiles: 2, directories: 1, symlinks: 0, totalFileBytes: HUGE_STREAMED_SIZE + after.length,
      samples: [
        { path: 'huge/huge.bin', size: HUGE_STREAMED_SIZE, dataRegions: regions.map(({ offset, length, data }) => ({ offset, length, sha256: sha256(data) })) },
        { path: 'huge/after-huge.txt', size: after.length, sha256: sha256(after) },
      ],
    };
    writeFileSync(path.join(out, 'expectation.json'), JSON.stringify({ tarSize: size, tarSha256: hash.digest('hex'), expectation }, null, 1));
  }));
  const meta = JSON.parse(readFileSync(path.join(dir, 'expectation.json'), 'utf8')) as Omit<StreamedLayerFixture, 'gzPath'>;
  return { gzPath: path.join(dir, 'layer.tar.gz'), ...meta };
}
