// The applied tree model equals what `umoci unpack` makes of the same layers: every tar fixture (layer-quirk
// fixtures on top of layer-base.tar) and random 3-layer stacks (fixed seed) are wrapped in an OCI layout,
// unpacked by `umoci raw unpack` and compared field by field.
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TarBuilder } from '../../../src/format/tar/tar-builder.js';
import { PROPERTY_SEED } from '../../helpers/random.js';
import { applyLayer } from '../../../indexer/layer/apply-layer.js';
import { scanTarBuffer } from '../../../indexer/tar/scan-tar.js';
import { FsTree } from '../../../indexer/tree/tree-model.js';
import { missingNeeds } from '../../helpers/capabilities.js';
import { compareTrees, expectedTree, type TreeEntry } from '../../helpers/images.js';
import { run } from '../../helpers/images/run.js';

const run_ = run;
import { makeTempDir } from '../../helpers/tmpdir.js';

const TAR_DIR = path.resolve(import.meta.dirname, '../../../fixtures/tar');
const tar = (name: string): Buffer => readFileSync(path.join(TAR_DIR, name));

/** Layer-quirk fixtures that apply cleanly on layer-base.tar. */
const STACKS = [
  'whiteout.tar',
  'opaque.tar',
  'dir-replaced-by-file.tar',
  'hardlink-lower.tar',
  'dot-slash-and-leading-slash.tar',
  'duplicate-path.tar',
  'implicit-parents.tar',
  'symlink-parent.tar',
  'long-name-255.tar',
];

/**
 * Single-layer dialect fixtures umoci reads like we do. Left out (umoci 0.4 cannot, or the host fs cannot hold
 * the result; the scanner tests check these against GNU tar instead): gnu-sparse-old.tar and gnu-sparse-ext.tar
 * (umoci: "unknown typeflag 'S'"), pax-global.tar (umoci: "unknown typeflag 'g'"), libarchive-xattr.tar (Go's
 * archive/tar ignores LIBARCHIVE.xattr.*), contiguous-and-v7.tar (umoci rejects typeflag 'Q'), pax-times.tar
 * (times before 1970 and past 2446 do not survive a round trip through the host filesystem), the 40 MiB
 * pax-sparse-1.0-bigmap.tar, and the damaged ones.
 */
const SINGLES = [
  'ustar-prefix.tar',
  'gnu-long-name.tar',
  'gnu-long-link.tar',
  'pax-long-path.tar',
  'pax-sparse-0.0.tar',
  'pax-sparse-0.1.tar',
  'pax-sparse-1.0.tar',
  'dot-slash-prefix.tar',
  'base256-uid.tar',
  'pax-xattr.tar',
  'pax-size-uid.tar',
  'devices.tar',
];

/** Writes an OCI image layout with `layers` (uncompressed tars) tagged `t`. */
function writeLayout(dir: string, layers: Buffer[]): void {
  mkdirSync(path.join(dir, 'blobs', 'sha256'), { recursive: true });
  const put = (b: Buffer): { digest: string; size: number } => {
    const hex = createHash('sha256').update(b).digest('hex');
    writeFileSync(path.join(dir, 'blobs', 'sha256', hex), b);
    return { digest: `sha256:${hex}`, size: b.length };
  };
  const descs = layers.map((l) => ({ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...put(l) }));
  const image = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: descs.map((d) => d.digest) }, config: {} };
  const config = put(Buffer.from(JSON.stringify(image)));
  const manifest = put(
    Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
        layers: descs,
      }),
    ),
  );
  const ref = { mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': 't' } };
  writeFileSync(path.join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: [ref] }));
  writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
}

/** Describes our tree like expectedTree describes a directory (file bytes read back from the layer tars). */
function describeTree(tree: FsTree, tars: Buffer[]): TreeEntry[] {
  const names = new Map<number, string[]>();
  const walked = [...tree.walk()];
  for (const { path: p, node } of walked) if (node.kind !== 'dir') names.set(node.id, [...(names.get(node.id) ?? []), p]);
  return walked.map(({ path: p, node }) => {
    const e: TreeEntry = { path: p, type: node.kind, mode: node.mode, uid: node.uid, gid: node.gid, mtime: node.mtime.sec, xattrs: {} };
    for (const [k, v] of [...node.xattrs].sort(([a], [b]) => (a < b ? -1 : 1))) e.xattrs[k] = v.toString('hex');
    if (node.kind === 'file') {
      const data = Buffer.alloc(node.data.size);
      for (const s of node.data.segments) tars[node.data.layer]!.copy(data, s.fileOffset, s.tarOffset, s.tarOffset + s.length);
      e.size = node.data.size;
      e.sha256 = createHash('sha256').update(data).digest('hex');
    } else if (node.kind === 'symlink') {
      e.target = node.target;
      e.size = Buffer.byteLength(node.target);
    } else if (node.kind === 'char' || node.kind === 'block') {
      e.rdevMajor = node.major;
      e.rdevMinor = node.minor;
    }
    const group = names.get(node.id);
    if (group && group.length > 1) e.hardlinks = [...group].sort();
    return e;
  });
}

describe.skipIf(missingNeeds({ root: true, commands: ['umoci', 'python3'] }))('applyLayer equals umoci unpack', () => {
  const work = makeTempDir('turbo-oci-umoci-');
  const cases: [string, string[]][] = [
    ['layer-base.tar', ['layer-base.tar']],
    ...STACKS.map((n): [string, string[]] => [n, ['layer-base.tar', n]]),
    ...SINGLES.map((n): [string, string[]] => [n, [n]]),
  ];

  it('covers every valid fixture', () => {
    const all = readdirSync(TAR_DIR).filter((n) => n.endsWith('.tar'));
    expect(cases.length).toBeGreaterThan(20);
    for (const [, chain] of cases) for (const n of chain) expect(all).toContain(n);
  });

  it.each(cases)('%s', async (name, chain) => {
    const tars = chain.map(tar);
    const tree = new FsTree();
    for (const [i, t] of tars.entries()) await applyLayer(tree, scanTarBuffer(t), i);
    const dir = path.join(work, name.replace(/\.tar$/, ''));
    writeLayout(path.join(dir, 'layout'), tars);
    // `raw unpack` makes only the rootfs (plain `unpack` also writes a runtime config, which reads /etc/passwd).
    await run('umoci', ['raw', 'unpack', '--image', `${path.join(dir, 'layout')}:t`, path.join(dir, 'rootfs')]);
    const theirs = await expectedTree(path.join(dir, 'rootfs'));
    // umoci stamps directories it creates implicitly (and the root) with the unpack time; we use the entry's mtime.
    const diffs = compareTrees(theirs, describeTree(tree, tars), { ignoreDirMtimes: true, allowExtra: [] });
    expect(diffs).toEqual([]);
  });
});

/** A random layer op over a tiny name space: directories a/b, leaves x/y (files, links) or any (dirs, whiteouts). */
const opArb = fc.record({
  op: fc.constantFrom('file', 'file', 'file', 'dir', 'dir', 'wh', 'opq', 'symlink', 'hardlink'),
  dirs: fc.array(fc.constantFrom('a', 'b'), { maxLength: 2 }),
  leaf: fc.constantFrom('a', 'b', 'x', 'y'),
  other: fc.array(fc.constantFrom('a', 'b', 'x', '..'), { minLength: 1, maxLength: 3 }).map((p) => p.join('/')),
  pick: fc.nat(),
});
type RandomOp = { op: string; dirs: string[]; leaf: string; other: string; pick: number };

/** Builds the layers' tars; hardlinks point at a file path written earlier in the stack (it may be gone by then). */
function layerTars(layers: RandomOp[][]): Buffer[] {
  const files: string[] = [];
  return layers.map((ops, layer) => {
    const b = new TarBuilder();
    ops.forEach((o, i) => {
      const leafy = o.op === 'file' || o.op === 'symlink' || o.op === 'hardlink';
      const base = leafy && (o.leaf === 'a' || o.leaf === 'b') ? 'x' : o.leaf;
      const p = [...o.dirs, base].join('/');
      const parent = o.dirs.join('/');
      if (o.op === 'file') {
        b.entry({ name: p, mtime: 1_700_000_000 + layer, mode: 0o640 }, Buffer.from(`${p}@${layer}.${i}`));
        files.push(p);
      } else if (o.op === 'dir') b.entry({ name: `${p}/`, typeflag: '5', mode: 0o750, mtime: 1_700_000_000 });
      else if (o.op === 'symlink') b.entry({ name: p, typeflag: '2', linkname: o.other, mode: 0o777, mtime: 1_700_000_000 });
      // a hardlink to itself (GNU tar writes one for a member listed twice) keeps the file for us and for GNU tar;
      // umoci removes the path first and then fails: not compared here
      else if (o.op === 'hardlink' && files.length > 0 && files[o.pick % files.length] !== p) {
        b.entry({ name: p, typeflag: '1', linkname: files[o.pick % files.length]!, mtime: 1_700_000_000 });
      }
      else if (o.op === 'wh') b.entry({ name: [parent, `.wh.${base}`].filter(Boolean).join('/'), mtime: 1 });
      else if (o.op === 'opq') b.entry({ name: `${p}/.wh..wh..opq`, mtime: 1 });
    });
    return b.end().toBuffer();
  });
}

describe.skipIf(missingNeeds({ root: true, commands: ['umoci', 'python3'] }))('applyLayer equals umoci unpack on random layer stacks', () => {
  const work = makeTempDir('turbo-oci-umoci-prop-');

  it('random 3-layer stacks: same tree, or we reject what umoci cannot unpack either', async () => {
    let run = 0;
    let compared = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(fc.array(opArb, { maxLength: 8 }), { minLength: 3, maxLength: 3 }), async (layers) => {
        const tars = layerTars(layers);
        const tree = new FsTree();
        let ours: unknown;
        try {
          for (const [i, t] of tars.entries()) await applyLayer(tree, scanTarBuffer(t), i);
        } catch (err) {
          ours = err;
        }
        const dir = path.join(work, `r${run++}`);
        writeLayout(path.join(dir, 'layout'), tars);
        let theirs: unknown;
        try {
          await run_('umoci', ['raw', 'unpack', '--image', `${path.join(dir, 'layout')}:t`, path.join(dir, 'rootfs')]);
        } catch (err) {
          theirs = err;
        }
        if (ours !== undefined || theirs !== undefined) {
          // A layer we reject must be one umoci fails on too (missing hardlink target, file used as a directory, ...).
          expect({ ours: ours !== undefined, theirs: theirs !== undefined, why: String(ours ?? theirs).slice(0, 300) }).toMatchObject({ ours: true, theirs: true });
          return;
        }
        const diffs = compareTrees(await expectedTree(path.join(dir, 'rootfs')), describeTree(tree, tars), { ignoreDirMtimes: true, allowExtra: [] });
        expect(diffs).toEqual([]);
        compared++;
      }),
      { seed: PROPERTY_SEED, numRuns: 12, endOnFailure: true },
    );
    console.log(`umoci stacks compared: ${compared} of ${run}`);
    expect(compared).toBeGreaterThan(8);
  }, 600_000);
});
