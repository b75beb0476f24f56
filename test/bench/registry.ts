// Registry benchmark: verified blob download vs `curl -o /dev/null` on the same blob, and ranged 1 MiB reads/s on a warm pool.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import net from 'node:net';

import { RegistryClient } from '../../src/registry/registry-client.js';
import { SeededRandom } from '../helpers/random.js';
import { startRegistry } from '../helpers/registry-server.js';

const BLOB_MIB = Number(process.env.BENCH_REGISTRY_BLOB_MIB ?? 256);
const ROUNDS = 5;
const RANGE_BYTES = 1024 * 1024;
const RANGE_READS = 200;

function* blobChunks(): Generator<Buffer> {
  const block = new SeededRandom('bench-registry').bytes(1024 * 1024);
  for (let i = 0; i < BLOB_MIB; i++) {
    const piece = Buffer.from(block);
    piece.writeUInt32LE(i, 0);
    yield piece;
  }
}

const registry = await startRegistry();
const client = new RegistryClient();
try {
  const repo = client.repository(registry.host, 'bench/blob');
  const hash = createHash('sha256');
  for (const c of blobChunks()) hash.update(c);
  const digest = `sha256:${hash.digest('hex')}`;
  const size = BLOB_MIB * 1024 * 1024;
  await repo.putBlob(digest, size, async function* () {
    yield* blobChunks();
  });
  const url = `${registry.url}/v2/bench/blob/blobs/${digest}`;

  /** The ceiling of any Node HTTP client here: a bare socket that sends the GET and only counts the bytes. */
  const rawSocketMiBs = () =>
    new Promise<number>((resolve, reject) => {
      const u = new URL(url);
      const started = performance.now();
      let bytes = 0;
      const socket = net.connect(Number(u.port), u.hostname, () => socket.write(`GET ${u.pathname} HTTP/1.1\r\nHost: ${u.host}\r\nConnection: close\r\n\r\n`));
      socket.on('data', (c: Buffer) => (bytes += c.length));
      socket.on('error', reject);
      socket.on('end', () => (bytes < size ? reject(new Error('short raw read')) : resolve(BLOB_MIB / ((performance.now() - started) / 1000))));
    });

  const curlMiBs: number[] = [];
  const rawMiBs: number[] = [];
  const oursMiBs: number[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const speed = Number(execFileSync('curl', ['-s', '-o', '/dev/null', '-w', '%{speed_download}', url], { encoding: 'utf8' }));
    curlMiBs.push(speed / 1024 / 1024);
    rawMiBs.push(await rawSocketMiBs());
    const started = performance.now();
    let got = 0;
    for await (const chunk of await repo.getBlob(digest, size)) got += (chunk as Buffer).length;
    if (got !== size) throw new Error(`short read ${got}`);
    oursMiBs.push(BLOB_MIB / ((performance.now() - started) / 1000));
  }
  const best = (xs: number[]) => Math.max(...xs);

  const rnd = new SeededRandom('bench-ranges');
  const offsets = Array.from({ length: RANGE_READS }, () => rnd.int(size - RANGE_BYTES));
  await repo.getBlobRange(digest, 0, RANGE_BYTES); // warm the pool
  let started = performance.now();
  for (const off of offsets) await repo.getBlobRange(digest, off, RANGE_BYTES);
  const serialPerS = RANGE_READS / ((performance.now() - started) / 1000);
  started = performance.now();
  let next = 0;
  await Promise.all(
    Array.from({ length: 8 }, async () => {
      while (next < offsets.length) await repo.getBlobRange(digest, offsets[next++]!, RANGE_BYTES);
    }),
  );
  const parallelPerS = RANGE_READS / ((performance.now() - started) / 1000);

  // Reference: one curl process fetching the same number of 1 MiB ranges over one reused connection.
  const curlArgs = ['-s', '-r', `${offsets[0]}-${offsets[0]! + RANGE_BYTES - 1}`];
  for (let i = 0; i < RANGE_READS; i++) curlArgs.push('-o', '/dev/null', url);
  started = performance.now();
  execFileSync('curl', curlArgs);
  const curlRangesPerS = RANGE_READS / ((performance.now() - started) / 1000);

  const ratio = best(oursMiBs) / best(curlMiBs);
  console.log(`registry benchmark (distribution 2.8.2 on 127.0.0.1, ${BLOB_MIB} MiB blob, best of ${ROUNDS})`);
  console.log('| measure | value |');
  console.log('|---|---|');
  console.log(`| curl -o /dev/null | ${best(curlMiBs).toFixed(0)} MiB/s |`);
  console.log(`| bare Node socket, bytes counted only (no HTTP parsing, no hashing) | ${best(rawMiBs).toFixed(0)} MiB/s |`);
  console.log(`| getBlob (streamed, sha256-verified) | ${best(oursMiBs).toFixed(0)} MiB/s |`);
  console.log(`| **ratio getBlob / curl** | **${(ratio * 100).toFixed(0)} %** (target >= 80 %) |`);
  console.log(`| ratio getBlob / bare Node socket | ${((100 * best(oursMiBs)) / best(rawMiBs)).toFixed(0)} % |`);
  console.log(`| ranged 1 MiB reads, 1 at a time, warm pool | ${serialPerS.toFixed(0)} reads/s (${serialPerS.toFixed(0)} MiB/s) |`);
  console.log(`| ranged 1 MiB reads, 8 in flight | ${parallelPerS.toFixed(0)} reads/s |`);
  console.log(`| curl: the same number of 1 MiB ranges on one reused connection | ${curlRangesPerS.toFixed(0)} reads/s |`);
  console.log(`| ratio ranged reads one at a time / curl | ${((100 * serialPerS) / curlRangesPerS).toFixed(0)} % |`);
  const list = (xs: number[]) => xs.map((x) => x.toFixed(0)).join(', ');
  console.log(`rounds MiB/s: curl ${list(curlMiBs)}; bare socket ${list(rawMiBs)}; getBlob ${list(oursMiBs)}; load average ${(await import('node:os')).loadavg()[0]!.toFixed(1)}`);
} finally {
  await client.close();
  await registry.stop();
}
