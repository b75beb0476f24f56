// OCI layer semantics: every layer-quirk fixture applied on layer-base.tar gives the tree the test spells out.
import { describe, expect, it } from 'vitest';
import { buildLayerFixtures } from '../../../../fixtures/tar-layer-fixtures.js';
import { isImageError } from '../../../../src/errors.js';
import { TarBuilder } from '../../../../src/format/tar/tar-builder.js';
import { applyLayer, type LayerChanges } from '../../../../indexer/layer/apply-layer.js';
import { scanTarBuffer } from '../../../../indexer/tar/scan-tar.js';
import type { FsNode } from '../../../../indexer/tree/fs-tree.js';
import { FsTree, linkCounts } from '../../../../indexer/tree/tree-model.js';

const FIXTURES = new Map(buildLayerFixtures().map((f) => [f.name, f.tar]));

/** A readable summary of every path: kind, mode and content/target (file content read back from the layer tars). */
function shape(tree: FsTree, tars: Buffer[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const { path, node } of tree.walk()) {
    const mode = node.mode.toString(8);
    if (node.kind === 'file') {
      const data = Buffer.alloc(node.data.size);
      for (const s of node.data.segments) tars[node.data.layer]!.copy(data, s.fileOffset, s.tarOffset, s.tarOffset + s.length);
      out[path] = `file ${mode} ${data.toString()}`;
    } else if (node.kind === 'symlink') out[path] = `symlink -> ${node.target}`;
    else out[path] = `${node.kind} ${mode}`;
  }
  return out;
}

const BASE_SHAPE: Record<string, string> = {
  '/': 'dir 755',
  '/bin': 'dir 755',
  '/bin/sh': 'file 755 shell',
  '/data': 'dir 755',
  '/data/file': 'file 644 data',
  '/etc': 'dir 755',
  '/etc/cfg': 'dir 750',
  '/etc/cfg/a': 'file 644 a',
  '/etc/cfg/sub': 'dir 755',
  '/etc/cfg/sub/b': 'file 644 b',
  '/etc/hosts': 'file 644 hosts',
  '/etc/passwd': 'file 644 root:x:0:0',
  '/lib': 'symlink -> usr/lib',
  '/usr': 'dir 755',
  '/usr/lib': 'dir 755',
  '/usr/lib/libc.so': 'file 644 libc',
  '/var': 'dir 755',
  '/var/log': 'dir 755',
  '/var/log/x': 'file 644 log',
};

/** BASE_SHAPE with `remove` paths dropped and `set` paths added or replaced. */
function edited(remove: string[], set: Record<string, string>): Record<string, string> {
  const out = { ...BASE_SHAPE };
  for (const p of remove) delete out[p];
  return Object.fromEntries(Object.entries({ ...out, ...set }).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

async function stack(names: (string | Buffer)[]): Promise<{ tree: FsTree; tars: Buffer[]; changes: LayerChanges[] }> {
  const tree = new FsTree();
  const tars: Buffer[] = [];
  const changes: LayerChanges[] = [];
  for (const [i, n] of names.entries()) {
    const tar = typeof n === 'string' ? FIXTURES.get(n)! : n;
    tars.push(tar);
    changes.push(await applyLayer(tree, scanTarBuffer(tar), i));
  }
  return { tree, tars, changes };
}

function sorted(o: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(o).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

async function upperShape(name: string): Promise<Record<string, string>> {
  const { tree, tars } = await stack(['layer-base.tar', name]);
  return sorted(shape(tree, tars));
}

async function layerError(name: string): Promise<{ code: string; details: Record<string, unknown> }> {
  try {
    await stack(['layer-base.tar', name]);
  } catch (err) {
    if (isImageError(err)) return { code: err.code, details: err.details };
    throw err;
  }
  throw new Error(`${name} applied without error`);
}

describe('applyLayer on the layer fixtures', () => {
  it('builds the base layer', async () => {
    const { tree, tars, changes } = await stack(['layer-base.tar']);
    expect(sorted(shape(tree, tars))).toEqual(sorted(BASE_SHAPE));
    expect(changes[0]!.added).toHaveLength(Object.keys(BASE_SHAPE).length - 1);
    expect(changes[0]!.changed).toEqual([tree.root.id]);
  });

  it('whiteouts hide lower files and directories but never this layer’s own entries', async () => {
    expect(await upperShape('whiteout.tar')).toEqual(edited(['/etc/hosts', '/var', '/var/log', '/var/log/x'], { '/etc/new': 'file 644 new' }));
  });

  it('an opaque directory keeps only this layer’s entries, whatever their order', async () => {
    expect(await upperShape('opaque.tar')).toEqual(
      edited(['/etc/cfg/a', '/etc/cfg/sub/b', '/usr/lib', '/usr/lib/libc.so'], {
        '/etc/cfg/new': 'file 644 new',
        '/etc/cfg/late': 'file 644 late',
        '/etc/cfg/sub/c': 'file 644 c',
      }),
    );
  });

  it('replaces a directory by a file and a file by a directory', async () => {
    expect(await upperShape('dir-replaced-by-file.tar')).toEqual(
      edited(['/data/file', '/etc/passwd'], { '/data': 'file 644 now a file', '/etc/passwd': 'dir 755', '/etc/passwd/inside': 'file 644 inside' }),
    );
  });

  it('hardlinks share the node with files of the same or a lower layer', async () => {
    const { tree } = await stack(['layer-base.tar', 'hardlink-lower.tar']);
    const sh = tree.lookup('/bin/sh')!;
    expect(tree.lookup('/bin/sh2')).toBe(sh);
    expect(tree.lookup('/etc/sh3')).toBe(sh);
    expect(tree.lookup('/usr/libc-via-symlink.so')).toBe(tree.lookup('/usr/lib/libc.so'));
    expect(tree.lookup('/etc/fresh-link')).toBe(tree.lookup('/etc/fresh'));
    const counts = linkCounts(tree);
    expect(counts.get(sh.id)).toBe(3);
    expect(counts.get(tree.lookup('/etc/fresh')!.id)).toBe(2);
    expect(counts.get(tree.lookup('/data/file')!.id)).toBe(1);
    expect(sh.layer).toBe(0);
  });

  it('normalises ./, leading /, double slashes and inner ..', async () => {
    const { tree, tars } = await stack(['layer-base.tar', 'dot-slash-and-leading-slash.tar']);
    expect(sorted(shape(tree, tars))).toEqual(
      edited([], {
        '/etc/dot': 'file 644 dot',
        '/etc/abs': 'file 644 abs',
        '/etc/double': 'dir 755',
        '/etc/double/slash': 'file 644 ds',
        '/etc/there': 'file 644 there',
      }),
    );
    expect(tree.root.layer).toBe(1);
  });

  it('lets the last of duplicate paths win; a directory entry over a directory keeps its children', async () => {
    const { tree, tars } = await stack(['layer-base.tar', 'duplicate-path.tar']);
    expect(sorted(shape(tree, tars))).toEqual(
      edited([], {
        '/etc/cfg': 'dir 711',
        '/etc/dup': 'file 644 two',
        '/etc/dup-dir': 'file 644 file wins',
        '/etc/dup-file': 'dir 700',
      }),
    );
  });

  it('creates implicit parents 0755 root:root with the entry’s mtime', async () => {
    const { tree } = await stack(['layer-base.tar', 'implicit-parents.tar']);
    for (const p of ['/new', '/new/deep']) {
      expect(tree.lookup(p)).toMatchObject({ kind: 'dir', mode: 0o755, uid: 0, gid: 0, mtime: { sec: 1_700_000_000, nsec: 0 }, layer: 1 });
    }
  });

  it('resolves symlinked parents inside the root (absolute targets and .. clamp at the root)', async () => {
    expect(await upperShape('symlink-parent.tar')).toEqual(
      edited(['/usr/lib/libc.so'], {
        '/usr/lib/newlib.so': 'file 644 new',
        '/abs': 'symlink -> /usr',
        '/usr/share': 'dir 755',
        '/usr/share/x': 'file 644 x',
        '/up': 'symlink -> ../../..',
        '/etc/zz': 'file 644 zz',
      }),
    );
  });

  it('accepts a 255-byte name', async () => {
    const { tree } = await stack(['layer-base.tar', 'long-name-255.tar']);
    expect(tree.lookup(`/etc/${'n'.repeat(255)}`)?.kind).toBe('file');
  });

  it.each([
    ['hostile-dotdot.tar', 'CORRUPT', 'path-escapes-root'],
    ['long-name-256.tar', 'LIMIT_EXCEEDED', 'name-too-long'],
    ['nul-in-path.tar', 'CORRUPT', 'nul-in-path'],
    ['hardlink-missing.tar', 'CORRUPT', 'hardlink-target-missing'],
    ['hardlink-to-dir.tar', 'CORRUPT', 'hardlink-to-directory'],
    ['symlink-loop.tar', 'CORRUPT', 'symlink-loop'],
    ['parent-not-dir.tar', 'CORRUPT', 'parent-not-directory'],
  ])('%s is rejected with %s/%s, the layer and the entry offset', async (name, code, reason) => {
    const err = await layerError(name);
    const entries = scanTarBuffer(FIXTURES.get(name)!);
    expect(err.code).toBe(code);
    expect(err.details).toMatchObject({ reason, layer: 1 });
    expect(entries.map((e) => e.headerOffset)).toContain(err.details.offset);
  });
});

describe('applyLayer semantics in detail', () => {
  const M = 1_700_000_000;
  const tar = (build: (b: TarBuilder) => void): Buffer => {
    const b = new TarBuilder();
    build(b);
    return b.end().toBuffer();
  };
  const file = (b: TarBuilder, name: string, text: string): TarBuilder => b.entry({ name, mtime: M }, Buffer.from(text));
  const dir = (b: TarBuilder, name: string, mode = 0o755): TarBuilder => b.entry({ name, typeflag: '5', mode, mtime: M });

  it('an opaque marker before or after the same layer’s entries gives the same tree', async () => {
    const lower = tar((b) => {
      dir(b, 'd/');
      file(b, 'd/old', 'old');
      dir(b, 'd/sub/');
      file(b, 'd/sub/old2', 'old2');
    });
    const first = tar((b) => {
      file(b, 'd/.wh..wh..opq', '');
      file(b, 'd/new', 'new');
      file(b, 'd/sub/new2', 'new2');
    });
    const last = tar((b) => {
      file(b, 'd/new', 'new');
      file(b, 'd/sub/new2', 'new2');
      file(b, 'd/.wh..wh..opq', '');
    });
    const a = await stack([lower, first]);
    const b = await stack([lower, last]);
    const expected = { '/': 'dir 755', '/d': 'dir 755', '/d/new': 'file 644 new', '/d/sub': 'dir 755', '/d/sub/new2': 'file 644 new2' };
    expect(sorted(shape(a.tree, a.tars))).toEqual(expected);
    expect(sorted(shape(b.tree, b.tars))).toEqual(expected);
  });

  it('keeps node ids stable for untouched nodes and reports added/removed/changed ids', async () => {
    const { tree, changes } = await stack(['layer-base.tar']);
    const ids = new Map([...tree.walk()].map((w) => [w.path, w.node.id]));
    const c = await applyLayer(tree, scanTarBuffer(FIXTURES.get('whiteout.tar')!), 1);
    expect(changes).toHaveLength(1);
    for (const p of ['/bin/sh', '/etc/passwd', '/etc', '/usr/lib/libc.so']) expect(tree.lookup(p)!.id).toBe(ids.get(p));
    expect(c.removed).toEqual(['/etc/hosts', '/var', '/var/log', '/var/log/x'].map((p) => ids.get(p)).sort((x, y) => x! - y!));
    expect(c.added).toEqual([tree.lookup('/etc/new')!.id]);
    expect(c.changed).toEqual([ids.get('/')!, ids.get('/etc')!].sort((x, y) => x - y));
    expect(Math.min(...c.added)).toBeGreaterThan(Math.max(...ids.values()));
  });

  it('a directory entry over a directory keeps the node; a re-created file gets a new one', async () => {
    const { tree } = await stack(['layer-base.tar']);
    const etc = tree.lookup('/etc')!;
    const passwd = tree.lookup('/etc/passwd')!;
    await applyLayer(
      tree,
      scanTarBuffer(
        tar((b) => {
          b.entry({ name: 'etc/', typeflag: '5', mode: 0o700, uid: 5, mtime: M + 1 });
          file(b, 'etc/passwd', 'new');
        }),
      ),
      1,
    );
    expect(tree.lookup('/etc')).toBe(etc);
    expect(etc).toMatchObject({ mode: 0o700, uid: 5, layer: 1, mtime: { sec: M + 1, nsec: 0 } });
    expect(tree.lookup('/etc/passwd')!.id).not.toBe(passwd.id);
  });

  it('removing one name of a hardlink pair keeps the node under the other and marks it changed', async () => {
    const lower = tar((b) => {
      file(b, 'a', 'shared');
      b.entry({ name: 'b', typeflag: '1', linkname: 'a', mtime: M });
    });
    const { tree } = await stack([lower]);
    const node = tree.lookup('/a')!;
    const c = await applyLayer(tree, scanTarBuffer(tar((b) => file(b, '.wh.a', ''))), 1);
    expect(tree.lookup('/a')).toBeUndefined();
    expect(tree.lookup('/b')).toBe(node);
    expect(c.changed).toContain(node.id);
    expect(c.removed).not.toContain(node.id);
    expect(linkCounts(tree).get(node.id)).toBe(1);
  });

  it('a hardlink made before its target path is overwritten keeps the old node', async () => {
    const t = tar((b) => {
      file(b, 'x', 'first');
      b.entry({ name: 'y', typeflag: '1', linkname: 'x', mtime: M });
      file(b, 'x', 'second');
    });
    const { tree, tars } = await stack([t]);
    expect(shape(tree, tars)).toMatchObject({ '/x': 'file 644 second', '/y': 'file 644 first' });
  });

  it('whiting out a lower directory and re-creating entries below it in the same layer', async () => {
    const upper = tar((b) => {
      file(b, '.wh.etc', '');
      file(b, 'etc/only', 'only');
    });
    const { tree, tars } = await stack(['layer-base.tar', upper]);
    const s = shape(tree, tars);
    expect(Object.keys(s).filter((p) => p.startsWith('/etc'))).toEqual(['/etc', '/etc/only']);
  });

  it('stores sparse files as one segment per run and rejects runs that cannot map to 512-byte sectors', async () => {
    const data = Buffer.alloc(8192);
    data.fill(1, 0, 512);
    data.fill(2, 4096, 5120);
    const good = tar((b) => b.gnuSparse({ name: 's', mtime: M }, data, [{ offset: 0, length: 512 }, { offset: 4096, length: 1024 }, { offset: 8192, length: 0 }]));
    const { tree, tars } = await stack([good]);
    const node = tree.lookup('/s')!;
    expect(node.kind === 'file' && node.data).toEqual({
      layer: 0,
      size: 8192,
      segments: [
        { fileOffset: 0, length: 512, tarOffset: 512 },
        { fileOffset: 4096, length: 1024, tarOffset: 1024 },
      ],
    });
    expect(tars[0]!.subarray(1024, 2048).equals(data.subarray(4096, 5120))).toBe(true);
    const bad = tar((b) => b.gnuSparse({ name: 's', mtime: M }, data, [{ offset: 0, length: 100 }, { offset: 4096, length: 512 }]));
    await expect(stack([bad])).rejects.toMatchObject({ code: 'UNSUPPORTED', details: { reason: 'unaligned-sparse-run' } });
  });

  it('rejects a non-directory root entry and an empty symlink target', async () => {
    await expect(stack([tar((b) => file(b, './', 'x'))])).rejects.toMatchObject({ code: 'CORRUPT', details: { reason: 'root-not-directory' } });
    await expect(stack([tar((b) => b.entry({ name: 'l', typeflag: '2', linkname: '', mtime: M }))])).rejects.toMatchObject({
      details: { reason: 'empty-symlink-target' },
    });
  });

  it('copies metadata: devices, xattrs, times, ownership', async () => {
    const t = tar((b) => {
      b.entry({ name: 'dev/null', typeflag: '3', devmajor: 1, devminor: 3, mode: 0o666, mtime: M });
      b.pax([
        ['SCHILY.xattr.security.capability', Buffer.from([1, 0, 0, 2])],
        ['mtime', `${M}.5`],
        ['atime', `${M + 1}`],
      ]);
      b.entry({ name: 'bin/ping', mode: 0o4755, uid: 7, gid: 8, mtime: M }, Buffer.from('elf'));
    });
    const { tree } = await stack([t]);
    expect(tree.lookup('/dev/null')).toMatchObject({ kind: 'char', major: 1, minor: 3, mode: 0o666 });
    const ping = tree.lookup('/bin/ping')!;
    expect(ping).toMatchObject({ mode: 0o4755, uid: 7, gid: 8, mtime: { sec: M, nsec: 500_000_000 }, atime: { sec: M + 1, nsec: 0 }, ctime: { sec: M, nsec: 500_000_000 } });
    expect(ping.xattrs.get('security.capability')).toEqual(Buffer.from([1, 0, 0, 2]));
  });

  it('walks in UTF-8 byte order and counts directory links', async () => {
    const names = ['é', 'B', 'a', '\u{1F600}', '\uFFFD', 'a b', 'ab'];
    const t = tar((b) => {
      for (const n of names) file(b, n, n);
      dir(b, 'sub1/');
      dir(b, 'sub1/inner/');
      dir(b, 'sub2/');
    });
    const { tree } = await stack([t]);
    const walked = [...tree.walk()].filter((w) => w.parent === tree.root).map((w) => w.name);
    const bytes = [...walked].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
    expect(walked).toEqual(bytes);
    const counts = linkCounts(tree);
    expect(counts.get(tree.root.id)).toBe(4);
    expect(counts.get(tree.lookup('/sub1')!.id)).toBe(3);
    expect(counts.get(tree.lookup('/sub2')!.id)).toBe(2);
  });

  it('applies a multi-layer chain and records which layer holds each file’s bytes', async () => {
    const { tree, tars } = await stack(['layer-base.tar', 'whiteout.tar', 'hardlink-lower.tar', 'opaque.tar', 'duplicate-path.tar']);
    const s = shape(tree, tars);
    expect(s['/etc/hosts']).toBeUndefined();
    expect(s['/etc/new']).toBe('file 644 new');
    expect(s['/etc/cfg']).toBe('dir 711');
    expect(s['/etc/cfg/a']).toBeUndefined();
    expect(s['/etc/cfg/late']).toBe('file 644 late');
    expect(s['/etc/dup']).toBe('file 644 two');
    const byLayer = (p: string): number => (tree.lookup(p) as FsNode & { data: { layer: number } }).data.layer;
    expect([byLayer('/bin/sh'), byLayer('/etc/new'), byLayer('/etc/fresh'), byLayer('/etc/cfg/late'), byLayer('/etc/dup')]).toEqual([0, 1, 2, 3, 4]);
    // opaque.tar (layer 3) empties /usr, including the hardlink layer 2 put there; /bin/sh's links survive
    expect(s['/usr/libc-via-symlink.so']).toBeUndefined();
    expect(s['/usr/lib']).toBeUndefined();
    expect(tree.lookup('/bin/sh2')).toBe(tree.lookup('/bin/sh'));
  });
});

describe('applyLayer limits', () => {
  const one = (build: (b: TarBuilder) => void): Buffer => {
    const b = new TarBuilder();
    build(b);
    return b.end().toBuffer();
  };
  const fails = async (tar: Buffer): Promise<unknown> => {
    try {
      await applyLayer(new FsTree(), scanTarBuffer(tar), 0);
    } catch (err) {
      return err;
    }
    return undefined;
  };

  it('rejects paths over PATH_MAX and symlink targets over 4095 bytes; accepts the limits', async () => {
    const deep = (n: number): string => Array.from({ length: n }, () => 'd').join('/');
    const long = one((b) => b.pax([['path', `${deep(2048)}/x`]]).entry({ name: 'p', mtime: 1 }));
    expect(await fails(long)).toMatchObject({ code: 'LIMIT_EXCEEDED', details: { reason: 'path-too-long' } });
    const ok = one((b) => b.pax([['path', deep(2048)]]).entry({ name: 'p', mtime: 1 }));
    expect(await fails(ok)).toBeUndefined();
    const target = one((b) => b.pax([['linkpath', 't'.repeat(4096)]]).entry({ name: 'l', typeflag: '2', mtime: 1 }));
    expect(await fails(target)).toMatchObject({ code: 'LIMIT_EXCEEDED', details: { reason: 'symlink-target-too-long' } });
    const fine = one((b) => b.pax([['linkpath', 't'.repeat(4095)]]).entry({ name: 'l', typeflag: '2', mtime: 1 }));
    expect(await fails(fine)).toBeUndefined();
  });

  it('bounds tree depth even when symlinked parents stack short paths', async () => {
    // s -> 1000 levels; each "s/.../x" entry adds levels below the resolved directory
    const chain = Array.from({ length: 1000 }, () => 'd').join('/');
    const tar = one((b) => {
      b.pax([['path', `${chain}/f`]]).entry({ name: 'p', mtime: 1 });
      b.pax([['linkpath', chain]]).entry({ name: 's', typeflag: '2', mtime: 1 });
      b.pax([['path', `s/${chain}/g`]]).entry({ name: 'p', mtime: 1 });
      b.pax([['path', `s/${chain}/s2`]]).entry({ name: 'p', typeflag: '2', linkname: 'x', mtime: 1 });
      b.pax([['linkpath', `/${chain}/${chain}`]]).entry({ name: 's3', typeflag: '2', mtime: 1 });
      b.pax([['path', `s3/${chain}/h`]]).entry({ name: 'p', mtime: 1 });
    });
    expect(await fails(tar)).toMatchObject({ code: 'LIMIT_EXCEEDED', details: { reason: 'path-too-deep' } });
  });
});

describe('applyLayer xattr filtering', () => {
  it('drops trusted.overlay.* xattrs (overlayfs would interpret them) with a warning, keeps the rest', async () => {
    const b = new TarBuilder();
    b.pax([
      ['SCHILY.xattr.trusted.overlay.opaque', 'y'],
      ['SCHILY.xattr.user.keep', 'k'],
    ]);
    b.entry({ name: 'd/', typeflag: '5', mode: 0o755, mtime: 1 });
    const warnings: string[] = [];
    const tree = new FsTree();
    await applyLayer(tree, scanTarBuffer(b.end().toBuffer()), 0, { onWarning: (w) => warnings.push(`${w.code} ${w.path}`) });
    expect([...tree.lookup('/d')!.xattrs.keys()]).toEqual(['user.keep']);
    expect(warnings).toEqual(['DROPPED_XATTR d/']);
  });
});

describe('applyLayer inputs', () => {
  it('accepts an async stream of entries or of batches and gives the same tree', async () => {
    const { scanTar, scanTarBatches } = await import('../../../../indexer/tar/scan-tar.js');
    const tars = ['layer-base.tar', 'whiteout.tar'].map((n) => FIXTURES.get(n)!);
    const a = new FsTree();
    const b = new FsTree();
    for (const [i, t] of tars.entries()) {
      await applyLayer(a, scanTar([t.subarray(0, 700), t.subarray(700)]), i);
      await applyLayer(b, scanTarBatches([t.subarray(0, 700), t.subarray(700)]), i);
    }
    expect(shape(b, tars)).toEqual(shape(a, tars));
    expect([...b.walk()].map((w) => w.node.id)).toEqual([...a.walk()].map((w) => w.node.id));
  });
});
