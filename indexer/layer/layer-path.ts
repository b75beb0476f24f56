// Lexical normalisation of tar member paths for OCI layers (image-spec v1.1 layer.md): './', '/', '.', '..' and limits.
import { ImageError } from '../../src/errors.js';

/** Longest name of one path component in bytes (ext4 EXT4_NAME_LEN; also Linux NAME_MAX). */
export const MAX_NAME_BYTES = 255;

/** Longest archived path or hardlink target in bytes (Linux PATH_MAX, 4096 including the terminating NUL). */
export const MAX_PATH_BYTES = 4095;

/** Longest symlink target in bytes (Linux symlink(2) PATH_MAX limit; ext4 stores at most one 4 KiB block). */
export const MAX_SYMLINK_TARGET_BYTES = 4095;

/** Deepest node below the root: bounds recursion in every tree walker even when symlinked parents stack paths. */
export const MAX_TREE_DEPTH = 2048;

/** Where a path came from, for error details. */
export interface PathContext {
  /** Offset of the entry's first header block in the layer's uncompressed tar. */
  offset: number;
  layer: number;
  /** Which field: 'path' or 'linkname'. */
  field: string;
}

/** Stable `details.reason` values of layer errors (the ImageError code is CORRUPT unless noted). */
export type LayerErrorReason =
  | 'empty-path'
  | 'nul-in-path'
  | 'path-escapes-root'
  | 'name-too-long' // code LIMIT_EXCEEDED
  | 'path-too-long' // code LIMIT_EXCEEDED
  | 'path-too-deep' // code LIMIT_EXCEEDED
  | 'symlink-target-too-long' // code LIMIT_EXCEEDED
  | 'parent-not-directory'
  | 'symlink-loop'
  | 'root-not-directory'
  | 'hardlink-target-missing'
  | 'hardlink-to-directory'
  | 'bad-whiteout'
  | 'empty-symlink-target'
  | 'unaligned-sparse-run'; // code UNSUPPORTED

/** Builds the error for `reason` with the entry's facts. */
export function layerError(reason: LayerErrorReason, message: string, ctx: PathContext, path: string, extra: Record<string, string | number> = {}): ImageError {
  const limits: LayerErrorReason[] = ['name-too-long', 'path-too-long', 'path-too-deep', 'symlink-target-too-long'];
  const code = limits.includes(reason) ? 'LIMIT_EXCEEDED' : reason === 'unaligned-sparse-run' ? 'UNSUPPORTED' : 'CORRUPT';
  return new ImageError(code, `layer ${ctx.layer}: ${message}`, {
    details: { reason, layer: ctx.layer, offset: ctx.offset, field: ctx.field, path: path.slice(0, 4096), ...extra },
  });
}

/**
 * Splits an archived path into components below the root: drops empty and '.' parts (so './a', '/a', 'a//b/'
 * work), applies '..' lexically and rejects paths that climb above the root. [] means the root itself.
 */
export function normalizeLayerPath(path: string, ctx: PathContext): string[] {
  if (path === '') throw layerError('empty-path', 'empty path', ctx, path);
  if (path.includes('\0')) throw layerError('nul-in-path', 'NUL byte in path', ctx, path);
  if (path.length > MAX_PATH_BYTES / 3 && Buffer.byteLength(path, 'utf8') > MAX_PATH_BYTES) {
    throw layerError('path-too-long', `path longer than ${MAX_PATH_BYTES} bytes`, ctx, path, { bytes: Buffer.byteLength(path, 'utf8') });
  }
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length === 0) throw layerError('path-escapes-root', 'path climbs above the layer root', ctx, path);
      out.pop();
      continue;
    }
    if (part.length > MAX_NAME_BYTES / 3 && Buffer.byteLength(part, 'utf8') > MAX_NAME_BYTES) {
      throw layerError('name-too-long', `path component longer than ${MAX_NAME_BYTES} bytes`, ctx, path, { bytes: Buffer.byteLength(part, 'utf8') });
    }
    out.push(part);
  }
  return out;
}
