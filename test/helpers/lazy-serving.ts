// How the lazy snapshotter tests serve chains in process (serve-nbd as the built CLI, no disk cache) and read the served files.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ServeNbdLauncher } from '../../src/snapshotter/chain-mounts.js';
import { CLI_PATH } from './turbo-index-cli.js';

/** serve-nbd as the built CLI without a disk cache, so every byte read is fetched (and a proxy log counts it). */
export const UNCACHED_SERVE_NBD: ServeNbdLauncher = { command: [process.execPath, CLI_PATH], extraArgs: ['--no-disk-cache'] };

/**
 * Reads a file in a child process: when the registry (or its proxy) runs in this process, a blocking read here of a
 * lazily served file would wait for a fetch this process can no longer answer.
 */
export async function readInChild(file: string): Promise<Buffer> {
  return (await promisify(execFile)('cat', [file], { encoding: 'buffer', maxBuffer: 1 << 24 })).stdout;
}
