// `turbo-index ext4 materialize|deltas` on small fixture layers (plain and gzip): image e2fsck-clean, report columns,
// and coded failures (missing layer → exit 3, bad device size → exit 2).
import { execFile } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { missingNeeds } from '../../helpers/capabilities.js';
import { fsck } from '../../helpers/ext4-image.js';
import { makeTempDir } from '../../helpers/tmpdir.js';

const exec = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../../..');
const CLI = path.join(ROOT, 'dist/src/cli/main.js');
const TAR_DIR = path.join(ROOT, 'fixtures/tar');
const skip = missingNeeds({ commands: ['e2fsck'], paths: [CLI] });

async function cli(args: string[]): Promise<{ status: number; stdout: string; stderr: string }> {
  try {
    const r = await exec('node', [CLI, ...args]);
    return { status: 0, stdout: r.stdout, stderr: r.stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { status: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe.skipIf(skip)('turbo-index ext4', () => {
  const dir = makeTempDir('turbo-ext4-cli-');
  const base = path.join(TAR_DIR, 'layer-base.tar');
  const upperGz = path.join(dir, 'whiteout.tar.gz');
  writeFileSync(upperGz, gzipSync(readFileSync(path.join(TAR_DIR, 'whiteout.tar'))));

  it('materializes plain + gzip layers into an e2fsck-clean image', async () => {
    const image = path.join(dir, 'out.img');
    const r = await cli(['ext4', 'materialize', '--layer', base, '--layer', upperGz, '-o', image, '--device-size', '1GiB']);
    expect(r.status, r.stderr).toBe(0);
    const f = await fsck(image);
    expect(f.status, f.output).toBe(0);
  });

  it('reports per-layer deltas as a table and as JSON', async () => {
    const table = await cli(['ext4', 'deltas', '--layer', base, '--layer', upperGz, '--device-size', '1GiB']);
    expect(table.status, table.stderr).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^layer\s+metadataBlocks\s+dataExtents\s+mappedBytes\s+zeroRanges\s+deltaBytes\s+path$/);
    expect(lines).toHaveLength(3);
    const json = JSON.parse((await cli(['ext4', 'deltas', '--layer', base, '--layer', upperGz, '--device-size', '1GiB', '--json'])).stdout) as {
      deviceBytes: number;
      layers: { layer: number; dataExtents: number; zeroRanges: number }[];
    };
    expect(json.deviceBytes).toBe(2 ** 30);
    expect(json.layers.map((l) => l.layer)).toEqual([0, 1]);
    expect(json.layers[0]!.dataExtents).toBeGreaterThan(0);
    expect(json.layers[1]!.zeroRanges).toBeGreaterThan(0); // whited-out files free their blocks
  });

  it('fails with coded exit statuses', async () => {
    const missing = await cli(['ext4', 'deltas', '--layer', path.join(dir, 'nope.tar')]);
    expect(missing.status).toBe(3);
    expect(missing.stderr).toMatch(/NOT_FOUND/);
    const badSize = await cli(['ext4', 'deltas', '--layer', base, '--device-size', '100MiB']);
    expect(badSize.status).toBe(2);
    expect(badSize.stderr).toMatch(/INVALID_ARGUMENT/);
  });
});
