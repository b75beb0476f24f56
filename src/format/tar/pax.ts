// PAX extended header records (POSIX.1-2001 `pax` "pax Extended Header"): "<len> <key>=<value>\n", pure codec.
import { ImageError } from '../../errors.js';

/** One record; the value is kept as raw bytes because xattr values are binary. */
export interface PaxRecord {
  key: string;
  value: Buffer;
}

/** Parses the payload of an `x` or `g` header; `offset` is the payload's stream offset (for errors). */
export function parsePaxRecords(payload: Buffer, offset: number): PaxRecord[] {
  const records: PaxRecord[] = [];
  let pos = 0;
  while (pos < payload.length) {
    if (payload[pos] === 0) break; // NUL padding at the end of the payload
    let sp = pos;
    let len = 0;
    while (sp < payload.length && payload[sp]! >= 0x30 && payload[sp]! <= 0x39) {
      len = len * 10 + (payload[sp]! - 0x30);
      sp++;
    }
    const bad = (why: string): ImageError =>
      new ImageError('CORRUPT', `malformed pax record: ${why}`, { details: { offset: offset + pos } });
    if (sp === pos || payload[sp] !== 0x20) throw bad('length not followed by a space');
    if (len <= sp - pos + 1 || pos + len > payload.length) throw bad('length out of range');
    const end = pos + len;
    if (payload[end - 1] !== 0x0a) throw bad('record does not end with a newline');
    const eq = payload.indexOf(0x3d, sp + 1);
    if (eq < 0 || eq >= end - 1) throw bad('no "=" in record');
    records.push({ key: payload.toString('utf8', sp + 1, eq), value: payload.subarray(eq + 1, end - 1) });
    pos = end;
  }
  return records;
}

/** Encodes records into a pax payload (the self-referential length is solved exactly). */
export function encodePaxRecords(records: PaxRecord[] | [string, string | Buffer][]): Buffer {
  const parts: Buffer[] = [];
  for (const r of records) {
    const key = Array.isArray(r) ? r[0] : r.key;
    const raw = Array.isArray(r) ? r[1] : r.value;
    const value = Buffer.isBuffer(raw) ? raw : Buffer.from(raw, 'utf8');
    const body = Buffer.byteLength(key) + value.length + 3; // ' ' '=' '\n'
    let len = body + String(body).length;
    if (String(len).length !== String(body).length) len = body + String(len).length;
    parts.push(Buffer.from(`${len} ${key}=`), value, Buffer.from('\n'));
  }
  return Buffer.concat(parts);
}

/** A time with nanoseconds (normalised so 0 ≤ nsec < 1e9). */
export interface PaxTime {
  sec: number;
  nsec: number;
}

/** Parses a pax time value "[-]sec[.frac]" (frac up to 9 digits kept, more truncated). */
export function parsePaxTime(text: string, key: string, offset: number): PaxTime {
  const m = /^(-?)(\d+)(?:\.(\d*))?$/.exec(text);
  if (!m) throw new ImageError('CORRUPT', `pax ${key} is not a time`, { details: { offset, key, value: text.slice(0, 40) } });
  const sec = Number(m[2]);
  const nsec = Number(((m[3] ?? '') + '000000000').slice(0, 9));
  if (!Number.isSafeInteger(sec)) throw new ImageError('CORRUPT', `pax ${key} is out of range`, { details: { offset, key } });
  if (m[1] !== '-') return { sec, nsec };
  return nsec === 0 ? { sec: -sec, nsec: 0 } : { sec: -sec - 1, nsec: 1_000_000_000 - nsec };
}

/** Parses a non-negative decimal pax number (size, uid, gid, GNU.sparse.*). */
export function parsePaxNumber(text: string, key: string, offset: number): number {
  if (!/^\d+$/.test(text)) throw new ImageError('CORRUPT', `pax ${key} is not a number`, { details: { offset, key, value: text.slice(0, 40) } });
  const n = Number(text);
  if (!Number.isSafeInteger(n)) throw new ImageError('CORRUPT', `pax ${key} is out of range`, { details: { offset, key } });
  return n;
}

/** Decodes the %XX escapes of a LIBARCHIVE.xattr.<name> key suffix (libarchive archive_write_set_format_pax.c url_encode). */
export function decodeUrlEscapes(text: string): string {
  if (!text.includes('%')) return text;
  const src = Buffer.from(text, 'utf8');
  const out: number[] = [];
  for (let i = 0; i < src.length; i++) {
    const hex = src[i] === 0x25 && i + 2 < src.length + 0 ? src.toString('latin1', i + 1, i + 3) : '';
    if (/^[0-9A-Fa-f]{2}$/.test(hex)) {
      out.push(parseInt(hex, 16));
      i += 2;
    } else out.push(src[i]!);
  }
  return Buffer.from(out).toString('utf8');
}
