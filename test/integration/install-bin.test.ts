// scripts/install-bin.sh: the installed turbo-index and turbo-snapshotter wrappers run this checkout's dist/ (docs/containerd.md walkthrough step 1).
import { execFileSync, spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeTempDir } from '../helpers/tmpdir.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

describe('scripts/install-bin.sh', () => {
  it('writes executable wrappers that run the built commands; refuses unknown arguments', () => {
    const prefix = makeTempDir('turbo-oci-install-');
    const out = execFileSync('bash', [path.join(ROOT, 'scripts/install-bin.sh'), '--prefix', prefix], { encoding: 'utf8' });
    expect(out).toContain(path.join(prefix, 'bin', 'turbo-snapshotter'));
    for (const name of ['turbo-index', 'turbo-snapshotter']) expect(statSync(path.join(prefix, 'bin', name)).mode & 0o111).toBe(0o111);
    const help = execFileSync(path.join(prefix, 'bin', 'turbo-index'), ['--help'], { encoding: 'utf8' });
    expect(help).toContain('turbo-index pull <image-ref>');
    expect(execFileSync(path.join(prefix, 'bin', 'turbo-snapshotter'), ['--help'], { encoding: 'utf8' })).toContain('--metrics-address');
    // An error of the installed command keeps its exit status (INVALID_ARGUMENT: 2).
    expect(spawnSync(path.join(prefix, 'bin', 'turbo-index'), ['no-such-verb']).status).toBe(2);
    expect(spawnSync('bash', [path.join(ROOT, 'scripts/install-bin.sh'), '--bogus']).status).toBe(2);
  });
});
