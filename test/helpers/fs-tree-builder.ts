// Test helper: builds FsNode trees directly, with file contents packed into a synthetic per-layer "tar"
// buffer (512-byte aligned pieces), so the ext4 writer can be driven without the tar scanner.
import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { DirNode, FileNode, FsNode, NodeBase, Timestamp } from '../../indexer/tree/fs-tree.js';
import type { TreeEntry } from './images/tree.js';
import { clampInodeTime } from '../../src/format/ext4/inode.js';

/** A layer's synthetic tar bytes plus the tree nodes it created. */
export class LayerBuilder {
  readonly layer: number;
  #chunks: Buffer[] = [];
  #size = 512; // leave one "header" block first, like a real tar
  #ids: { next: number };

  constructor(layer: number, ids: { next: number }) {
    this.layer = layer;
    this.#ids = ids;
    this.#chunks.push(Buffer.alloc(512, 0x55));
  }

  /** The layer bytes (content pieces separated by 0x55-filled "headers" that must never leak). */
  bytes(): Buffer {
    return Buffer.concat(this.#chunks);
  }

  /** A stream of the layer bytes. */
  stream(): Readable {
    return Readable.from([this.bytes()]);
  }

  #put(content: Buffer): number {
    const at = this.#size;
    const padded = Buffer.alloc(Math.ceil(content.length / 512) * 512);
    content.copy(padded);
    this.#chunks.push(padded, Buffer.alloc(512, 0x55));
    this.#size += padded.length + 512;
    return at;
  }

  base(kind: FsNode['kind'], mode: number, t: Timestamp = { sec: 1_700_000_000, nsec: 123_456_789 }): NodeBase {
    return { id: this.#ids.next++, kind, mode, uid: 0, gid: 0, mtime: t, atime: t, ctime: t, xattrs: new Map(), layer: this.layer };
  }

  dir(mode = 0o755): DirNode {
    return { ...this.base('dir', mode), kind: 'dir', children: new Map() };
  }

  file(content: Buffer, mode = 0o644): FileNode {
    const segments = content.length === 0 ? [] : [{ fileOffset: 0, length: content.length, tarOffset: this.#put(content) }];
    return { ...this.base('file', mode), kind: 'file', data: { layer: this.layer, size: content.length, segments } };
  }

  /** A sparse file: `pieces` at their offsets, holes elsewhere, apparent size `size`. */
  sparse(size: number, pieces: { offset: number; content: Buffer }[], mode = 0o644): FileNode {
    const segments = pieces.map((p) => ({ fileOffset: p.offset, length: p.content.length, tarOffset: this.#put(p.content) }));
    return { ...this.base('file', mode), kind: 'file', data: { layer: this.layer, size, segments } };
  }
}

/** The TreeEntry list (test/helpers/images/tree.ts format) a mount of `root` must show; `layers[i]` = layer i's bytes. */
export function treeEntriesOf(root: DirNode, layers: Buffer[]): TreeEntry[] {
  const out: TreeEntry[] = [];
  const paths = new Map<number, string[]>();
  const visit = (node: FsNode, p: string): void => {
    // Whole seconds as the tree walker reports them (Python int(st_mtime) truncates toward zero), after ext4's clamp.
    const t = clampInodeTime(node.mtime);
    const mtime = Math.trunc(t.sec + t.nsec / 1e9);
    const e: TreeEntry = { path: p, type: node.kind, mode: node.mode & 0o7777, uid: node.uid, gid: node.gid, mtime, xattrs: {} };
    const userOk = node.kind === 'file' || node.kind === 'dir'; // user.* only on files and dirs (xattr(7))
    for (const [k, v] of [...node.xattrs].sort((a, b) => (a[0] < b[0] ? -1 : 1))) if (userOk || !k.startsWith('user.')) e.xattrs[k] = v.toString('hex');
    if (node.kind === 'file') {
      e.size = node.data.size;
      e.sha256 = fileHash(node, layers);
      paths.set(node.id, [...(paths.get(node.id) ?? []), p]);
    } else if (node.kind === 'symlink') {
      e.target = node.target;
      e.size = Buffer.byteLength(node.target);
    } else if (node.kind === 'char' || node.kind === 'block') {
      e.rdevMajor = node.major;
      e.rdevMinor = node.minor;
    }
    if (node.kind !== 'dir' && node.kind !== 'file') paths.set(node.id, [...(paths.get(node.id) ?? []), p]);
    out.push(e);
    if (node.kind === 'dir') for (const [name, child] of node.children) visit(child, p === '/' ? `/${name}` : `${p}/${name}`);
  };
  const ids = new Map<string, number>();
  const index = (node: FsNode, p: string): void => {
    ids.set(p, node.id);
    if (node.kind === 'dir') for (const [name, child] of node.children) index(child, p === '/' ? `/${name}` : `${p}/${name}`);
  };
  visit(root, '/');
  index(root, '/');
  for (const e of out) {
    const group = paths.get(ids.get(e.path)!);
    if (e.type !== 'dir' && group && group.length > 1) e.hardlinks = [...group].sort();
  }
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** sha256 of a file's content as described by its segments (holes are zeros), streamed in 1 MiB pieces. */
function fileHash(node: FileNode, layers: Buffer[]): string {
  const h = createHash('sha256');
  const zero = Buffer.alloc(1 << 20);
  let pos = 0;
  const fill = (to: number): void => {
    while (pos < to) {
      const n = Math.min(zero.length, to - pos);
      h.update(zero.subarray(0, n));
      pos += n;
    }
  };
  for (const s of node.data.segments) {
    fill(s.fileOffset);
    h.update(layers[node.data.layer]!.subarray(s.tarOffset, s.tarOffset + s.length));
    pos += s.length;
  }
  fill(node.data.size);
  return h.digest('hex');
}
