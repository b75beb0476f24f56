// Applies one OCI layer's tar entries to the tree (image-spec v1.1 layer.md: changesets, whiteouts, opaque dirs).
import type { DeviceNode, DirNode, FileNode, FsNode, NodeBase, NodeKind, SpecialNode, SymlinkNode, Timestamp } from '../tree/fs-tree.js';
import { type FsTree, reachableIds } from '../tree/tree-model.js';
import { entrySegments, type TarEntry } from '../tar/tar-entry.js';
import { layerError, MAX_SYMLINK_TARGET_BYTES, MAX_TREE_DEPTH, normalizeLayerPath, type PathContext } from './layer-path.js';

/** Whiteout prefix and opaque marker (layer.md "Whiteouts"). */
export const WHITEOUT_PREFIX = '.wh.';
export const OPAQUE_MARKER = '.wh..wh..opq';

/** Most symlinks followed while resolving one parent path (Linux MAXSYMLINKS is 40). */
export const MAX_SYMLINK_HOPS = 40;

/** What one layer did to the tree, by node id (sorted ascending). */
export interface LayerChanges {
  /** Nodes reachable now that were not before (new files, dirs, links, implicit parents). */
  added: number[];
  /** Nodes reachable before and not any more (whited out, replaced, inside a removed directory). */
  removed: number[];
  /** Nodes reachable before and after whose inode changes: metadata, directory entries or link count. */
  changed: number[];
}

/** Xattr namespace that overlayfs interprets (opaque, redirect, metacopy); dropped like `umoci unpack` does. */
export const DROPPED_XATTR_PREFIX = 'trusted.overlay.';

/** A tolerated oddity of a layer. */
export interface LayerWarning {
  code: 'RESERVED_WHITEOUT' | 'DROPPED_XATTR';
  message: string;
  offset: number;
  path: string;
}

/** Options of applyLayer. */
export interface ApplyLayerOptions {
  /** Called for tolerated oddities: reserved `.wh..wh.` names other than the opaque marker, dropped xattrs. */
  onWarning?: (w: LayerWarning) => void;
}

/** Per-layer state: which names this layer wrote or walked through (whiteouts never hide those). */
class LayerState {
  readonly named = new Map<DirNode, Set<string>>();
  readonly touched = new Set<number>();
  /** Ids only grow, so a node was created by this layer exactly when its id is past the tree's last id at the start. */
  readonly firstNewId: number;

  constructor(
    readonly tree: FsTree,
    readonly layer: number,
    readonly options: ApplyLayerOptions,
  ) {
    this.firstNewId = tree.lastId + 1;
  }

  /** True when this layer created `node` (as opposed to a lower layer). */
  isNew(node: FsNode): boolean {
    return node.id >= this.firstNewId;
  }

  markNamed(dir: DirNode, name: string): void {
    let set = this.named.get(dir);
    if (!set) this.named.set(dir, (set = new Set()));
    set.add(name);
  }

  isNamed(dir: DirNode, name: string): boolean {
    return this.named.get(dir)?.has(name) ?? false;
  }
}

/**
 * Applies `entries` (one layer's tar, in archive order; single entries or batches from scanTarBatches) as layer `layer`. Mutates `tree`; on an ImageError the
 * tree may hold part of the layer and must be discarded. Returns the ids added, removed and changed.
 */
export async function applyLayer(
  tree: FsTree,
  entries: AsyncIterable<TarEntry | TarEntry[]> | Iterable<TarEntry | TarEntry[]>,
  layer: number,
  options: ApplyLayerOptions = {},
): Promise<LayerChanges> {
  const before = reachableIds(tree);
  const st = new LayerState(tree, layer, options);
  for await (const item of entries) {
    if (Array.isArray(item)) for (const entry of item) applyEntry(st, entry, options);
    else applyEntry(st, item, options);
  }
  const after = reachableIds(tree);
  const added = [...after].filter((id) => !before.has(id));
  const removed = [...before].filter((id) => !after.has(id));
  const changed = [...st.touched].filter((id) => before.has(id) && after.has(id));
  const asc = (a: number, b: number): number => a - b;
  return { added: added.sort(asc), removed: removed.sort(asc), changed: changed.sort(asc) };
}

/**
 * Resolves a parent directory path below the root, following symlinks inside the root like `umoci unpack`
 * (filepath-securejoin): absolute targets restart at the layer root, '..' never climbs above it.
 * With `create`, missing directories are made (implicit parents); otherwise undefined is returned for them.
 */
function resolveDir(st: LayerState, comps: string[], end: number, create: boolean, entry: TarEntry, ctx: PathContext): DirNode | undefined {
  let queue = comps; // components still to walk are queue[at, end); replaced when a symlink is followed
  let at = 0;
  const stack: DirNode[] = [st.tree.root];
  let hops = 0;
  while (at < end) {
    const name = queue[at++]!;
    const cur = stack[stack.length - 1]!;
    if (name === '' || name === '.') continue;
    if (name === '..') {
      if (stack.length > 1) stack.pop();
      continue;
    }
    const child = cur.children.get(name);
    if (child === undefined) {
      if (!create) return undefined;
      if (stack.length > MAX_TREE_DEPTH) throw layerError('path-too-deep', `tree deeper than ${MAX_TREE_DEPTH} levels`, ctx, entry.path);
      const dir = newDir(st, entry, true);
      cur.children.set(name, dir);
      st.touched.add(cur.id);
      st.markNamed(cur, name);
      stack.push(dir);
    } else if (child.kind === 'dir') {
      if (create) st.markNamed(cur, name);
      stack.push(child);
    } else if (child.kind === 'symlink') {
      if (++hops > MAX_SYMLINK_HOPS) throw layerError('symlink-loop', 'too many symlinks in a parent path', ctx, entry.path);
      if (child.target.startsWith('/')) stack.length = 1;
      queue = [...child.target.split('/'), ...queue.slice(at, end)];
      at = 0;
      end = queue.length;
    } else {
      if (!create) return undefined;
      throw layerError('parent-not-directory', `parent "${name}" is not a directory`, ctx, entry.path, { kind: child.kind });
    }
  }
  if (create && stack.length > MAX_TREE_DEPTH) throw layerError('path-too-deep', `tree deeper than ${MAX_TREE_DEPTH} levels`, ctx, entry.path);
  return stack[stack.length - 1]!;
}

/** The entry's xattrs minus the overlayfs namespace (each drop is reported). */
function keptXattrs(st: LayerState, entry: TarEntry): Map<string, Buffer> {
  const out = new Map<string, Buffer>();
  for (const [k, v] of entry.xattrs) {
    if (k.startsWith(DROPPED_XATTR_PREFIX)) {
      st.options.onWarning?.({ code: 'DROPPED_XATTR', message: `xattr ${k} dropped (overlayfs namespace)`, offset: entry.headerOffset, path: entry.path });
    } else out.set(k, v);
  }
  return out;
}

/** A copy of a time (fresh object literal, so every node gets the same hidden class). */
function time(t: Timestamp): Timestamp {
  return { sec: t.sec, nsec: t.nsec };
}

/**
 * The common fields of a new node, built as one object literal in a fixed order; kind-specific fields are added
 * right after in a fixed order too. (Spreading objects gave V8 unstable shapes and ~1 µs property reads.)
 */
function base(st: LayerState, entry: TarEntry, kind: NodeKind): NodeBase {
  const id = st.tree.allocateId();
  return {
    id,
    kind,
    mode: entry.mode & 0o7777,
    uid: entry.uid,
    gid: entry.gid,
    mtime: time(entry.mtime),
    atime: time(entry.atime ?? entry.mtime),
    ctime: time(entry.ctime ?? entry.mtime),
    xattrs: entry.xattrs.size === 0 ? new Map() : keptXattrs(st, entry),
    layer: st.layer,
  };
}

/** A new directory from a dir entry, or an implicit parent (0755 root:root, the entry's mtime, no xattrs). */
function newDir(st: LayerState, entry: TarEntry, implicit: boolean): DirNode {
  const node = base(st, entry, 'dir') as DirNode;
  node.children = new Map();
  if (implicit) {
    node.mode = 0o755;
    node.uid = 0;
    node.gid = 0;
    node.atime = time(entry.mtime);
    node.ctime = time(entry.mtime);
    if (node.xattrs.size > 0) node.xattrs = new Map();
  }
  return node;
}

function newNode(st: LayerState, entry: TarEntry, ctx: PathContext): FsNode {
  switch (entry.type) {
    case 'file': {
      const segments = entrySegments(entry);
      for (let i = 0; i < segments.length; i++) {
        const s = segments[i]!;
        if (s.fileOffset % 512 !== 0 || (i < segments.length - 1 && s.length % 512 !== 0)) {
          throw layerError('unaligned-sparse-run', 'sparse run not aligned to 512 bytes cannot be mapped', ctx, entry.path, {
            fileOffset: s.fileOffset,
            length: s.length,
          });
        }
      }
      const node = base(st, entry, 'file') as FileNode;
      node.data = { layer: st.layer, size: entry.size, segments };
      return node;
    }
    case 'symlink': {
      if (entry.linkname === '') throw layerError('empty-symlink-target', 'symlink with an empty target', ctx, entry.path);
      if (entry.linkname.includes('\0')) throw layerError('nul-in-path', 'NUL byte in symlink target', { ...ctx, field: 'linkname' }, entry.path);
      if (Buffer.byteLength(entry.linkname, 'utf8') > MAX_SYMLINK_TARGET_BYTES) {
        throw layerError('symlink-target-too-long', `symlink target longer than ${MAX_SYMLINK_TARGET_BYTES} bytes`, { ...ctx, field: 'linkname' }, entry.path);
      }
      const node = base(st, entry, 'symlink') as SymlinkNode;
      node.target = entry.linkname;
      return node;
    }
    case 'char':
    case 'block': {
      const node = base(st, entry, entry.type) as DeviceNode;
      node.major = entry.devmajor;
      node.minor = entry.devminor;
      return node;
    }
    case 'fifo':
      return base(st, entry, 'fifo') as SpecialNode;
    case 'dir':
      return newDir(st, entry, false);
    case 'hardlink':
      throw new Error('unreachable: hardlinks are resolved, not created');
  }
}

/** Marks every non-directory under (and including) `node` as touched: their link counts may drop. */
function touchSubtree(st: LayerState, node: FsNode): void {
  st.touched.add(node.id);
  if (node.kind === 'dir') for (const c of node.children.values()) touchSubtree(st, c);
}

function removeChild(st: LayerState, dir: DirNode, name: string): void {
  const node = dir.children.get(name);
  if (!node) return;
  dir.children.delete(name);
  st.touched.add(dir.id);
  touchSubtree(st, node);
}

/**
 * Hides the lower-layer content of `dir`: children this layer did not name go; a lower directory this layer
 * walked into keeps only what this layer put in it (recursively).
 */
function clearLower(st: LayerState, dir: DirNode): void {
  for (const [name, child] of [...dir.children]) {
    if (!st.isNamed(dir, name)) removeChild(st, dir, name);
    else if (child.kind === 'dir' && !st.isNew(child)) clearLower(st, child);
  }
}

function applyWhiteout(st: LayerState, entry: TarEntry, comps: string[], ctx: PathContext, options: ApplyLayerOptions): void {
  const name = comps[comps.length - 1]!;
  const dir = resolveDir(st, comps, comps.length - 1, false, entry, ctx);
  if (name === OPAQUE_MARKER) {
    if (dir) clearLower(st, dir);
    return;
  }
  if (name.startsWith('.wh..wh.')) {
    options.onWarning?.({ code: 'RESERVED_WHITEOUT', message: `reserved whiteout name ${name} ignored`, offset: ctx.offset, path: entry.path });
    return;
  }
  const target = name.slice(WHITEOUT_PREFIX.length);
  if (target === '' || target === '.' || target === '..') throw layerError('bad-whiteout', 'whiteout names no file', ctx, entry.path);
  const victim = dir?.children.get(target);
  if (!dir || !victim) return;
  if (!st.isNamed(dir, target)) removeChild(st, dir, target);
  else if (victim.kind === 'dir' && !st.isNew(victim)) clearLower(st, victim);
}

function applyEntry(st: LayerState, entry: TarEntry, options: ApplyLayerOptions): void {
  const ctx: PathContext = { offset: entry.headerOffset, layer: st.layer, field: 'path' };
  const comps = normalizeLayerPath(entry.path, ctx);
  const last = comps[comps.length - 1];
  if (last !== undefined && last.startsWith(WHITEOUT_PREFIX)) return applyWhiteout(st, entry, comps, ctx, options);
  if (last === undefined) {
    if (entry.type !== 'dir') throw layerError('root-not-directory', 'a non-directory entry names the layer root', ctx, entry.path, { type: entry.type });
    updateDir(st, st.tree.root, entry);
    return;
  }
  const parent = resolveDir(st, comps, comps.length - 1, true, entry, ctx)!;
  const existing = parent.children.get(last);
  st.markNamed(parent, last);
  if (entry.type === 'dir' && existing?.kind === 'dir') {
    updateDir(st, existing, entry);
    return;
  }
  let node: FsNode;
  if (entry.type === 'hardlink') {
    const lctx: PathContext = { ...ctx, field: 'linkname' };
    const tcomps = normalizeLayerPath(entry.linkname, lctx);
    const tname = tcomps[tcomps.length - 1];
    const tdir = tname === undefined ? undefined : resolveDir(st, tcomps, tcomps.length - 1, false, entry, lctx);
    const target = tname === undefined ? st.tree.root : tdir?.children.get(tname);
    if (!target) throw layerError('hardlink-target-missing', `hardlink target "${entry.linkname}" does not exist`, lctx, entry.path);
    if (target.kind === 'dir') throw layerError('hardlink-to-directory', `hardlink target "${entry.linkname}" is a directory`, lctx, entry.path);
    if (target === existing) return;
    node = target;
    st.touched.add(target.id);
  } else {
    node = newNode(st, entry, ctx);
  }
  if (existing) removeChild(st, parent, last);
  parent.children.set(last, node);
  st.touched.add(parent.id);
}

/** A directory entry over an existing directory: metadata replaced in place, children kept. */
function updateDir(st: LayerState, dir: DirNode, entry: TarEntry): void {
  dir.mode = entry.mode & 0o7777;
  dir.uid = entry.uid;
  dir.gid = entry.gid;
  dir.mtime = time(entry.mtime);
  dir.atime = time(entry.atime ?? entry.mtime);
  dir.ctime = time(entry.ctime ?? entry.mtime);
  dir.xattrs = entry.xattrs.size === 0 ? new Map() : keptXattrs(st, entry);
  dir.layer = st.layer;
  st.touched.add(dir.id);
}
