// The mutable filesystem tree of one layer chain: root directory, node id counter, lookup, sorted walk, link counts.
import type { DirNode, FsNode, Timestamp } from './fs-tree.js';

/** Maps a UTF-16 code unit so that comparing mapped units orders strings like their UTF-8 bytes. */
function utf8Rank(c: number): number {
  if (c < 0xd800) return c;
  return c <= 0xdfff ? c + 0x2000 : c - 0x800;
}

/** Compares two names by their UTF-8 bytes (the order of the deterministic walk). */
export function compareNames(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x !== y) return utf8Rank(x) - utf8Rank(y);
  }
  return a.length - b.length;
}

/** A directory's entries sorted by name bytes. */
export function sortedChildren(dir: DirNode): [string, FsNode][] {
  return [...dir.children].sort((p, q) => compareNames(p[0], q[0]));
}

/** One step of a walk: the node, its name and parent (null for the root) and its path ('/' for the root). */
export interface WalkEntry {
  path: string;
  name: string;
  node: FsNode;
  parent: DirNode | null;
}

const EPOCH: Timestamp = { sec: 0, nsec: 0 };

/** The tree the layer applier mutates and the ext4 writer reads (see the lifecycle comment in fs-tree.ts). */
export class FsTree {
  readonly root: DirNode;
  #nextId = 1;

  constructor() {
    this.root = {
      id: this.allocateId(),
      kind: 'dir',
      mode: 0o755,
      uid: 0,
      gid: 0,
      mtime: { ...EPOCH },
      atime: { ...EPOCH },
      ctime: { ...EPOCH },
      xattrs: new Map(),
      layer: 0,
      children: new Map(),
    };
  }

  /** A new node id: ids only grow and are never reused within this tree. */
  allocateId(): number {
    return this.#nextId++;
  }

  /** The highest id handed out so far. */
  get lastId(): number {
    return this.#nextId - 1;
  }

  /** The node at `path` ('/a/b', 'a/b', './a/b'), following no symlinks; undefined when absent. */
  lookup(path: string): FsNode | undefined {
    let node: FsNode = this.root;
    for (const part of path.split('/')) {
      if (part === '' || part === '.') continue;
      if (node.kind !== 'dir') return undefined;
      const next: FsNode | undefined = node.children.get(part);
      if (!next) return undefined;
      node = next;
    }
    return node;
  }

  /** Depth-first pre-order walk from the root; children in name-byte order. Hardlinked nodes appear once per name. */
  *walk(): Generator<WalkEntry> {
    yield { path: '/', name: '', node: this.root, parent: null };
    yield* walkDir(this.root, '');
  }
}

function* walkDir(dir: DirNode, prefix: string): Generator<WalkEntry> {
  for (const [name, node] of sortedChildren(dir)) {
    const path = `${prefix}/${name}`;
    yield { path, name, node, parent: dir };
    if (node.kind === 'dir') yield* walkDir(node, path);
  }
}

/** Link counts by node id as ext4 wants them: names per non-directory; 2 + subdirectories per directory. */
export function linkCounts(tree: FsTree): Map<number, number> {
  const counts = new Map<number, number>();
  const visit = (dir: DirNode): void => {
    let subdirs = 0;
    for (const child of dir.children.values()) {
      if (child.kind === 'dir') {
        subdirs++;
        visit(child);
      } else counts.set(child.id, (counts.get(child.id) ?? 0) + 1);
    }
    counts.set(dir.id, 2 + subdirs);
  };
  visit(tree.root);
  return counts;
}

/** Ids of every node reachable from the root. */
export function reachableIds(tree: FsTree): Set<number> {
  const ids = new Set<number>();
  const visit = (dir: DirNode): void => {
    ids.add(dir.id);
    for (const child of dir.children.values()) {
      if (child.kind === 'dir') visit(child);
      else ids.add(child.id);
    }
  };
  visit(tree.root);
  return ids;
}
