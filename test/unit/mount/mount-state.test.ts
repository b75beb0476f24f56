// Mount state records: atomic save, load by mount point, listing, removal; unreadable records are coded errors.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';

import { MOUNT_STATE_VERSION, listMountStates, loadMountState, mountStatePath, removeMountState, saveMountState, type MountState } from '../../../src/mount/mount-state.js';
import { makeTempDir } from '../../helpers/tmpdir.js';

const dir = makeTempDir('turbo-mount-state-');

function state(mountPoint: string): MountState {
  return {
    version: MOUNT_STATE_VERSION,
    mountPoint,
    nbdUri: 'nbd+unix:///x?socket=/run/x.sock',
    attach: { kind: 'nbdfuse-loop', fuseDir: '/run/f', fuseFile: '/run/f/disk.img', nbdfusePid: 1234, device: '/dev/loop7' },
    mounted: true,
    createdAt: '2026-01-01T00:00:00.000Z',
  };
}

describe('mount state', () => {
  it('saves, loads, lists and removes records keyed by mount point', async () => {
    const stateDir = path.join(dir, 'a');
    const s1 = state('/mnt/one');
    const s2 = state('/mnt/two');
    await saveMountState(stateDir, s1);
    await saveMountState(stateDir, s2);
    expect(await loadMountState(stateDir, '/mnt/one')).toEqual(s1);
    expect(await loadMountState(stateDir, '/mnt/one/')).toEqual(s1);
    expect(mountStatePath(stateDir, '/mnt/one')).not.toBe(mountStatePath(stateDir, '/mnt/two'));
    expect((await listMountStates(stateDir)).map((s) => s.mountPoint).sort()).toEqual(['/mnt/one', '/mnt/two']);
    await removeMountState(stateDir, '/mnt/one');
    expect(await loadMountState(stateDir, '/mnt/one')).toBeUndefined();
    expect(await listMountStates(path.join(dir, 'none'))).toEqual([]);
  });

  it('a record that is not JSON is CORRUPT; an unknown layout is UNSUPPORTED', async () => {
    const stateDir = path.join(dir, 'b');
    mkdirSync(stateDir);
    writeFileSync(mountStatePath(stateDir, '/mnt/x'), '{not json');
    await expect(loadMountState(stateDir, '/mnt/x')).rejects.toMatchObject({ code: 'CORRUPT' });
    writeFileSync(mountStatePath(stateDir, '/mnt/y'), JSON.stringify({ ...state('/mnt/y'), version: 99 }));
    await expect(loadMountState(stateDir, '/mnt/y')).rejects.toMatchObject({ code: 'UNSUPPORTED' });
    expect(await listMountStates(stateDir)).toEqual([]);
  });
});
