// Mounting an NBD export served by our server: nbdfuse + losetup -r + mount -o ro,noload, full and partial-state teardown.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, writeFileSync } from 'node:fs';
import { open, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { FileBlockDevice } from '../../src/io/file-block-device.js';
import { loadMountState, mountStatePath, mountWorkDir, saveMountState, MOUNT_STATE_VERSION, type MountState } from '../../src/mount/mount-state.js';
import { readMountTable } from '../../src/mount/mount-table.js';
import { mountNbdExport, teardownMount, unmountNbdExport } from '../../src/mount/nbd-mount.js';
import { NbdfuseLoopAttacher } from '../../src/mount/nbdfuse-loop-attacher.js';
import type { AttachState } from '../../src/mount/attacher.js';
import { serveNbd, type NbdService } from '../../src/nbd/serve-nbd.js';
import { missingNeeds } from '../helpers/capabilities.js';
import { makeExt4TreeImage, type Ext4TreeImage } from '../helpers/nbd-fixture.js';
import { makeTempDir } from '../helpers/tmpdir.js';

const exec = promisify(execFile);
const skip = missingNeeds({ root: true, commands: ['nbdfuse', 'losetup', 'fusermount3', 'mount'], paths: ['/dev/fuse', '/dev/loop-control'] });

/**
 * Relative path -> sha256 of every regular file under `root`. Async and one file at a time on purpose: the NBD server
 * runs in this process, so a sync read of the mount (or reads occupying every libuv pool thread) would deadlock it.
 */
async function hashTree(root: string, rel = ''): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  for (const e of await readdir(path.join(root, rel), { withFileTypes: true })) {
    const r = path.join(rel, e.name);
    if (e.name === 'lost+found') continue;
    if (e.isDirectory()) for (const [k, v] of await hashTree(root, r)) out.set(k, v);
    else if (e.isFile()) out.set(r, createHash('sha256').update(await readFile(path.join(root, r))).digest('hex'));
  }
  return out;
}

/** The first `length` bytes of a device or file, read asynchronously (see hashTree). */
async function head(file: string, length: number): Promise<Buffer> {
  const fh = await open(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, 0);
    return buf;
  } finally {
    await fh.close();
  }
}

/** Asserts nothing of `attach` is left: no mounts, no loop device on the FUSE file, no nbdfuse process. */
async function expectGone(mountPoint: string, attach: AttachState): Promise<void> {
  const mounts = await readMountTable();
  expect(mounts.filter((m) => m.mountPoint === mountPoint || m.mountPoint === attach.fuseDir)).toEqual([]);
  const { stdout } = await exec('losetup', ['-a']);
  expect(stdout).not.toContain(attach.fuseFile!);
  if (attach.nbdfusePid !== undefined) {
    const cmdline = await readFile(`/proc/${attach.nbdfusePid}/cmdline`, 'utf8').catch(() => '');
    expect(cmdline).not.toContain('nbdfuse');
  }
}

async function until(cond: () => boolean): Promise<void> {
  while (!cond()) await new Promise((r) => setTimeout(r, 20));
}

describe.skipIf(skip)('mount an NBD export (nbdfuse + loop)', () => {
  const dir = makeTempDir('turbo-nbd-mount-');
  const stateDir = path.join(dir, 'state');
  let fixture: Ext4TreeImage;
  let device: FileBlockDevice;
  let svc: NbdService;

  beforeAll(async () => {
    fixture = await makeExt4TreeImage(dir, 'nbd-mount-tree');
    device = await FileBlockDevice.open(fixture.imagePath);
    svc = await serveNbd(device, { socketPath: path.join(dir, 'nbd.sock'), exportName: 'rootfs' });
  });

  afterAll(async () => {
    await svc?.close();
    await device?.close();
  });

  it('mounts read-only with the files of the source tree, then tears everything down', async () => {
    const mnt = path.join(dir, 'mnt');
    const state = await mountNbdExport(svc.uri, mnt, { stateDir });
    let torn = false;
    try {
      expect(state.attach.device).toMatch(/^\/dev\/loop\d+$/);
      expect(await loadMountState(stateDir, mnt)).toEqual(state);
      const entry = (await readMountTable()).find((m) => m.mountPoint === mnt);
      expect(entry).toMatchObject({ fsType: 'ext4', source: state.attach.device });
      expect(await hashTree(mnt)).toEqual(fixture.files);
      await expect(writeFile(path.join(mnt, 'new'), 'x')).rejects.toMatchObject({ code: 'EROFS' });
      expect(svc.server.connections().length).toBeGreaterThan(0);
      await unmountNbdExport(mnt, { stateDir });
      torn = true;
    } finally {
      if (!torn) await teardownMount(state, { stateDir });
    }
    await expectGone(mnt, state.attach);
    expect(existsSync(mountStatePath(stateDir, mnt))).toBe(false);
    expect(existsSync(mountWorkDir(stateDir, mnt))).toBe(false);
    await until(() => svc.server.connections().length === 0);
  });

  it('tears down a crash-interrupted attach from its recorded state (twice, harmlessly)', async () => {
    const mnt = path.join(dir, 'mnt-partial');
    const state: MountState = { version: MOUNT_STATE_VERSION, mountPoint: mnt, nbdUri: svc.uri, attach: { kind: 'nbdfuse-loop' }, mounted: false, createdAt: new Date().toISOString() };
    await saveMountState(stateDir, state);
    const attached = await new NbdfuseLoopAttacher().attach(svc.uri, mountWorkDir(stateDir, mnt), async (a) => {
      state.attach = { ...a };
      await saveMountState(stateDir, state);
    });
    // "crash" here: loop device and nbdfuse exist, nothing mounted; a new process only has the record.
    const recorded = (await loadMountState(stateDir, mnt))!;
    expect(recorded.attach).toEqual(attached);
    expect((await head(attached.device, 4096)).equals(fixture.imageBytes.subarray(0, 4096))).toBe(true);
    await teardownMount(recorded, { stateDir });
    await expectGone(mnt, attached);
    await teardownMount(recorded, { stateDir });
    expect(await loadMountState(stateDir, mnt)).toBeUndefined();
  });

  it('a failed mount (not ext4) undoes its attach and leaves no record', async () => {
    const zeros = path.join(dir, 'zeros.img');
    writeFileSync(zeros, Buffer.alloc(4 * 1024 * 1024));
    const zdev = await FileBlockDevice.open(zeros);
    const zsvc = await serveNbd(zdev, { socketPath: path.join(dir, 'zeros.sock'), exportName: 'zeros' });
    const mnt = path.join(dir, 'mnt-zeros');
    try {
      await expect(mountNbdExport(zsvc.uri, mnt, { stateDir })).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      expect(await loadMountState(stateDir, mnt)).toBeUndefined();
      expect((await readMountTable()).some((m) => m.mountPoint === mnt || m.mountPoint.startsWith(mountWorkDir(stateDir, mnt)))).toBe(false);
      const { stdout } = await exec('losetup', ['-a']);
      expect(stdout).not.toContain(mountWorkDir(stateDir, mnt));
      await until(() => zsvc.server.connections().length === 0);
    } finally {
      await zsvc.close();
      await zdev.close();
    }
  });
});
