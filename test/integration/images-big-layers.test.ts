// Tests of the big synthetic layer fixtures: entry counts, apparent sizes, sparse data regions, small tars, valid gzip.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, createReadStream, openSync, readSync, statSync } from 'node:fs';
import path from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Writable } from 'node:stream';
import { createGunzip } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { missingNeeds } from '../helpers/capabilities.js';
import { HUGE_STREAMED_SIZE, hugeFileLayer, hugeStreamedLayer, manySmallFilesLayer, sparseFileLayer, wideDirectoryLayer, type LayerFixture } from '../helpers/images.js';
import { makeTempDir } from '../helpers/tmpdir.js';

const tmp = makeTempDir('images-big-');
const MiB = 2 ** 20;

/** sha256 of a stream's bytes. */
async function digestOf(file: string, gunzip = false): Promise<string> {
  const h = createHash('sha256');
  const sink = new Writable({ write(chunk: Buffer, _e, cb) { h.update(chunk); cb(); } });
  if (gunzip) await pipeline(createReadStream(file), createGunzip(), sink);
  else await pipeline(createReadStream(file), sink);
  return h.digest('hex');
}

/** First characters (type letters) and names of `tar -tv` lines. */
function listing(tarPath: string): { type: string; size: number; name: string }[] {
  const out = execFileSync('tar', ['-tvf', tarPath], { maxBuffer: 1 << 30 }).toString();
  return out.split('\n').filter((l) => l.length > 0).map((l) => {
    const m = l.match(/^(\S)\S*\s+\S+\s+(\d+)\s+\S+\s+\S+\s+(.*?)(?: -> .*)?$/);
    if (!m) throw new Error(`unparsed tar -tv line: ${l}`);
    return { type: m[1]!, size: Number(m[2]), name: m[3]! };
  });
}

async function checkGzip(layer: LayerFixture): Promise<void> {
  expect(await digestOf(layer.gzPath, true)).toBe(await digestOf(layer.tarPath));
  // gzip -n: no name and mtime 0 in the header.
  const head = Buffer.alloc(10);
  const fd = openSync(layer.gzPath, 'r');
  readSync(fd, head, 0, 10, 0);
  closeSync(fd);
  expect([head[0], head[1], head[3], head.readUInt32LE(4)]).toEqual([0x1f, 0x8b, 0, 0]);
}

function counts(entries: { type: string }[]): Record<string, number> {
  const c: Record<string, number> = {};
  for (const e of entries) c[e.type] = (c[e.type] ?? 0) + 1;
  return c;
}

describe('manySmallFilesLayer', () => {
  it('holds 100k small files in 100 directories, with the promised contents', async () => {
    const layer = await manySmallFilesLayer();
    const x = layer.expectation;
    const entries = listing(layer.tarPath);
    expect(entries).toHaveLength(x.entries);
    expect(x.regularFiles).toBe(100_000);
    expect(counts(entries)).toEqual({ '-': 100_000, d: x.directories });
    expect(entries.reduce((s, e) => s + (e.type === '-' ? e.size : 0), 0)).toBe(x.totalFileBytes);
    for (const s of x.samples) {
      const data = execFileSync('tar', ['-xOf', layer.tarPath, s.path], { maxBuffer: 1 << 20 });
      expect([data.length, createHash('sha256').update(data).digest('hex')]).toEqual([s.size, s.sha256]);
    }
    expect(statSync(layer.tarPath).size).toBeLessThan(120 * MiB);
    await checkGzip(layer);
  });
});

describe('wideDirectoryLayer', () => {
  it('holds one directory with 50k entries (files, subdirectories, symlinks; names up to 255 bytes)', async () => {
    const layer = await wideDirectoryLayer();
    const x = layer.expectation;
    const entries = listing(layer.tarPath);
    expect(entries).toHaveLength(x.entries);
    const children = entries.filter((e) => /^wide\/[^/]+\/?$/.test(e.name));
    expect(children).toHaveLength(50_000);
    expect(new Set(children.map((e) => e.name.replace(/\/$/, ''))).size).toBe(50_000);
    expect(counts(children)).toEqual({ '-': x.regularFiles, d: x.directories - 1, l: x.symlinks });
    const nameLengths = children.map((e) => Buffer.byteLength(e.name.replace(/\/$/, '')) - 'wide/'.length);
    expect(Math.max(...nameLengths)).toBeGreaterThan(240);
    expect(Math.max(...nameLengths)).toBeLessThanOrEqual(255);
    for (const s of x.samples) {
      const data = execFileSync('tar', ['-xOf', layer.tarPath, s.path]);
      expect(createHash('sha256').update(data).digest('hex')).toBe(s.sha256);
    }
    await checkGzip(layer);
  });
});

/** Extracts a sparse layer with GNU tar and checks the apparent size, the data regions and the zeros around them. */
async function checkSparse(layer: LayerFixture, name: string): Promise<void> {
  const sample = layer.expectation.samples[0]!;
  const entries = listing(layer.tarPath);
  expect(entries.map((e) => [e.type, e.name, e.size])).toEqual([['d', 'sparse/', 0], ['-', sample.path, sample.size]]);
  expect(statSync(layer.tarPath).size).toBeLessThan(50 * MiB);
  const out = path.join(tmp, name);
  execFileSync('mkdir', ['-p', out]);
  execFileSync('tar', ['-xf', layer.tarPath, '-C', out]);
  const file = path.join(out, sample.path);
  const st = statSync(file);
  expect(st.size).toBe(sample.size);
  expect(st.blocks * 512).toBeLessThan(64 * MiB);
  const fd = openSync(file, 'r');
  try {
    for (const r of sample.dataRegions!) {
      const buf = Buffer.alloc(r.length);
      readSync(fd, buf, 0, r.length, r.offset);
      expect(createHash('sha256').update(buf).digest('hex')).toBe(r.sha256);
      // The 4 KiB before and after each region read as zeros (holes or block padding).
      for (const at of [r.offset - 4096, r.offset + r.length]) {
        if (at < 0 || at >= sample.size) continue;
        const z = Buffer.alloc(Math.min(4096, sample.size - at), 1);
        readSync(fd, z, 0, z.length, at);
        expect(z.every((b) => b === 0)).toBe(true);
      }
    }
  } finally {
    closeSync(fd);
  }
  await checkGzip(layer);
}

describe.skipIf(missingNeeds({ commands: ['tar'] }))('sparse layers', () => {
  it('sparseFileLayer: a 5 GiB apparent-size file in an old-GNU sparse tar of a few hundred KB', async () => {
    const layer = await sparseFileLayer();
    expect(layer.expectation.samples[0]!.size).toBe(5 * 2 ** 30);
    const header = Buffer.alloc(1024);
    const fd = openSync(layer.tarPath, 'r');
    readSync(fd, header, 0, 1024, 0);
    closeSync(fd);
    expect(String.fromCharCode(header[512 + 156]!)).toBe('S'); // old GNU sparse type flag on the file's header
    await checkSparse(layer, 'sparse5g');
  });

  it('hugeFileLayer: a file over 4 GiB with data across the 4 GiB boundary, in a PAX sparse 1.0 tar', async () => {
    const layer = await hugeFileLayer();
    const sample = layer.expectation.samples[0]!;
    expect(sample.size).toBeGreaterThan(2 ** 32);
    expect(sample.dataRegions!.some((r) => r.offset < 2 ** 32 && r.offset + r.length > 2 ** 32)).toBe(true);
    const text = execFileSync('head', ['-c', '4096', layer.tarPath]).toString('latin1');
    expect(text).toContain('GNU.sparse.major=1');
    expect(text).toContain(`GNU.sparse.realsize=${sample.size}`);
    await checkSparse(layer, 'huge');
  });
});

describe.skipIf(missingNeeds({ commands: ['tar', 'gzip'] }))('hugeStreamedLayer', () => {
  it('streams a non-sparse file over 4 GiB followed by an entry past 4 GiB, from a gzip of a few MB', async () => {
    const layer = await hugeStreamedLayer();
    expect(statSync(layer.gzPath).size).toBeLessThan(50 * MiB);
    expect(layer.tarSize).toBeGreaterThan(HUGE_STREAMED_SIZE);
    // One pass through the 4 GiB stream: GNU tar lists every entry and hands each file's bytes to a command.
    const cmd = 'case "$TAR_FILENAME" in *.txt) echo "$TAR_FILENAME $TAR_SIZE $(sha256sum | cut -d" " -f1)";; *) echo "$TAR_FILENAME $TAR_SIZE $(wc -c)";; esac';
    const out = execFileSync('sh', ['-c', `(pigz -dc '${layer.gzPath}' 2>/dev/null || gzip -dc '${layer.gzPath}') | tar -xf - --to-command='${cmd}'`], { cwd: tmp, maxBuffer: 1 << 20 }).toString();
    const after = layer.expectation.samples[1]!;
    expect(out.trim().split('\n')).toEqual([
      `huge/huge.bin ${HUGE_STREAMED_SIZE} ${HUGE_STREAMED_SIZE}`,
      `huge/after-huge.txt ${after.size} ${after.sha256}`,
    ]);
  });
});
