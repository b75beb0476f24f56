// The CompressedSource interface: random access to the compressed layer bytes (a local file now, HTTP ranges later).

/** Random-access compressed layer bytes. */
export interface CompressedSource {
  /** Total size of the layer blob in bytes. */
  readonly size: number;
  /** Exactly `length` bytes at `offset` (fewer only past the end); rejects with an ImageError. */
  read(offset: number, length: number): Promise<Buffer>;
  /** Releases handles (idempotent). */
  close?(): Promise<void>;
}
