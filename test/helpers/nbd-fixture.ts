// A small ext4 image of a seeded random tree (mke2fs -d), and block devices that misbehave on purpose, for NBD tests.
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

import { ImageError } from '../../src/errors.js';
import type { BlockDevice } from '../../src/format/block-device.js';
import { SeededRandom } from './random.js';

const exec = promisify(execFile);

/** The generated tree and its ext4 image. */
export interface Ext4TreeImage {
  treeDir: string;
  imagePath: string;
  imageBytes: Buffer;
  /** Relative path -> sha256 of every regular file. */
  files: Map<string, string>;
}

/** Writes ~`totalBytes` of seeded random files in nested directories under `dir`/tree and builds `dir`/image.ext4 from it. */
export async function makeExt4TreeImage(dir: string, seed: string, totalBytes = 3 * 1024 * 1024): Promise<Ext4TreeImage> {
  const rnd = new SeededRandom(seed);
  const treeDir = path.join(dir, 'tree');
  const files = new Map<string, string>();
  let written = 0;
  for (let i = 0; written < totalBytes; i++) {
    const sub = path.join(`d${rnd.int(6)}`, rnd.int(3) === 0 ? `e${rnd.int(4)}` : '');
    const rel = path.join(sub, `f${i}.bin`);
    const size = rnd.int(4) === 0 ? rnd.int(600_000) : rnd.int(20_000);
    const data = rnd.bytes(size);
    mkdirSync(path.join(treeDir, sub), { recursive: true });
    writeFileSync(path.join(treeDir, rel), data);
    files.set(rel, createHash('sha256').update(data).digest('hex'));
    written += size;
  }
  const imagePath = path.join(dir, 'image.ext4');
  const sizeMiB = Math.ceil((totalBytes * 1.5) / (1 << 20)) + 8;
  await exec('mke2fs', ['-q', '-F', '-t', 'ext4', '-b', '4096', '-E', 'root_owner=0:0', '-d', treeDir, imagePath, `${sizeMiB}M`]);
  return { treeDir, imagePath, imageBytes: readFileSync(imagePath), files };
}

/** Wraps `inner` so reads overlapping [badStart, badEnd) fail with CORRUPT (like a span whose digest does not match). */
export function corruptRangeDevice(inner: BlockDevice, badStart: number, badEnd: number): BlockDevice {
  return {
    sizeBytes: inner.sizeBytes,
    blockBytes: inner.blockBytes,
    read: async (offset, length) => {
      if (offset < badEnd && offset + length > badStart) {
        throw new ImageError('CORRUPT', 'span digest mismatch (injected)', { details: { offset, length } });
      }
      return inner.read(offset, length);
    },
    close: async () => undefined,
  };
}

/**
 * Wraps `inner` so reads (data already fetched) are held until `gate` of them are pending, then released in reverse
 * order of their calls. Shows that the server runs reads concurrently (a serializing server would never reach the
 * gate) and replies out of order.
 */
export function gatedDevice(inner: BlockDevice, gate: number): BlockDevice & { maxPending: number; releasedBatches: number } {
  let pending: { ticket: number; resolve: () => void }[] = [];
  let calls = 0;
  const dev = {
    sizeBytes: inner.sizeBytes,
    blockBytes: inner.blockBytes,
    maxPending: 0,
    releasedBatches: 0,
    read: async (offset: number, length: number) => {
      const ticket = calls++;
      const data = await inner.read(offset, length);
      await new Promise<void>((resolve) => {
        pending.push({ ticket, resolve });
        dev.maxPending = Math.max(dev.maxPending, pending.length);
        if (pending.length >= gate) {
          const batch = pending.sort((a, b) => b.ticket - a.ticket);
          pending = [];
          dev.releasedBatches++;
          queueMicrotask(() => batch.forEach((p) => p.resolve())); // after this read's own await is registered
        }
      });
      return data;
    },
    close: async () => undefined,
  };
  return dev;
}
