// Assembles tar archives block by block from the header codec: hand-built dialects for fixtures and property tests.
import { encodeHeader, encodeSparseExtension, type HeaderFields, paddingAfter, type SparseRun, TAR_BLOCK_BYTES } from './header.js';
import { encodePaxRecords } from './pax.js';
import { encodeSparseMapV1 } from './sparse.js';

/** Builds an archive in memory; every method appends and returns `this`. */
export class TarBuilder {
  readonly #parts: Buffer[] = [];
  #length = 0;
  #lastHeader = -1;

  /** Current length in bytes (the offset of the next block). */
  get length(): number {
    return this.#length;
  }

  /** Offset of the header block most recently written by entry() or gnuSparse() (the main header of a member). */
  get lastHeaderOffset(): number {
    return this.#lastHeader;
  }

  /** Appends raw bytes (for hostile fixtures). */
  raw(bytes: Buffer): this {
    this.#parts.push(bytes);
    this.#length += bytes.length;
    return this;
  }

  /** Appends `data` padded with zeros to a block boundary. */
  data(data: Buffer): this {
    this.raw(data);
    const pad = paddingAfter(data.length);
    if (pad > 0) this.raw(Buffer.alloc(pad));
    return this;
  }

  /** Appends a header with `data` (size set from the data unless given). */
  entry(fields: HeaderFields, data: Buffer = Buffer.alloc(0)): this {
    this.#lastHeader = this.#length;
    this.raw(encodeHeader({ ...fields, size: fields.size ?? data.length }));
    return this.data(data);
  }

  /** Appends a pax extended header ('x', or 'g' for global) with the given records. */
  pax(records: [string, string | Buffer][], typeflag: 'x' | 'g' = 'x', name = 'PaxHeader'): this {
    const payload = encodePaxRecords(records);
    return this.entry({ name, typeflag, size: payload.length, mode: 0o644 }, payload);
  }

  /** Appends a GNU long name ('L') or long link ('K') header carrying `value` NUL-terminated. */
  gnuLong(kind: 'L' | 'K', value: string | Buffer): this {
    const bytes = Buffer.concat([Buffer.isBuffer(value) ? value : Buffer.from(value, 'utf8'), Buffer.alloc(1)]);
    return this.entry({ name: '././@LongLink', typeflag: kind, magic: 'gnu', mode: 0o644 }, bytes);
  }

  /**
   * Appends an old-GNU sparse file ('S'): `runs` of `file` are stored back to back; more than 4 runs go to
   * extension blocks of 21.
   */
  gnuSparse(fields: HeaderFields, file: Buffer, runs: SparseRun[]): this {
    const stored = Buffer.concat(runs.map((r) => file.subarray(r.offset, r.offset + r.length)));
    const rest = runs.slice(4);
    this.#lastHeader = this.#length;
    this.raw(
      encodeHeader({
        ...fields,
        magic: 'gnu',
        typeflag: 'S',
        size: stored.length,
        sparse: runs.slice(0, 4),
        sparseExtended: rest.length > 0,
        realSize: file.length,
      }),
    );
    for (let i = 0; i < rest.length; i += 21) this.raw(encodeSparseExtension(rest.slice(i, i + 21), i + 21 < rest.length));
    return this.data(stored);
  }

  /** Appends a pax GNU sparse 1.0 file: pax records, then the map and the runs in the data area. */
  paxSparse1(fields: HeaderFields, path: string, file: Buffer, runs: SparseRun[]): this {
    const stored = Buffer.concat([encodeSparseMapV1(runs), ...runs.map((r) => file.subarray(r.offset, r.offset + r.length))]);
    this.pax([
      ['GNU.sparse.major', '1'],
      ['GNU.sparse.minor', '0'],
      ['GNU.sparse.name', path],
      ['GNU.sparse.realsize', String(file.length)],
    ]);
    return this.entry({ ...fields, typeflag: '0', size: stored.length }, stored);
  }

  /** Appends the end-of-archive marker (two zero blocks). */
  end(): this {
    return this.raw(Buffer.alloc(2 * TAR_BLOCK_BYTES));
  }

  /** The archive so far. */
  toBuffer(): Buffer {
    return Buffer.concat(this.#parts, this.#length);
  }
}
