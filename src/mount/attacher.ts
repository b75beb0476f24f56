// The frontend seam of mounting: an Attacher turns an NBD URI into a local read-only block device and back.

/** How a device was attached. 'nbdfuse-loop' works on this machine; 'kernel-nbd' (and TCMU later) need the qemu guest. */
export type AttachKind = 'nbdfuse-loop' | 'kernel-nbd';

/** What an attach created so far; every field is optional so a crash mid-attach still leaves a teardown-able record. */
export interface AttachState {
  kind: AttachKind;
  /** The block device to mount (/dev/loopN, /dev/nbdN). */
  device?: string;
  /** nbdfuse-loop: the FUSE mount directory, the file in it, the nbdfuse process. */
  fuseDir?: string;
  fuseFile?: string;
  nbdfusePid?: number;
}

/** Attaches NBD exports as block devices. */
export interface Attacher {
  readonly kind: AttachKind;
  /**
   * Attaches the export at `uri` read-only, using `workDir` for its own files. Calls `record` after each step that
   * creates something, so the caller can persist partial state. Returns the final state with `device` set.
   */
  attach(uri: string, workDir: string, record: (state: AttachState) => Promise<void>): Promise<AttachState & { device: string }>;
  /** Undoes whatever `state` says exists; tolerates parts that are already gone. */
  detach(state: AttachState): Promise<void>;
}
