// The InflateEngine interface: the two zlib operations zran needs (build points over a stream, inflate from a point).

/** A place where raw inflate can resume, as found by an engine's indexer. */
export interface EngineSeekPoint {
  /** Uncompressed offset of the point (all members concatenated). */
  uncompressedOffset: number;
  /** Absolute bit position: byte = bit >> 3, (bit & 7) low bits of that byte already consumed (LSB-first). */
  compressedBitOffset: number;
  /** True right after a gzip member header (byte aligned, empty window). */
  memberStart: boolean;
  /** The last min(32 KiB, output since member start) bytes before the point. */
  window: Buffer;
}

/** Totals reported when the indexer reaches the end of the input. */
export interface EngineIndexSummary {
  compressedBytes: number;
  uncompressedBytes: number;
  members: number;
  trailingZeroBytes: number;
}

/**
 * A streaming point finder over gzip bytes. Point rules (identical in every engine): a memberStart point right
 * after each member header; then a point at the end of each non-final deflate block once >= span output bytes
 * have passed since the previous point of the member. Points may share an uncompressed offset (the consumer keeps
 * the later one). Errors are ImageError CORRUPT/TRUNCATED with details.offset.
 */
export interface EngineIndexer {
  /** Consumes the next chunk (calls are sequential); resolves to the points completed so far. */
  push(chunk: Buffer): Promise<EngineSeekPoint[]>;
  /** Declares the end of input; TRUNCATED when it ends inside a member. */
  finish(): Promise<EngineIndexSummary>;
  /** Releases resources (idempotent). */
  destroy(): void;
}

/** What an output-emitting indexer's push resolves to. */
export interface EnginePushResult {
  /** The points completed so far. */
  points: EngineSeekPoint[];
  /** The uncompressed bytes this chunk produced, in stream order (may be empty). */
  output: Buffer;
}

/** An EngineIndexer whose push also hands out the uncompressed bytes (createIndexer with emitOutput: true). */
export interface EngineOutputIndexer {
  /** Consumes the next chunk (calls are sequential); resolves to its points and uncompressed output. */
  push(chunk: Buffer): Promise<EnginePushResult>;
  /** Declares the end of input; TRUNCATED when it ends inside a member. */
  finish(): Promise<EngineIndexSummary>;
  /** Releases resources (idempotent). */
  destroy(): void;
}

/** Options of InflateEngine.createIndexer. */
export interface EngineIndexerOptions {
  /** push() also resolves with the uncompressed bytes (default false). */
  emitOutput?: boolean;
}

/** Arguments of one raw inflate from a seek point. */
export interface InflateFromArgs {
  /** Compressed bytes starting at byte (bit >> 3) of the point. */
  input: Buffer;
  /** Bits of input[0] already consumed (bit & 7). */
  firstBitInByte: number;
  /** The point's window (dictionary); empty at member start. */
  window: Buffer;
  /** Uncompressed bytes to discard after the point. */
  skipBytes: number;
  /** Uncompressed bytes to return after the skipped ones. */
  outBytes: number;
}

/** What one raw inflate produced. */
export interface InflateFromResult {
  /** At most outBytes bytes (fewer only at stream end or input exhaustion). */
  output: Buffer;
  /** The deflate stream's final block ended. */
  streamEnd: boolean;
  /** All input was consumed before the output was complete. */
  inputExhausted: boolean;
}

/** An inflate implementation: native addon or pako. */
export interface InflateEngine {
  /** 'native' or 'pako'. */
  readonly name: string;
  /** Starts a point finder for gzip bytes with the given span. */
  createIndexer(spanBytes: number, options?: EngineIndexerOptions & { emitOutput?: false }): EngineIndexer;
  /** Starts a point finder that also hands out the uncompressed bytes. */
  createIndexer(spanBytes: number, options: EngineIndexerOptions & { emitOutput: true }): EngineOutputIndexer;
  /** Raw inflate from a point. */
  inflateFrom(args: InflateFromArgs): Promise<InflateFromResult>;
}
