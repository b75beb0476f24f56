// Read traces (docs/format.md "Read trace v1"): the device ranges a workload read, recorded by one run and prefetched by the next.
import { randomBytes } from 'node:crypto';
import { readFile, rename, writeFile } from 'node:fs/promises';

import { ImageError } from '../errors.js';

/** Version written in `version`. */
export const READ_TRACE_VERSION = 1;

/** A read trace in memory. */
export interface ReadTrace {
  version: number;
  /** Digest of the image manifest the device served. */
  image: string;
  /** Device byte ranges [offset, length] in first-read order, 4 KiB-aligned, non-overlapping. */
  ranges: [number, number][];
}

/** Collects the 4 KiB blocks a device reads, in first-read order. */
export class TraceRecorder {
  readonly #blocks = new Set<number>();

  /** Notes a read of `length` bytes at `offset`. */
  add(offset: number, length: number): void {
    for (let b = Math.floor(offset / 4096); b * 4096 < offset + length; b++) this.#blocks.add(b);
  }

  /** The trace: runs of consecutive blocks, in the order their first block was read. */
  trace(image: string): ReadTrace {
    const ranges: [number, number][] = [];
    let start = -1;
    let prev = -2;
    for (const b of this.#blocks) {
      if (b === prev + 1) {
        prev = b;
        continue;
      }
      if (start >= 0) ranges.push([start * 4096, (prev - start + 1) * 4096]);
      start = prev = b;
    }
    if (start >= 0) ranges.push([start * 4096, (prev - start + 1) * 4096]);
    return { version: READ_TRACE_VERSION, image, ranges };
  }
}

/** Writes a trace as JSON (temp file + rename). */
export async function writeReadTrace(file: string, trace: ReadTrace): Promise<void> {
  const tmp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  await writeFile(tmp, `${JSON.stringify(trace)}\n`);
  await rename(tmp, file);
}

/** Reads and checks a trace file (INVALID_ARGUMENT when it is not a v1 trace). */
export async function readReadTrace(file: string): Promise<ReadTrace> {
  let t: ReadTrace;
  try {
    t = JSON.parse(await readFile(file, 'utf8')) as ReadTrace;
  } catch (cause) {
    throw new ImageError('INVALID_ARGUMENT', `cannot read the trace ${file}`, { cause });
  }
  const ok = t && t.version === READ_TRACE_VERSION && typeof t.image === 'string' && Array.isArray(t.ranges) && t.ranges.every((r) => Array.isArray(r) && r.length === 2 && Number.isSafeInteger(r[0]) && Number.isSafeInteger(r[1]) && r[0] >= 0 && r[1] > 0);
  if (!ok) throw new ImageError('INVALID_ARGUMENT', `${file} is not a read trace v${READ_TRACE_VERSION}`);
  return t;
}
