// Attaches an NBD export without kernel nbd: nbdfuse exposes it as a read-only FUSE file, losetup -r makes it a loop device.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { access, mkdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';

import { NBDFUSE_READY_TIMEOUT_MS } from '../defaults.js';
import { ImageError } from '../errors.js';
import type { Attacher, AttachState } from './attacher.js';
import { runCommand } from './command-runner.js';
import { isMountPoint } from './mount-table.js';

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Async existence check: this code may run in the process that serves the NBD export, so it never blocks the loop. */
const exists = (p: string) => access(p).then(() => true, () => false);

/** True when `pid` runs (not a zombie) and its command line mentions `name`: guards against killing a reused pid. */
async function processRuns(pid: number, name: string): Promise<boolean> {
  try {
    const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
    if (/^\d+ \(.*\) Z/.test(stat)) return false;
    return (await readFile(`/proc/${pid}/cmdline`, 'utf8')).includes(name);
  } catch {
    return false;
  }
}

/** Waits until `pid` is gone, up to `timeoutMs`; true when it went. */
async function waitGone(pid: number, name: string, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (await processRuns(pid, name)) {
    if (Date.now() > deadline) return false;
    await sleep(50);
  }
  return true;
}

/** Sends `sig` to `pid`, ignoring a process that is already gone. */
function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // gone already
  }
}

/** The loop device's backing file, or undefined when the device is not attached. */
async function loopBackingFile(device: string): Promise<string | undefined> {
  try {
    return (await readFile(`/sys/block/${path.basename(device)}/loop/backing_file`, 'utf8')).trim();
  } catch {
    return undefined;
  }
}

/** nbdfuse (libnbd) + losetup: needs root, /dev/fuse and /dev/loop-control. */
export class NbdfuseLoopAttacher implements Attacher {
  readonly kind = 'nbdfuse-loop' as const;

  async attach(uri: string, workDir: string, record: (state: AttachState) => Promise<void>): Promise<AttachState & { device: string }> {
    const fuseDir = path.join(workDir, 'fuse');
    const fuseFile = path.join(fuseDir, 'disk.img');
    const pidFile = path.join(workDir, 'nbdfuse.pid');
    const logFile = path.join(workDir, 'nbdfuse.log');
    await mkdir(fuseDir, { recursive: true });
    await rm(pidFile, { force: true });
    const state: AttachState = { kind: this.kind, fuseDir, fuseFile };
    await record(state);

    // nbdfuse stays in the foreground; detached gives it its own session (setsid) so it outlives this process.
    const log = openSync(logFile, 'w');
    let exited: string | undefined;
    try {
      const child = spawn('nbdfuse', ['-r', '-P', pidFile, fuseFile, uri], { detached: true, stdio: ['ignore', log, log] });
      child.once('error', (err) => (exited = err.message));
      child.once('exit', (code, signal) => (exited = `exit ${code ?? signal}`));
      child.unref();
      if (child.pid === undefined) await sleep(10);
      if (child.pid !== undefined) state.nbdfusePid = child.pid;
    } finally {
      closeSync(log);
    }
    await record(state);

    // nbdfuse writes its pid file when it serves; the file then answers stat.
    const deadline = Date.now() + NBDFUSE_READY_TIMEOUT_MS;
    while (!((await exists(pidFile)) && (await exists(fuseFile)))) {
      if (exited !== undefined || Date.now() > deadline) {
        const output = await readFile(logFile, 'utf8').catch(() => '');
        throw new ImageError(exited !== undefined ? 'UNAVAILABLE' : 'TIMEOUT', `nbdfuse did not start: ${exited ?? 'timed out'}`, {
          details: { uri, fuseFile, output: output.trim().slice(0, 2000) },
          hint: 'nbdfuse needs root and /dev/fuse; check that the NBD server answers (nbdinfo <uri>)',
        });
      }
      await sleep(20);
    }

    const device = (await runCommand('losetup', ['-f', '--show', '-r', fuseFile])).trim();
    if (!device.startsWith('/dev/')) throw new ImageError('INTERNAL', 'losetup printed no device', { details: { output: device } });
    state.device = device;
    await record(state);
    return { ...state, device };
  }

  async detach(state: AttachState): Promise<void> {
    const problems: string[] = [];
    if (state.device && state.fuseFile && (await loopBackingFile(state.device)) === state.fuseFile) {
      await runCommand('losetup', ['-d', state.device]).catch((err: Error) => problems.push(err.message));
    }
    if (state.fuseDir && (await isMountPoint(state.fuseDir))) {
      await runCommand('fusermount3', ['-u', state.fuseDir]).catch(async () => {
        await sleep(200);
        await runCommand('fusermount3', ['-u', '-z', state.fuseDir!]).catch((err: Error) => problems.push(err.message));
      });
    }
    if (state.nbdfusePid !== undefined && !(await waitGone(state.nbdfusePid, 'nbdfuse', 2000))) {
      signal(state.nbdfusePid, 'SIGTERM');
      if (!(await waitGone(state.nbdfusePid, 'nbdfuse', 3000))) {
        signal(state.nbdfusePid, 'SIGKILL');
        await waitGone(state.nbdfusePid, 'nbdfuse', 3000);
      }
    }
    if (state.fuseDir && !(await isMountPoint(state.fuseDir))) await rm(state.fuseDir, { recursive: true, force: true });
    if (problems.length > 0) throw new ImageError('UNAVAILABLE', 'detaching the NBD device left parts behind', { details: { problems: problems.join('; ') } });
  }
}
