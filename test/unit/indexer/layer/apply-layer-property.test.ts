// Property test (fixed seed): a random lower layer and a random upper layer (files, dirs, whiteouts, opaque markers,
// in random order) give the tree an order-free reference model of image-spec layer.md predicts.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { TarBuilder } from '../../../../src/format/tar/tar-builder.js';
import { applyLayer } from '../../../../indexer/layer/apply-layer.js';
import { scanTarBuffer } from '../../../../indexer/tar/scan-tar.js';
import { FsTree } from '../../../../indexer/tree/tree-model.js';
import { PROPERTY_SEED } from '../../../helpers/random.js';

type Op = { op: 'file' | 'dir' | 'wh' | 'opq'; path: string };

const pathArb = fc.array(fc.constantFrom('a', 'b', 'c'), { minLength: 1, maxLength: 3 }).map((p) => p.join('/'));
const lowerArb = fc.array(fc.record({ path: pathArb, dir: fc.boolean() }), { maxLength: 12 });
const upperArb = fc.array(fc.record({ op: fc.constantFrom('file', 'file', 'dir', 'wh', 'opq') as fc.Arbitrary<Op['op']>, path: pathArb }), { maxLength: 10 });

const ancestors = (p: string): string[] => {
  const parts = p.split('/');
  return parts.slice(1).map((_, i) => parts.slice(0, i + 1).join('/'));
};
const parentOf = (p: string): string => p.split('/').slice(0, -1).join('/');
const nameOf = (p: string): string => p.split('/').pop()!;

/** Lower layer: consistent tree (no path below a file), every parent listed as a directory. */
function lowerTree(raw: { path: string; dir: boolean }[]): Map<string, 'dir' | 'file'> {
  const kinds = new Map<string, 'dir' | 'file'>();
  for (const { path, dir } of [...raw].sort((x, y) => x.path.split('/').length - y.path.split('/').length)) {
    if (kinds.has(path) || ancestors(path).some((a) => kinds.get(a) === 'file')) continue;
    for (const a of ancestors(path)) kinds.set(a, 'dir');
    kinds.set(path, dir ? 'dir' : 'file');
  }
  return kinds;
}

/** Upper ops that are order-independent: unique entry paths, nothing below an upper or lower file. */
function upperOps(raw: Op[], lower: Map<string, 'dir' | 'file'>): Op[] {
  const entries = new Map<string, Op['op']>();
  const out: Op[] = [];
  for (const o of raw) {
    if (o.op === 'file' || o.op === 'dir') {
      if (entries.has(o.path) || ancestors(o.path).some((a) => lower.get(a) === 'file' || entries.get(a) === 'file')) continue;
      if (o.op === 'file' && [...entries.keys()].some((p) => p.startsWith(`${o.path}/`))) continue;
      entries.set(o.path, o.op);
    }
    out.push(o);
  }
  // a later-listed file may sit above an earlier whiteout/opq path: harmless (whiteouts below files are no-ops)
  return out;
}

/** The reference: what layer.md says the merged tree is, computed without regard to entry order. */
function reference(lower: Map<string, 'dir' | 'file'>, ops: Op[]): Map<string, string> {
  const entries = new Map(ops.filter((o) => o.op === 'file' || o.op === 'dir').map((o) => [o.path, o.op]));
  const named = new Set<string>();
  for (const p of entries.keys()) for (const q of [...ancestors(p), p]) named.add(q);
  const hiddenRoots = new Set<string>();
  for (const o of ops) {
    if (o.op === 'wh' && lower.has(o.path) && !ancestors(o.path).some((a) => entries.get(a) === 'file')) hiddenRoots.add(o.path);
    if (o.op === 'opq' && lower.get(o.path) === 'dir' && !ancestors(o.path).some((a) => entries.get(a) === 'file')) {
      for (const p of lower.keys()) if (parentOf(p) === o.path) hiddenRoots.add(p);
    }
  }
  const out = new Map<string, string>();
  for (const [p, kind] of lower) {
    const chain = [...ancestors(p), p];
    if (chain.slice(0, -1).some((a) => entries.get(a) === 'file')) continue; // replaced from above
    if (entries.has(p) && (kind === 'file' || entries.get(p) === 'file')) continue; // replaced here
    const hidden = chain.some((r, i) => hiddenRoots.has(r) && chain.slice(i).some((q) => !named.has(q)));
    if (!hidden) out.set(p, kind === 'dir' ? 'dir' : `file ${p}@0`);
  }
  for (const [p, op] of entries) {
    for (const a of ancestors(p)) if (!out.has(a)) out.set(a, 'dir');
    out.set(p, op === 'dir' ? 'dir' : `file ${p}@1`);
  }
  return out;
}

function buildTar(ops: { op: Op['op']; path: string; layer: number }[]): Buffer {
  const b = new TarBuilder();
  for (const o of ops) {
    if (o.op === 'dir') b.entry({ name: `${o.path}/`, typeflag: '5', mode: 0o755, mtime: 1 });
    else if (o.op === 'file') b.entry({ name: o.path, mtime: 1 }, Buffer.from(`${o.path}@${o.layer}`));
    else if (o.op === 'wh') b.entry({ name: [parentOf(o.path), `.wh.${nameOf(o.path)}`].filter(Boolean).join('/'), mtime: 1 });
    else b.entry({ name: `${o.path}/.wh..wh..opq`, mtime: 1 });
  }
  return b.end().toBuffer();
}

function actual(tree: FsTree, tars: Buffer[]): Map<string, string> {
  const out = new Map<string, string>();
  for (const { path, node } of tree.walk()) {
    if (path === '/') continue;
    if (node.kind === 'dir') out.set(path.slice(1), 'dir');
    else if (node.kind === 'file') {
      const data = Buffer.concat(node.data.segments.map((s) => tars[node.data.layer]!.subarray(s.tarOffset, s.tarOffset + s.length)));
      out.set(path.slice(1), `file ${data.toString()}`);
    } else out.set(path.slice(1), node.kind);
  }
  return out;
}

describe('applyLayer against an order-free reference', () => {
  it('random lower + upper layers (whiteouts, opaque markers, replacements, any order) match layer.md', async () => {
    await fc.assert(
      fc.asyncProperty(lowerArb, upperArb, async (rawLower, rawUpper) => {
        const lower = lowerTree(rawLower);
        const ops = upperOps(rawUpper, lower);
        const lowerOps = [...lower].sort(([a], [b]) => (a < b ? -1 : 1)).map(([path, kind]) => ({ op: kind, path, layer: 0 }));
        const tars = [buildTar(lowerOps), buildTar(ops.map((o) => ({ ...o, layer: 1 })))];
        const tree = new FsTree();
        await applyLayer(tree, scanTarBuffer(tars[0]!), 0);
        await applyLayer(tree, scanTarBuffer(tars[1]!), 1);
        const sort = (m: Map<string, string>): [string, string][] => [...m].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
        expect(sort(actual(tree, tars))).toEqual(sort(reference(lower, ops)));
      }),
      { seed: PROPERTY_SEED, numRuns: 400 },
    );
  });
});
