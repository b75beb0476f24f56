// Runs the built `turbo-snapshotter` binary (dist/) as a detached daemon in its own process group: start, stop, crash.
import { spawn } from 'node:child_process';
import { closeSync, openSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** Path of the built daemon entry point. */
export const SNAPSHOTTER_PATH = path.resolve(import.meta.dirname, '../../dist/src/cli/snapshotter-main.js');

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** A running turbo-snapshotter process. */
export interface SnapshotterDaemon {
  /** Its pid (also its process group id). */
  pid: number;
  /** File collecting its stdout and stderr. */
  logFile: string;
  /** Resolves with the exit code (or the signal name) once the process has exited. */
  exited: Promise<number | string>;
  /** SIGTERM (a clean shutdown); SIGKILL to the group after `timeoutMs`. Resolves with the exit code or signal. */
  stop(timeoutMs?: number): Promise<number | string>;
  /** SIGKILL to the whole process group, like a crash; resolves once it is gone. */
  kill(): Promise<void>;
}

/** Sends `signal` to process group `pgid`, ignoring a group that is already gone. */
function killGroup(pgid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pgid, signal);
  } catch {
    // gone already
  }
}

/** Options of startSnapshotterDaemon: extra environment variables (e.g. a PATH with wrapped tools) and the start deadline. */
export interface SnapshotterDaemonOptions {
  env?: Record<string, string>;
  timeoutMs?: number;
}

/**
 * Starts `node dist/src/cli/snapshotter-main.js args…` detached (own session and process group, output appended to
 * `logFile`) and resolves once it printed "serving" (its socket listens). Rejects with the log's tail if it exits first
 * or does not serve within the deadline (default 60 s).
 */
export async function startSnapshotterDaemon(args: string[], logFile: string, options: SnapshotterDaemonOptions = {}): Promise<SnapshotterDaemon> {
  const timeoutMs = options.timeoutMs ?? 60_000;
  const offset = (() => {
    try {
      return readFileSync(logFile).length;
    } catch {
      return 0;
    }
  })();
  const fd = openSync(logFile, 'a');
  const child = spawn(process.execPath, [SNAPSHOTTER_PATH, ...args], { detached: true, stdio: ['ignore', fd, fd], env: { ...process.env, ...options.env } });
  closeSync(fd);
  let done: number | string | undefined;
  const exited = new Promise<number | string>((resolve) => {
    child.once('error', (err) => resolve((done = err.message)));
    child.once('exit', (code, signal) => resolve((done = code ?? signal ?? -1)));
  });
  const pid = child.pid;
  const ownLog = () => readFileSync(logFile).subarray(offset).toString();
  const daemon: SnapshotterDaemon = {
    pid: pid ?? -1,
    logFile,
    exited,
    async stop(stopTimeoutMs = 20_000) {
      if (done === undefined && pid !== undefined) process.kill(pid, 'SIGTERM');
      const timer = setTimeout(() => pid !== undefined && killGroup(pid, 'SIGKILL'), stopTimeoutMs);
      const result = await exited;
      clearTimeout(timer);
      return result;
    },
    async kill() {
      if (pid !== undefined) killGroup(pid, 'SIGKILL');
      await exited;
    },
  };
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (done !== undefined) throw new Error(`turbo-snapshotter exited (${done}) before serving: ${ownLog().slice(-2000)}`);
    if (/turbo-snapshotter: serving /.test(ownLog())) return daemon;
    if (Date.now() > deadline) {
      await daemon.kill();
      throw new Error(`turbo-snapshotter did not serve within ${timeoutMs} ms: ${ownLog().slice(-2000)}`);
    }
    await sleep(50);
  }
}
