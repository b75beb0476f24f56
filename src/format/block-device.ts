// The block device interface that frontends (NBD, TCMU, the ext4 reader) take and backstores implement.

/** A read-only virtual block device addressed in bytes. */
export interface BlockDevice {
  /** Device size in bytes (a multiple of blockBytes). */
  readonly sizeBytes: number;
  /** Preferred I/O granularity in bytes (4096 for our ext4 images); reads of any alignment are allowed. */
  readonly blockBytes: number;
  /**
   * Returns exactly `length` bytes starting at `offset`. Rejects with an ImageError (INVALID_ARGUMENT for a
   * range outside the device; UNAVAILABLE/TIMEOUT/CORRUPT when the bytes cannot be had) — never short or wrong data.
   */
  read(offset: number, length: number): Promise<Buffer>;
  /** Releases resources (sockets, file handles, caches). Idempotent. */
  close(): Promise<void>;
}
