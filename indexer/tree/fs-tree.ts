// The filesystem tree model shared by the OCI layer applier (producer) and the ext4 writer (consumer).
//
// Lifecycle: the applier starts from an empty root and applies layer 0, 1, … in order, mutating the tree.
// After each layer the ext4 writer turns the tree into that layer's ext4 delta. Node identity is stable:
// a node that a layer does not touch keeps its object and `id`, so the writer keeps its inode and blocks.
// A hardlink is the same FsNode object reachable under several names. Every tar entry that (re)creates a
// path makes a new node with a new `id`; a directory entry over an existing directory updates it in place.

/** A time with nanoseconds, as tar PAX records carry it (seconds may be negative or beyond 2038). */
export interface Timestamp {
  sec: number;
  nsec: number;
}

/** A contiguous piece of a regular file's data stored in a layer's uncompressed tar. */
export interface DataSegment {
  /** Offset of the piece within the file. */
  fileOffset: number;
  /** Length in bytes (> 0). */
  length: number;
  /** Offset of the piece's first byte in the uncompressed tar stream of `FileData.layer` (always 512-aligned). */
  tarOffset: number;
}

/** Where a regular file's bytes live: pieces of one layer's tar; bytes not covered are holes (read as zero). */
export interface FileData {
  /** Index of the layer whose tar holds the bytes (0 = bottom). */
  layer: number;
  /** Apparent file size in bytes (may exceed the covered bytes for sparse files). */
  size: number;
  /** Non-overlapping pieces sorted by fileOffset; empty for an empty or all-hole file. */
  segments: DataSegment[];
}

/** Kinds of filesystem objects a layer can create. */
export type NodeKind = 'file' | 'dir' | 'symlink' | 'char' | 'block' | 'fifo' | 'socket';

/** Attributes every node carries. */
export interface NodeBase {
  /** Stable identity, unique within one chain of layers; never reused. */
  readonly id: number;
  kind: NodeKind;
  /** Permission and special bits (0o7777: suid, sgid, sticky, rwx). The file type is `kind`. */
  mode: number;
  uid: number;
  gid: number;
  mtime: Timestamp;
  atime: Timestamp;
  ctime: Timestamp;
  /** Extended attributes by full name (`user.x`, `security.capability`, `trusted.overlay.opaque`, …). */
  xattrs: Map<string, Buffer>;
  /** Index of the layer that last created or changed this node. */
  layer: number;
}

/** A regular file. */
export interface FileNode extends NodeBase {
  kind: 'file';
  data: FileData;
}

/** A directory: entries by name (one path component, no '/', not '.' or '..'). */
export interface DirNode extends NodeBase {
  kind: 'dir';
  children: Map<string, FsNode>;
}

/** A symbolic link. */
export interface SymlinkNode extends NodeBase {
  kind: 'symlink';
  target: string;
}

/** A character or block device. */
export interface DeviceNode extends NodeBase {
  kind: 'char' | 'block';
  major: number;
  minor: number;
}

/** A fifo or socket. */
export interface SpecialNode extends NodeBase {
  kind: 'fifo' | 'socket';
}

/** Any node of the tree. */
export type FsNode = FileNode | DirNode | SymlinkNode | DeviceNode | SpecialNode;
