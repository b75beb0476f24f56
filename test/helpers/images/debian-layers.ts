// Contents of the hand-made layers of the Debian fixture image: layer 2 (/opt/turbo) and layer 4 (opaque whiteout).
import { seededBytes, seededText, sequenceText } from './content.js';
import type { TarEntrySpec } from './tar-writer.js';

/** mtime (seconds) of everything the fixture adds on top of debootstrap: 2023-11-14T22:13:20Z. */
export const FIXTURE_EPOCH = 1_700_000_000;
/** RFC 3339 form of FIXTURE_EPOCH, for umoci's history/created flags. */
export const FIXTURE_EPOCH_RFC3339 = new Date(FIXTURE_EPOCH * 1000).toISOString().replace('.000Z', 'Z');

/** Everything debootstrap wrote later than this is clamped to it (SOURCE_DATE_EPOCH style), so layer 1 varies less. */
export const DEBOOTSTRAP_CLAMP_EPOCH = FIXTURE_EPOCH - 86_400;

/** The lower-layer (debootstrap) file that layer 2 hardlinks to. */
export const LOWER_HARDLINK_TARGET = 'usr/bin/env';
/** A directory nested deep enough that its files' paths need pax `path` records (> 100 bytes). */
export const DEEP_DIR = `opt/turbo/deep/${'d'.repeat(60)}/${'e'.repeat(60)}`;
/** A 255-byte file name (the ext4 and tar maximum). */
export const LONG_NAME = 'n'.repeat(251) + '.txt';
/** Number of small files under /opt/turbo/small. */
export const SMALL_FILE_COUNT = 200;

/** Sizes that hit block and sector boundaries, then seeded sizes for the rest of the small files. */
function smallFileSize(i: number, rnd: Buffer): number {
  const edge = [0, 1, 511, 512, 513, 4095, 4096, 4097, 8192, 60, 61];
  return i < edge.length ? edge[i]! : rnd.readUInt16LE(2 * i) % 6000;
}

/** Layer 2: /opt/turbo with data files, 200 small files, symlinks, hardlinks (same layer and lower layer), xattrs, devices. */
export function layer2Entries(optMtime: number): TarEntrySpec[] {
  const t = FIXTURE_EPOCH;
  const dir = (p: string, mode = 0o755): TarEntrySpec => ({ path: p, type: 'dir', mode, mtime: t });
  const file = (p: string, data: Buffer, extra: Partial<TarEntrySpec> = {}): TarEntrySpec => ({ path: p, type: 'file', mode: 0o644, mtime: t, data, ...extra });
  const rnd = seededBytes('layer2-sizes', 2 * SMALL_FILE_COUNT);
  const e: TarEntrySpec[] = [
    // The lower layer's /opt, repeated with its own mtime so that unpacking opt/turbo cannot leave /opt's mtime at "now".
    { path: 'opt', type: 'dir', mode: 0o755, mtime: optMtime },
    dir('opt/turbo'),
    file('opt/turbo/hello.txt', Buffer.from('hello from turbo-oci layer 2\n')),
    dir('opt/turbo/data'),
    file('opt/turbo/data/random-8M.bin', seededBytes('random-8M', 8 << 20)),
    file('opt/turbo/data/seq.txt', sequenceText(200_000)),
    dir('opt/turbo/small'),
  ];
  for (let i = 0; i < SMALL_FILE_COUNT; i++) {
    const name = `opt/turbo/small/file-${String(i).padStart(3, '0')}.txt`;
    e.push(file(name, seededText(`small-${i}`, smallFileSize(i, rnd))));
  }
  e.push(
    { path: 'opt/turbo/link-to-hello', type: 'symlink', mode: 0o777, mtime: t, linkname: 'hello.txt' },
    { path: 'opt/turbo/abs-link', type: 'symlink', mode: 0o777, mtime: t, linkname: '/usr/bin/env' },
    { path: 'opt/turbo/slow-link', type: 'symlink', mode: 0o777, mtime: t, linkname: `../turbo/data/${'x'.repeat(80)}/target-of-a-symlink-longer-than-60-bytes` },
    { path: 'opt/turbo/dangling-link', type: 'symlink', mode: 0o777, mtime: t, linkname: 'does/not/exist' },
    { path: 'opt/turbo/hardlink-to-hello', type: 'hardlink', mode: 0o644, mtime: t, linkname: 'opt/turbo/hello.txt' },
    { path: 'opt/turbo/hardlink-to-lower', type: 'hardlink', mode: 0o755, mtime: t, linkname: LOWER_HARDLINK_TARGET },
    file('opt/turbo/delete-me.txt', Buffer.from('layer 3 deletes me\n')),
    dir('opt/turbo/opaque-dir'),
    file('opt/turbo/opaque-dir/old.txt', Buffer.from('layer 3 replaces this directory\n')),
    file('opt/turbo/opaque-dir/old-2.txt', Buffer.from('also gone after layer 3\n')),
    dir('opt/turbo/opaque-target'),
    file('opt/turbo/opaque-target/a.txt', Buffer.from('hidden by the opaque whiteout of layer 4\n')),
    dir('opt/turbo/opaque-target/sub'),
    file('opt/turbo/opaque-target/sub/b.txt', Buffer.from('also hidden by layer 4\n')),
    file('opt/turbo/xattr.txt', Buffer.from('this file has extended attributes\n'), { xattrs: { 'user.turbo.comment': 'hello xattr', 'user.turbo.binary': Buffer.from([0, 1, 2, 255]) } }),
    file('opt/turbo/setuid-tool', Buffer.from('#!/bin/sh\necho setuid\n'), { mode: 0o4755 }),
    file('opt/turbo/owned-by-1000.txt', Buffer.from('uid and gid 1000\n'), { uid: 1000, gid: 1000, mode: 0o600 }),
    file('opt/turbo/big-ids.txt', Buffer.from('32-bit uid and gid\n'), { uid: 100_000, gid: 200_000 }),
    { path: 'opt/turbo/fifo', type: 'fifo', mode: 0o644, mtime: t },
    { path: 'opt/turbo/null-device', type: 'char', mode: 0o666, mtime: t, devmajor: 1, devminor: 3 },
    { path: 'opt/turbo/loop-device', type: 'block', mode: 0o660, mtime: t, devmajor: 7, devminor: 200 },
    { path: 'opt/turbo/sticky-dir', type: 'dir', mode: 0o1777, mtime: t },
    dir('opt/turbo/deep'),
    dir(`opt/turbo/deep/${'d'.repeat(60)}`),
    dir(DEEP_DIR),
    file(`${DEEP_DIR}/file-with-a-path-over-100-bytes.txt`, Buffer.from('deep\n')),
    file(`opt/turbo/${LONG_NAME}`, Buffer.from('a 255-byte name\n')),
    file('opt/turbo/empty.txt', Buffer.alloc(0)),
  );
  return e;
}

/** Layer 4: an opaque whiteout on /opt/turbo/opaque-target plus one new file in it. */
export function layer4Entries(): TarEntrySpec[] {
  const t = FIXTURE_EPOCH + 3000;
  return [
    { path: 'opt/turbo/opaque-target', type: 'dir', mode: 0o755, mtime: t },
    { path: 'opt/turbo/opaque-target/.wh..wh..opq', type: 'file', mode: 0o644, mtime: t },
    { path: 'opt/turbo/opaque-target/after-opaque.txt', type: 'file', mode: 0o644, mtime: t, data: Buffer.from('added after the opaque whiteout (layer 4)\n') },
  ];
}
