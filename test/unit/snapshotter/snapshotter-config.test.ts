// turbo-snapshotter's config file: defaults, file values, flag overrides and the errors for bad keys, types and reserved serve-nbd flags.
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { DEFAULT_MOUNT_AHEAD_IDLE_MS, DEFAULT_SNAPSHOTTER_ADDRESS, DEFAULT_SNAPSHOTTER_ROOT, SNAPSHOTTER_SHUTDOWN_GRACE_MS } from '../../../src/defaults.js';
import { loadSnapshotterConfig } from '../../../src/snapshotter/snapshotter-config.js';
import { makeTempDir } from '../../helpers/tmpdir.js';

function configFile(content: string): string {
  const file = path.join(makeTempDir('turbo-oci-snapcfg-'), 'config.json');
  writeFileSync(file, content);
  return file;
}

describe('loadSnapshotterConfig', () => {
  it('takes the defaults, then the file, then the flags', () => {
    expect(loadSnapshotterConfig(undefined)).toEqual({ root: DEFAULT_SNAPSHOTTER_ROOT, address: DEFAULT_SNAPSHOTTER_ADDRESS, shutdownGraceMs: SNAPSHOTTER_SHUTDOWN_GRACE_MS, metricsAddress: '', serveNbdArgs: [], mountAheadIdleMs: DEFAULT_MOUNT_AHEAD_IDLE_MS });
    const file = configFile(JSON.stringify({ root: '/r', metricsAddress: '127.0.0.1:9781', serveNbdArgs: ['--no-disk-cache', '--read-timeout-ms=5000'] }));
    expect(loadSnapshotterConfig(file, { root: '/flag', address: undefined })).toEqual({
      root: '/flag',
      address: DEFAULT_SNAPSHOTTER_ADDRESS,
      shutdownGraceMs: SNAPSHOTTER_SHUTDOWN_GRACE_MS,
      metricsAddress: '127.0.0.1:9781',
      serveNbdArgs: ['--no-disk-cache', '--read-timeout-ms=5000'],
      mountAheadIdleMs: DEFAULT_MOUNT_AHEAD_IDLE_MS,
    });
  });

  it.each([
    ['not JSON', '{', /cannot read/],
    ['not an object', '[]', /not a JSON object/],
    ['an unknown key', '{"roots": "/x"}', /unknown config key "roots"/],
    ['a wrong type', '{"shutdownGraceMs": "10"}', /must be a number/],
    ['a list with a number', '{"serveNbdArgs": ["--plain-http", 3]}', /must be a list of strings/],
    ['a flag the snapshotter sets per chain', '{"serveNbdArgs": ["--socket=/tmp/x"]}', /must not contain --socket/],
    ['--layers', '{"serveNbdArgs": ["--layers", "2"]}', /must not contain --layers/],
  ])('refuses %s with INVALID_ARGUMENT', (_what, content, message) => {
    let caught: unknown;
    try {
      loadSnapshotterConfig(configFile(content));
    } catch (err) {
      caught = err;
    }
    expect(caught).toMatchObject({ code: 'INVALID_ARGUMENT' });
    expect((caught as Error).message).toMatch(message);
  });
});
