// Loads the optional native zlib addon (native/, node-addon-api) and wraps it in a typed, validated API;
// the only module that loads a .node binary. Without it, callers fall back to the pure-JS (pako) engine.
import { constants } from 'node:buffer';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { ImageError, type ErrorCode } from './errors.js';

/**
 * A zran-style seek point found while indexing a gzip stream (RFC 1952 members of RFC 1951 deflate data).
 * Points come in stream order. Two points may share `uncompressedOffset` (a point at the end of a member and
 * the next member's start, or an empty member): consumers keep the later one. Two points never share both
 * `uncompressedOffset` and `compressedBitOffset`.
 */
export interface NativeSeekPoint {
  /** Offset in the uncompressed stream where inflate resumes. */
  uncompressedOffset: number;
  /** Absolute bit position in the compressed stream: byte = bit >> 3, (bit & 7) bits of it already used (LSB first). */
  compressedBitOffset: number;
  /** First deflate block of a gzip member: byte aligned, window empty. */
  memberStart: boolean;
  /** The last min(32 KiB, bytes since member start) uncompressed bytes before the point (a copy). */
  window: Buffer;
}

/** Totals reported by NativeIndexer.finish(). */
export interface NativeIndexSummary {
  compressedBytes: number;
  uncompressedBytes: number;
  members: number;
  trailingZeroBytes: number;
}

/** A one-pass gzip indexer; inflate runs on the libuv thread pool. */
export interface NativeIndexer {
  /** Inflates the next chunk (Z_BLOCK) and resolves with the points found; await each push before the next. */
  push(chunk: Uint8Array): Promise<NativeSeekPoint[]>;
  /** Ends the input: TRUNCATED when it stops inside a member; releases the zlib state. */
  finish(): Promise<NativeIndexSummary>;
  /** Abandons the indexer and frees its memory (idempotent; safe while a push runs). */
  destroy(): void;
}

/** Options of createIndexer. */
export interface NativeIndexerOptions {
  /** push() also resolves with the uncompressed bytes the chunk produced (default false). */
  emitOutput?: boolean;
}

/** What push() resolves with when the indexer was created with emitOutput. */
export interface NativePushResult {
  points: NativeSeekPoint[];
  /** The uncompressed bytes this chunk produced, in stream order (owned by the caller; may be empty). */
  output: Buffer;
}

/** A one-pass gzip indexer that also hands out the uncompressed stream (createIndexer with emitOutput: true). */
export interface NativeOutputIndexer {
  /** Inflates the next chunk and resolves with its points and output; await each push before the next. */
  push(chunk: Uint8Array): Promise<NativePushResult>;
  /** Ends the input: TRUNCATED when it stops inside a member; releases the zlib state. */
  finish(): Promise<NativeIndexSummary>;
  /** Abandons the indexer and frees its memory (idempotent; safe while a push runs). */
  destroy(): void;
}

/** Arguments of inflateFrom: raw deflate from a seek point. */
export interface NativeInflateArgs {
  /** Compressed bytes starting at byte (compressedBitOffset >> 3) of the point. */
  input: Uint8Array;
  /** compressedBitOffset & 7: bits of input[0] already used by the previous block (0..7). */
  firstBitInByte: number;
  /** The point's window (dictionary), may be empty; at most 32 KiB. */
  window: Uint8Array;
  /** Output bytes to discard first. */
  skipBytes: number;
  /** At most this many bytes are returned after the skipped ones. */
  outBytes: number;
}

/** Result of inflateFrom; `output` is shorter than asked when the stream or the input ended first. */
export interface NativeInflateResult {
  output: Buffer;
  /** The deflate stream (a gzip member's data) ended before outBytes were produced. */
  streamEnd: boolean;
  /** The input ran out before outBytes were produced (give more compressed bytes). */
  inputExhausted: boolean;
}

/** The native engine: zlib of the running Node, build and read halves of zran. */
export interface NativeBinding {
  /** zlibVersion() of the zlib the addon is bound to (Node's own). */
  zlibVersion: string;
  /** A new indexer emitting a point at least every `spanBytes` uncompressed bytes (integer >= 1). */
  createIndexer(spanBytes: number, options?: NativeIndexerOptions & { emitOutput?: false }): NativeIndexer;
  /** The same indexer whose push() also resolves with the uncompressed bytes. */
  createIndexer(spanBytes: number, options: NativeIndexerOptions & { emitOutput: true }): NativeOutputIndexer;
  /** Inflates from a seek point on the thread pool. */
  inflateFrom(args: NativeInflateArgs): Promise<NativeInflateResult>;
  /** Same as inflateFrom on the calling thread (small reads, tests). */
  inflateFromSync(args: NativeInflateArgs): NativeInflateResult;
}

interface RawIndexer {
  push(chunk: Uint8Array): Promise<NativeSeekPoint[] | NativePushResult>;
  finish(): Promise<NativeIndexSummary>;
  destroy(): void;
}

interface RawBinding {
  zlibVersion: string;
  createIndexer(span: number, emitOutput: boolean): RawIndexer;
  inflateFrom(input: Uint8Array, firstBit: number, window: Uint8Array, skip: number, out: number): Promise<NativeInflateResult>;
  inflateFromSync(input: Uint8Array, firstBit: number, window: Uint8Array, skip: number, out: number): NativeInflateResult;
}

const ADDON_FILE = path.join('native', 'build', 'Release', 'turbo_native.node');
const KNOWN_CODES = new Set<ErrorCode>(['CORRUPT', 'TRUNCATED', 'INVALID_ARGUMENT', 'FAILED_PRECONDITION', 'INTERNAL']);
const MAX_WINDOW_BYTES = 32 * 1024;

let loaded: { binding?: NativeBinding; error?: string } | undefined;

/** Converts an error thrown or rejected by the addon into an ImageError whose stack is the JS call site. */
function nativeError(err: unknown, callSite: Error): ImageError {
  const raw = err as { code?: unknown; offset?: unknown; message?: unknown };
  const code = typeof raw.code === 'string' && KNOWN_CODES.has(raw.code as ErrorCode) ? (raw.code as ErrorCode) : 'INTERNAL';
  const message = typeof raw.message === 'string' ? raw.message : String(err);
  const details = typeof raw.offset === 'number' ? { offset: raw.offset } : {};
  const out = new ImageError(code, message, { details, cause: err });
  out.stack = `${out.name}: ${message}\n${(callSite.stack ?? '').split('\n').slice(1).join('\n')}`;
  return out;
}

function invalid(message: string): ImageError {
  return new ImageError('INVALID_ARGUMENT', message);
}

function checkCount(value: unknown, name: string): void {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) throw invalid(`${name} must be a non-negative safe integer, got ${String(value)}`);
}

function checkInflateArgs(a: NativeInflateArgs): void {
  if (!(a.input instanceof Uint8Array)) throw invalid('input must be a Buffer or Uint8Array');
  if (!(a.window instanceof Uint8Array)) throw invalid('window must be a Buffer or Uint8Array');
  if (a.window.length > MAX_WINDOW_BYTES) throw invalid(`window is ${a.window.length} bytes, more than 32 KiB`);
  if (!Number.isInteger(a.firstBitInByte) || a.firstBitInByte < 0 || a.firstBitInByte > 7) throw invalid(`firstBitInByte must be 0..7, got ${String(a.firstBitInByte)}`);
  if (a.firstBitInByte > 0 && a.input.length === 0) throw invalid('firstBitInByte > 0 needs at least one input byte');
  checkCount(a.skipBytes, 'skipBytes');
  checkCount(a.outBytes, 'outBytes');
  if (a.outBytes > constants.MAX_LENGTH) throw invalid(`outBytes ${a.outBytes} exceeds the largest Buffer (${constants.MAX_LENGTH} bytes)`);
}

function wrapIndexer<T extends NativeSeekPoint[] | NativePushResult>(raw: RawIndexer): {
  push(chunk: Uint8Array): Promise<T>;
  finish(): Promise<NativeIndexSummary>;
  destroy(): void;
} {
  return {
    async push(chunk) {
      const site = new Error();
      if (!(chunk instanceof Uint8Array)) throw invalid('push() takes a Buffer or Uint8Array');
      try {
        return (await raw.push(chunk)) as T;
      } catch (err) {
        throw nativeError(err, site);
      }
    },
    async finish() {
      const site = new Error();
      try {
        return await raw.finish();
      } catch (err) {
        throw nativeError(err, site);
      }
    },
    destroy() {
      raw.destroy();
    },
  };
}

function wrap(raw: RawBinding): NativeBinding {
  return {
    zlibVersion: raw.zlibVersion,
    createIndexer(spanBytes: number, options?: NativeIndexerOptions): NativeIndexer & NativeOutputIndexer {
      if (!Number.isSafeInteger(spanBytes) || spanBytes < 1) throw invalid(`span must be a positive integer, got ${String(spanBytes)}`);
      const emitOutput = options?.emitOutput ?? false;
      if (typeof emitOutput !== 'boolean') throw invalid(`emitOutput must be a boolean, got ${String(emitOutput)}`);
      // One object serves both overloads: push() resolves with points, or with { points, output } under emitOutput.
      return wrapIndexer<never>(raw.createIndexer(spanBytes, emitOutput));
    },
    async inflateFrom(a) {
      const site = new Error();
      checkInflateArgs(a);
      try {
        return await raw.inflateFrom(a.input, a.firstBitInByte, a.window, a.skipBytes, a.outBytes);
      } catch (err) {
        throw nativeError(err, site);
      }
    },
    inflateFromSync(a) {
      checkInflateArgs(a);
      try {
        return raw.inflateFromSync(a.input, a.firstBitInByte, a.window, a.skipBytes, a.outBytes);
      } catch (err) {
        throw nativeError(err, new Error());
      }
    },
  };
}

/** Finds the addon: walks up from this module (src/ or dist/src/) to the package root holding native/. */
function addonPath(): string | undefined {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 4; i++) {
    const candidate = path.join(dir, ADDON_FILE);
    if (existsSync(candidate)) return candidate;
    dir = path.dirname(dir);
  }
  return undefined;
}

function load(): { binding?: NativeBinding; error?: string } {
  const file = addonPath();
  if (!file) return { error: `${ADDON_FILE} not found (run npm run build:native)` };
  try {
    const raw = createRequire(import.meta.url)(file) as RawBinding;
    if (typeof raw.createIndexer !== 'function' || typeof raw.inflateFrom !== 'function') return { error: `${file} is not the turbo-oci addon` };
    return { binding: wrap(raw) };
  } catch (err) {
    return { error: `cannot load ${file}: ${err instanceof Error ? err.message : String(err)}` };
  }
}

/** The native engine, or undefined when it cannot load or TURBO_OCI_ZLIB=pako selects the pure-JS engine. */
export function loadNative(): NativeBinding | undefined {
  if (process.env.TURBO_OCI_ZLIB === 'pako') return undefined;
  loaded ??= load();
  return loaded.binding;
}

/** Why loadNative() returns undefined (for diagnostics), or undefined when the addon is in use. */
export function nativeLoadError(): string | undefined {
  if (process.env.TURBO_OCI_ZLIB === 'pako') return 'disabled by TURBO_OCI_ZLIB=pako';
  loaded ??= load();
  return loaded.error;
}
