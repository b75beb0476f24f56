// `turbo-index gzip-index build|read|info` end to end (the built CLI in dist/), compared with `gzip -dc` output.
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';

import { SeededRandom } from '../helpers/random.js';
import { gzipFixtures, nativeSkipReason, type LoadedGzipFixture } from '../helpers/gzip-fixture-set.js';
import { missingNeeds } from '../helpers/capabilities.js';
import { makeTempDir } from '../helpers/tmpdir.js';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const CLI = path.join(ROOT, 'dist/src/cli/main.js');

interface CliResult {
  status: number;
  stdout: Buffer;
  stderr: string;
}

async function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  try {
    const r = await run(process.execPath, [CLI, ...args], { env: { ...process.env, ...env }, encoding: 'buffer', maxBuffer: 1 << 28 });
    return { status: 0, stdout: r.stdout, stderr: r.stderr.toString() };
  } catch (err) {
    const e = err as { code?: number; stdout?: Buffer; stderr?: Buffer };
    return { status: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? Buffer.alloc(0), stderr: String(e.stderr ?? '') };
  }
}

/** What `zcat` gives for the layer (`gzip -dc`; plain files pass through `gzip -dcf`). */
function zcat(file: string, plain: boolean): Buffer {
  const r = spawnSync('gzip', [plain ? '-dcf' : '-dc', file], { maxBuffer: 1 << 30 });
  expect([0, 2]).toContain(r.status); // 2: gzip's warning for trailing zero padding
  return r.stdout;
}

/** Runs the jobs with at most `width` at a time. */
async function inPool(jobs: (() => Promise<void>)[], width: number): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < jobs.length) await jobs[next++]!();
  };
  await Promise.all(Array.from({ length: width }, worker));
}

/** Generous: spawning ~35 node processes per engine on a shared 2-core machine; the test must not fail on timing. */
const TIMEOUT_MS = 900_000;

const ENGINES: { name: string; env: Record<string, string> }[] = [
  { name: 'pako', env: { TURBO_OCI_ZLIB: 'pako' } },
  ...(nativeSkipReason ? [] : [{ name: 'native', env: {} }]),
];

describe.skipIf(missingNeeds({ commands: ['gzip', 'pigz'] }))('gzip-index CLI', () => {
  let fixtures: LoadedGzipFixture[] = [];
  const tmp = makeTempDir('gzip-cli-');
  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
    fixtures = await gzipFixtures();
  });

  for (const engine of ENGINES) {
    it(`build + read equal zcat | dd for every fixture class (${engine.name})`, async () => {
      const rnd = new SeededRandom(`gzip-cli-${engine.name}`);
      const jobs = fixtures.map((f, k) => async () => {
        const expected = zcat(f.file, f.name === 'plain-tar');
        expect(expected.equals(f.raw), f.name).toBe(true);
        const idx = path.join(tmp, `${f.name}.${engine.name}.idx`);
        const b = await cli(['gzip-index', 'build', f.file, '-o', idx, '--span', '64KiB'], engine.env);
        expect(b.status, b.stderr).toBe(0);
        expect(b.stdout.toString()).toContain(`engine ${engine.name}`);
        if (k % 5 === 0) {
          const info = JSON.parse((await cli(['gzip-index', 'info', idx, '--json'], engine.env)).stdout.toString()) as Record<string, unknown>;
          expect(info.uncompressedBytes, f.name).toBe(expected.length);
          expect(info.kind, f.name).toBe(f.name === 'plain-tar' ? 'identity' : 'gzip');
        }
        // Odd fixtures read through the last byte; even ones read a random range that usually crosses spans.
        const o = rnd.int(expected.length);
        const l = k % 2 === 1 ? expected.length - o + 100 : 1 + rnd.int(300_000);
        const r = await cli(['gzip-index', 'read', f.file, idx, '--offset', String(o), '--length', String(l)], engine.env);
        expect(r.status, r.stderr).toBe(0);
        expect(r.stdout.equals(expected.subarray(o, o + l)), `${f.name} ${o}+${l}`).toBe(true);
      });
      await inPool(jobs, 3);
    }, TIMEOUT_MS);
  }

  it('index files are identical across engines', () => {
    if (ENGINES.length < 2) return expect(ENGINES[0]!.name).toBe('pako');
    for (const f of fixtures) {
      expect(readFileSync(path.join(tmp, `${f.name}.pako.idx`)).equals(readFileSync(path.join(tmp, `${f.name}.native.idx`))), f.name).toBe(true);
    }
  });

  it('reports a corrupt index as CORRUPT (exit 4), a missing file as NOT_FOUND (exit 3), a bad span as INVALID_ARGUMENT', async () => {
    const f = fixtures.find((x) => x.name === 'gzip-1')!;
    const idx = path.join(tmp, 'gzip-1.pako.idx');
    const bad = Buffer.from(readFileSync(idx));
    bad[200]! ^= 0xff;
    const badIdx = path.join(tmp, 'bad.idx');
    writeFileSync(badIdx, bad);
    const r = await cli(['gzip-index', 'read', f.file, badIdx, '--offset', '0', '--length', '10']);
    expect(r.status).toBe(4);
    expect(r.stderr).toContain('CORRUPT');
    const i = await cli(['gzip-index', 'info', badIdx]);
    expect(i.status).toBe(4);
    expect((await cli(['gzip-index', 'info', path.join(tmp, 'absent.idx')])).status).toBe(3);
    const s = await cli(['gzip-index', 'build', f.file, '-o', path.join(tmp, 'x.idx'), '--span', '1k']);
    expect(s.status).toBe(2);
    const truncated = path.join(tmp, 'truncated.gz');
    writeFileSync(truncated, f.gz.subarray(0, 5000));
    const t = await cli(['gzip-index', 'build', truncated, '-o', path.join(tmp, 't.idx')]);
    expect(t.status).toBe(4);
    expect(t.stderr).toContain('TRUNCATED');
    expect(t.stderr).toContain('offset=5000');
  }, TIMEOUT_MS);

  it('--help lists the three gzip-index commands', async () => {
    const h = await cli(['gzip-index', '--help']);
    const text = h.stdout.toString();
    for (const c of ['build <layer>', 'read <layer> <index>', 'info <index>']) expect(text).toContain(c);
  });
});
