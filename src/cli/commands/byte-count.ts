// Byte-count flags of the CLI (--span, --cache-max-bytes…): a plain integer or one with a binary unit.
import { ImageError } from '../../errors.js';

const UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, kib: 1024, m: 1024 ** 2, mib: 1024 ** 2, g: 1024 ** 3, gib: 1024 ** 3 };

/** Parses a byte count: a plain integer or one with a binary unit (64KiB, 1MiB, 1M); INVALID_ARGUMENT naming `flag` otherwise. */
export function parseBytes(text: string, flag: string): number {
  const m = /^\s*(\d+)\s*([a-zA-Z]*)\s*$/.exec(text);
  const unit = m ? UNITS[m[2]!.toLowerCase()] : undefined;
  const value = m && unit !== undefined ? Number(m[1]) * unit : NaN;
  if (!Number.isSafeInteger(value)) {
    throw new ImageError('INVALID_ARGUMENT', `${flag} must be a byte count like 1048576 or 1MiB, got '${text}'`);
  }
  return value;
}
