// NBD benchmark: warm sequential throughput (nbdcopy) and 4 KiB random read latency, our server against nbdkit's file plugin.
import { execFile, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, openSync, writeSync, closeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import type { BlockDevice } from '../../src/format/block-device.js';
import { FileBlockDevice } from '../../src/io/file-block-device.js';
import { serveNbd } from '../../src/nbd/serve-nbd.js';
import { NbdTestClient } from '../helpers/nbd-client.js';
import { SeededRandom } from '../helpers/random.js';
import { BENCHMARKS_DOC, writeBenchmarkSection } from './benchmarks-doc.js';

const exec = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const IMAGE_BYTES = 256 * 1024 * 1024;
const ROUNDS = Number(process.env.NBD_BENCH_ROUNDS ?? 3);
const READS = Number(process.env.NBD_BENCH_READS ?? 2000);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const pct = (xs: number[], p: number) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((xs.length * p) / 100))]!;
const f2 = (x: number) => x.toFixed(2);

const dir = mkdtempSync(path.join(tmpdir(), 'turbo-nbd-bench-'));
const image = path.join(dir, 'image.raw');
const fd = openSync(image, 'w');
for (let i = 0; i < IMAGE_BYTES; i += 16 << 20) writeSync(fd, randomBytes(16 << 20));
closeSync(fd);

const device = await FileBlockDevice.open(image);
const ours = await serveNbd(device, { socketPath: path.join(dir, 'ours.sock'), exportName: '' });
// The same bytes from memory: separates the server's own cost from FileBlockDevice's pread into fresh buffers.
const bytes = readFileSync(image);
const memoryDevice: BlockDevice = { sizeBytes: IMAGE_BYTES, blockBytes: 4096, read: async (o, l) => bytes.subarray(o, o + l), close: async () => undefined };
const oursMem = await serveNbd(memoryDevice, { socketPath: path.join(dir, 'mem.sock'), exportName: '' });
const memUri = `nbd+unix:///?socket=${path.join(dir, 'mem.sock')}`;
const nbdkitSock = path.join(dir, 'nbdkit.sock');
const nbdkitPid = path.join(dir, 'nbdkit.pid');
await exec('nbdkit', ['-r', '-U', nbdkitSock, '-P', nbdkitPid, 'file', `file=${image}`]);
const kitUri = `nbd+unix:///?socket=${nbdkitSock}`;
const ourUri = `nbd+unix:///?socket=${path.join(dir, 'ours.sock')}`;

try {
  // Warm sequential read: nbdcopy to null: (4 connections x 64 requests, its defaults against a multi-conn server).
  async function copySeconds(uri: string): Promise<number> {
    const t = process.hrtime.bigint();
    await new Promise<void>((resolve, reject) => {
      const child = spawn('nbdcopy', [uri, 'null:'], { stdio: 'inherit' });
      child.once('exit', (code) => (code === 0 ? resolve() : reject(new Error(`nbdcopy exit ${code}`))));
    });
    return Number(process.hrtime.bigint() - t) / 1e9;
  }
  await copySeconds(ourUri);
  await copySeconds(memUri);
  await copySeconds(kitUri);
  const ourSec: number[] = [];
  const memSec: number[] = [];
  const kitSec: number[] = [];
  const ratios: number[] = [];
  const memRatios: number[] = [];
  const memCpu: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const a = await copySeconds(ourUri);
    const c0 = process.cpuUsage();
    const m = await copySeconds(memUri);
    const c = process.cpuUsage(c0);
    const b = await copySeconds(kitUri);
    ourSec.push(a);
    memSec.push(m);
    kitSec.push(b);
    ratios.push(b / a);
    memRatios.push(b / m);
    memCpu.push((c.user + c.system) / 1e6);
  }
  const mbps = (s: number) => IMAGE_BYTES / s / 1e6;

  // 4 KiB random reads, one at a time: direct device, our server, nbdkit (both through the same node client).
  const rnd = new SeededRandom('nbd-bench');
  const offsets = Array.from({ length: READS }, () => 4096 * rnd.int(IMAGE_BYTES / 4096));
  async function latencies(read: (offset: number) => Promise<Buffer>): Promise<number[]> {
    for (const o of offsets.slice(0, 200)) await read(o);
    const out: number[] = [];
    for (const o of offsets) {
      const t = process.hrtime.bigint();
      await read(o);
      out.push(Number(process.hrtime.bigint() - t) / 1e6);
    }
    return out;
  }
  const direct = await latencies((o) => device.read(o, 4096));
  const ourClient = await NbdTestClient.open({ socketPath: path.join(dir, 'ours.sock') });
  await ourClient.info('', true);
  const viaOurs = await latencies((o) => ourClient.read(o, 4096));
  await ourClient.disconnect();
  const kitClient = await NbdTestClient.open({ socketPath: nbdkitSock });
  await kitClient.info('', true);
  const viaKit = await latencies((o) => kitClient.read(o, 4096));
  await kitClient.disconnect();

  const load = readFileSync('/proc/loadavg', 'utf8').split(' ')[0];
  const section = `## nbd

\`npm run bench -- nbd\` (test/bench/nbd.ts), run ${new Date().toISOString().slice(0, 16)}Z. A 256 MiB image of random bytes
in the page cache, served from a \`FileBlockDevice\` by our \`NbdServer\` (in the benchmark process) and by
\`nbdkit -r file\` (nbdkit ${(await exec('nbdkit', ['--version'])).stdout.trim().split(' ')[1]}), both on unix sockets. 1-minute load average at the end: ${load} (2 shared cores).

| warm sequential read, \`nbdcopy <uri> null:\` (${ROUNDS} interleaved rounds after one warm-up each) | median s | MB/s | × nbdkit |
|---|---|---|---|
| our NbdServer, \`FileBlockDevice\` | ${f2(median(ourSec))} | ${mbps(median(ourSec)).toFixed(0)} | ${f2(median(ratios))} |
| our NbdServer, in-memory device (server CPU per copy: ${f2(median(memCpu))} s) | ${f2(median(memSec))} | ${mbps(median(memSec)).toFixed(0)} | ${f2(median(memRatios))} |
| nbdkit file plugin | ${f2(median(kitSec))} | ${mbps(median(kitSec)).toFixed(0)} | 1.00 |

| 4 KiB random reads, one at a time (${READS} reads after 200 warm-up) | p50 ms | p99 ms | p50 × direct |
|---|---|---|---|
| \`FileBlockDevice.read\` directly (no NBD) | ${f2(pct(direct, 50))} | ${f2(pct(direct, 99))} | 1.00 |
| our NbdServer, node test client in the same process | ${f2(pct(viaOurs, 50))} | ${f2(pct(viaOurs, 99))} | ${f2(pct(viaOurs, 50) / pct(direct, 50))} |
| nbdkit file plugin, same node client | ${f2(pct(viaKit, 50))} | ${f2(pct(viaKit, 99))} | ${f2(pct(viaKit, 50) / pct(direct, 50))} |
`;
  console.log(`\n${section}`);
  writeBenchmarkSection('nbd', section);
  console.log(`wrote the nbd section of ${path.relative(ROOT, BENCHMARKS_DOC)}`);
} finally {
  await ours.close();
  await oursMem.close();
  await device.close();
  const pid = Number(readFileSync(nbdkitPid, 'utf8'));
  if (pid > 0) process.kill(pid, 'SIGTERM');
  rmSync(dir, { recursive: true, force: true });
}
