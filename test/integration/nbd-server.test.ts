// NBD server against real clients: nbdinfo, nbdcopy and qemu-img (libnbd/qemu) over unix socket and TCP, plus our own client.
import { execFile } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ImageError } from '../../src/errors.js';
import { NBD_CMD, NBD_ERRNO, NBD_FLAG_CAN_MULTI_CONN, NBD_FLAG_READ_ONLY, NBD_FLAG_SEND_FLUSH, NBD_OPT, NBD_REP } from '../../src/format/nbd/constants.js';
import { FileBlockDevice } from '../../src/io/file-block-device.js';
import type { NbdConnectionStats, NbdRequestEvent } from '../../src/nbd/connection-stats.js';
import { NbdServer, nbdUri, type NbdEndpoint } from '../../src/nbd/nbd-server.js';
import { serveNbd } from '../../src/nbd/serve-nbd.js';
import { missingNeeds } from '../helpers/capabilities.js';
import { NbdReplyError, NbdTestClient, type NbdTarget } from '../helpers/nbd-client.js';
import { corruptRangeDevice, gatedDevice, makeExt4TreeImage, type Ext4TreeImage } from '../helpers/nbd-fixture.js';
import { SeededRandom } from '../helpers/random.js';
import { makeTempDir } from '../helpers/tmpdir.js';

const exec = promisify(execFile);
const dir = makeTempDir('turbo-nbd-');
const BAD_START = 1024 * 1024;
const BAD_END = BAD_START + 8192;

let fixture: Ext4TreeImage;
let device: FileBlockDevice;
let server: NbdServer;
let unix: NbdEndpoint;
let tcp: NbdEndpoint;
const errors: ImageError[] = [];
const events: NbdRequestEvent[] = [];
const disconnected: NbdConnectionStats[] = [];

const target = (e: NbdEndpoint): NbdTarget => (e.kind === 'unix' ? { socketPath: e.socketPath! } : { host: e.host!, port: e.port! });

async function expectErrno(p: Promise<unknown>, errno: number): Promise<void> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(NbdReplyError);
  expect((err as NbdReplyError).errno).toBe(errno);
}

async function goClient(e: NbdEndpoint, name = 'disk'): Promise<NbdTestClient> {
  const c = await NbdTestClient.open(target(e));
  expect(await c.info(name, true)).toBe(NBD_REP.ACK);
  return c;
}

beforeAll(async () => {
  fixture = await makeExt4TreeImage(dir, 'nbd-server-tree');
  device = await FileBlockDevice.open(fixture.imagePath);
  server = new NbdServer(
    [
      { name: 'disk', description: 'test image', device },
      { name: 'broken', device: corruptRangeDevice(device, BAD_START, BAD_END) },
    ],
    { hooks: { onError: (e) => errors.push(e), onRequest: (e) => events.push(e), onDisconnect: (s) => disconnected.push(s) } },
  );
  unix = await server.listen({ socketPath: path.join(dir, 'nbd.sock') });
  tcp = await server.listen({ tcp: { port: 0 } });
});

afterAll(async () => {
  await server?.close();
  await device?.close();
});

describe('NBD server with our client', () => {
  it('negotiates GO with export, name, description and block size infos', async () => {
    const c = await NbdTestClient.open(target(unix));
    expect(await c.list()).toEqual(['disk', 'broken']);
    expect(await c.info('disk', false)).toBe(NBD_REP.ACK);
    expect(await c.info('nope', false)).toBe(NBD_REP.ERR_UNKNOWN);
    expect((await c.rawOption(NBD_OPT.STRUCTURED_REPLY)).type).toBe(NBD_REP.ERR_UNSUP);
    expect((await c.rawOption(NBD_OPT.LIST, Buffer.from('x'))).type).toBe(NBD_REP.ERR_INVALID);
    expect((await c.rawOption(NBD_OPT.GO, Buffer.from([0, 0, 0, 9]))).type).toBe(NBD_REP.ERR_INVALID);
    expect(await c.info('', true)).toBe(NBD_REP.ACK); // "" is the default export
    expect(c.sizeBytes).toBe(BigInt(fixture.imageBytes.length));
    expect(c.transmissionFlags & (NBD_FLAG_READ_ONLY | NBD_FLAG_SEND_FLUSH | NBD_FLAG_CAN_MULTI_CONN)).toBe(NBD_FLAG_READ_ONLY | NBD_FLAG_SEND_FLUSH | NBD_FLAG_CAN_MULTI_CONN);
    expect(c.infos).toContainEqual({ type: 'name', name: 'disk' });
    expect(c.infos).toContainEqual({ type: 'description', description: 'test image' });
    expect(c.infos).toContainEqual({ type: 'blockSize', minimumBytes: 1, preferredBytes: 4096, maximumBytes: 32 * 1024 * 1024 });
    expect((await c.read(0, 4096)).equals(fixture.imageBytes.subarray(0, 4096))).toBe(true);
    await c.disconnect();
  });

  it('serves 64 concurrent random reads (unaligned too) over unix and TCP, each equal to the image', async () => {
    for (const e of [unix, tcp]) {
      const c = await goClient(e);
      const rnd = new SeededRandom(`nbd-reads-${e.kind}`);
      const size = fixture.imageBytes.length;
      const reqs = Array.from({ length: 64 }, (_, i) => {
        const length = i % 4 === 0 ? 4096 : 1 + rnd.int(200_000);
        const offset = i % 4 === 0 ? 4096 * rnd.int(size / 4096) : rnd.int(size - length);
        return { offset, length };
      });
      const got = await Promise.all(reqs.map((r) => c.read(r.offset, r.length)));
      reqs.forEach((r, i) => expect(got[i]!.equals(fixture.imageBytes.subarray(r.offset, r.offset + r.length))).toBe(true));
      await c.disconnect();
    }
  });

  it('replies out of order: 64 reads held by the device and released in reverse come back reversed', async () => {
    const gated = gatedDevice(device, 64);
    const svc = await serveNbd(gated, { socketPath: path.join(dir, 'gated.sock'), exportName: 'g' });
    const c = await goClient(svc.endpoints[0]!, 'g');
    const order: number[] = [];
    const reads = Array.from({ length: 64 }, (_, i) => c.read(i * 4096, 4096).then((b) => (order.push(i), b)));
    const got = await Promise.all(reads);
    expect(order).toEqual(Array.from({ length: 64 }, (_, i) => 63 - i));
    got.forEach((b, i) => expect(b.equals(fixture.imageBytes.subarray(i * 4096, (i + 1) * 4096))).toBe(true));
    await c.disconnect();
    await svc.close();
  });

  it('bounds requests in flight per connection (backpressure) without serializing them', async () => {
    const gated = gatedDevice(device, 4);
    const svc = await serveNbd(gated, { socketPath: path.join(dir, 'bp.sock'), exportName: 'bp', maxInFlightRequests: 4 });
    const c = await goClient(svc.endpoints[0]!, 'bp');
    const got = await Promise.all(Array.from({ length: 64 }, (_, i) => c.read(i * 512, 512)));
    got.forEach((b, i) => expect(b.equals(fixture.imageBytes.subarray(i * 512, (i + 1) * 512))).toBe(true));
    expect(gated.maxPending).toBe(4);
    expect(gated.releasedBatches).toBe(16);
    const stats = svc.server.connections()[0]!;
    expect(stats.maxInFlight).toBe(4);
    await c.disconnect();
    await svc.close();
  });

  it('refuses writes with EPERM, rejects bad reads with EINVAL, flushes, and keeps the connection', async () => {
    const c = await goClient(unix);
    const size = fixture.imageBytes.length;
    await expectErrno(c.command(NBD_CMD.WRITE, 0n, 5000, Buffer.alloc(5000, 7)), NBD_ERRNO.EPERM);
    await expectErrno(c.command(NBD_CMD.TRIM, 0n, 4096), NBD_ERRNO.EPERM);
    await expectErrno(c.command(NBD_CMD.WRITE_ZEROES, 0n, 4096), NBD_ERRNO.EPERM);
    await expectErrno(c.command(77), NBD_ERRNO.EINVAL);
    await expectErrno(c.read(size - 100, 101), NBD_ERRNO.EINVAL);
    await expectErrno(c.read(2n ** 64n - 1n, 1), NBD_ERRNO.EINVAL);
    await expectErrno(c.read(0, 0), NBD_ERRNO.EINVAL);
    await expectErrno(c.read(0, 32 * 1024 * 1024 + 1), NBD_ERRNO.EINVAL);
    await c.command(NBD_CMD.FLUSH);
    expect((await c.read(size - 100, 100)).equals(fixture.imageBytes.subarray(size - 100))).toBe(true);
    expect(readFileSync(fixture.imagePath).equals(fixture.imageBytes)).toBe(true);
    await c.disconnect();
  });

  it('a device error (CORRUPT) becomes EIO for that request only; the connection survives', async () => {
    const c = await goClient(unix, 'broken');
    const before = errors.length;
    const [bad, good] = await Promise.allSettled([c.read(BAD_START + 100, 10), c.read(0, 4096)]);
    expect(bad.status).toBe('rejected');
    expect(((bad as PromiseRejectedResult).reason as NbdReplyError).errno).toBe(NBD_ERRNO.EIO);
    expect(good.status === 'fulfilled' && good.value.equals(fixture.imageBytes.subarray(0, 4096))).toBe(true);
    expect(errors.slice(before).map((e) => e.code)).toEqual(['CORRUPT']);
    expect((await c.read(BAD_END, 4096)).equals(fixture.imageBytes.subarray(BAD_END, BAD_END + 4096))).toBe(true);
    expect(events.some((e) => e.errno === NBD_ERRNO.EIO && e.offset === BAD_START + 100)).toBe(true);
    await c.disconnect();
  });

  it('supports NBD_OPT_EXPORT_NAME and closes on an unknown export or a protocol violation', async () => {
    const c = await NbdTestClient.open(target(tcp));
    await c.exportName('disk');
    expect(c.sizeBytes).toBe(BigInt(fixture.imageBytes.length));
    expect((await c.read(8192, 100)).equals(fixture.imageBytes.subarray(8192, 8292))).toBe(true);
    await c.disconnect();

    const bad = await NbdTestClient.open(target(tcp));
    await expect(bad.exportName('nope')).rejects.toThrow();
    await bad.closed;

    const garbage = await goClient(unix);
    const before = errors.length;
    garbage.writeRaw(Buffer.alloc(28, 0x55));
    await garbage.closed;
    expect(errors.slice(before).some((e) => e.code === 'CORRUPT')).toBe(true);
  });

  it('NBD_CMD_DISC answers the reads still in flight, then closes', async () => {
    const c = await goClient(unix);
    const reads = Array.from({ length: 16 }, (_, i) => c.read(i * 65536 + 17, 65536));
    const disc = c.disconnect(); // sent right behind the reads: parsed while they are in flight
    const got = await Promise.all(reads);
    got.forEach((b, i) => expect(b.equals(fixture.imageBytes.subarray(i * 65536 + 17, (i + 1) * 65536 + 17))).toBe(true));
    await disc;
    // Every connection of the tests so far ends on the server too (no half-open sockets left behind).
    while (server.connections().length > 0) await new Promise((r) => setTimeout(r, 10));
    expect(disconnected.length).toBeGreaterThan(0);
    expect(disconnected.every((s) => s.inFlight === 0)).toBe(true);
  });

  it('close() waits for in-flight replies, then ends the connections', async () => {
    const gated = gatedDevice(device, 8);
    const svc = await serveNbd(gated, { socketPath: path.join(dir, 'close.sock'), tcp: {}, exportName: 'c' });
    const c = await goClient(svc.endpoints[1]!, 'c');
    const reads = Array.from({ length: 7 }, (_, i) => c.read(i * 4096, 4096));
    while (svc.server.connections()[0]?.inFlight !== 7) await new Promise((r) => setTimeout(r, 5));
    const closing = svc.close();
    const late = c.read(7 * 4096, 4096); // sent after close() began: never started, so it cannot hold the close up
    void late.catch(() => undefined);
    await gated.read(7 * 4096, 1); // an 8th pending read (not through NBD) opens the gate
    const got = await Promise.all(reads);
    got.forEach((b, i) => expect(b.equals(fixture.imageBytes.subarray(i * 4096, (i + 1) * 4096))).toBe(true));
    await closing;
    await c.closed;
    await expect(late).rejects.toThrow();
    await expect(NbdTestClient.open(target(svc.endpoints[1]!))).rejects.toThrow();
  });
});

describe.skipIf(missingNeeds({ commands: ['nbdinfo', 'nbdcopy', 'qemu-img'] }))('NBD server with libnbd and qemu clients', () => {
  it('nbdinfo --json reports size, read-only, flush, multi-conn and block sizes over unix and TCP', async () => {
    for (const e of [unix, tcp]) {
      const { stdout } = await exec('nbdinfo', ['--json', nbdUri(e, 'disk')]);
      const info = JSON.parse(stdout) as { protocol: string; exports: Record<string, unknown>[] };
      expect(info.protocol).toBe('newstyle-fixed');
      const x = info.exports[0]!;
      expect(x).toMatchObject({
        'export-name': 'disk',
        'export-size': fixture.imageBytes.length,
        is_read_only: true,
        can_flush: true,
        can_multi_conn: true,
        can_trim: false,
        can_zero: false,
        block_size_minimum: 1,
        block_size_preferred: 4096,
        block_size_maximum: 32 * 1024 * 1024,
      });
      expect(String(x.content)).toContain('ext4');
    }
  });

  it('nbdinfo --list lists both exports', async () => {
    const { stdout } = await exec('nbdinfo', ['--list', '--json', nbdUri(unix, '')]);
    const names = (JSON.parse(stdout) as { exports: { 'export-name': string }[] }).exports.map((x) => x['export-name']);
    expect(names.sort()).toEqual(['broken', 'disk']);
  });

  it('nbdcopy (many requests in flight, several connections) copies the image byte for byte', async () => {
    for (const [e, extra] of [
      [unix, []],
      [tcp, ['--connections=4', '--requests=64', '--request-size=65536']],
    ] as const) {
      const out = path.join(dir, `copy-${e.kind}.img`);
      await exec('nbdcopy', [...extra, nbdUri(e, 'disk'), out]);
      expect(readFileSync(out).equals(fixture.imageBytes)).toBe(true);
    }
  });

  it('qemu-img compare sees an identical image', async () => {
    const { stdout } = await exec('qemu-img', ['compare', '-f', 'raw', '-F', 'raw', fixture.imagePath, nbdUri(unix, 'disk')]);
    expect(stdout).toContain('identical');
  });

  it('nbdcopy of the broken export fails instead of copying wrong bytes', async () => {
    const out = path.join(dir, 'broken.img');
    await expect(exec('nbdcopy', [nbdUri(unix, 'broken'), out])).rejects.toThrow();
  });
});
