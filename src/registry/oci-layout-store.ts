// An OCI image layout directory (image-spec 1.1 image-layout.md) as an ImageStore: blobs/<alg>/<hex>, tags in index.json.
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, rm, stat, writeFile, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';

import { MAX_MANIFEST_BYTES } from '../defaults.js';
import { ImageError } from '../errors.js';
import { hasherFor, isDigest, parseDigest, sha256Digest, verifyDigest } from '../format/oci/digest.js';
import { encodeManifest, parseManifest, REF_NAME_ANNOTATION, type Descriptor, type ImageIndex } from '../format/oci/manifest.js';
import { MANIFEST_TYPES, OCI_INDEX } from '../format/oci/media-types.js';
import type { BlobSource, ImageStore, ManifestResult, PutBlobResult } from './image-store.js';
import { referrerDescriptor } from './referrers.js';

/** Blob files kept open for range reads (an open + close per read costs ~0.7 ms of a ~2 ms lazy read); more are closed LRU. */
const RANGE_HANDLES = 32;

/** One blob file kept open for range reads. */
interface RangeHandle {
  handle: Promise<FileHandle>;
  /** Range reads running on it (it is closed only when 0). */
  users: number;
}

/** The `oci-layout` file content (image-spec 1.1 image-layout.md). */
const LAYOUT_FILE = '{"imageLayoutVersion":"1.0.0"}';

/**
 * An OCI layout store. Writers in one process are serialized per directory; index.json is replaced atomically
 * (write then rename), so readers never see half a file. Two processes updating one index.json may lose a tag update.
 */
export class OciLayoutStore implements ImageStore {
  readonly location: string;
  readonly dir: string;
  #indexLock: Promise<unknown> = Promise.resolve();
  readonly #subjects = new Map<string, string | null>();
  /** Open blob files of range reads by digest, least recently used first. */
  readonly #ranges = new Map<string, RangeHandle>();
  #closed = false;

  private constructor(dir: string) {
    this.dir = dir;
    this.location = `oci:${dir}`;
  }

  /** Opens a layout; with `create`, makes an empty one when the directory has none. NOT_FOUND otherwise. */
  static async open(dir: string, options: { create?: boolean } = {}): Promise<OciLayoutStore> {
    const store = new OciLayoutStore(dir);
    const marker = path.join(dir, 'oci-layout');
    const exists = await stat(marker).then(() => true, () => false);
    if (!exists) {
      if (!options.create) throw new ImageError('NOT_FOUND', `${dir} is not an OCI image layout (no oci-layout file)`, { details: { dir } });
      await mkdir(path.join(dir, 'blobs', 'sha256'), { recursive: true });
      await writeFile(marker, LAYOUT_FILE);
      if (!(await stat(path.join(dir, 'index.json')).then(() => true, () => false))) {
        await writeFile(path.join(dir, 'index.json'), encodeManifest({ schemaVersion: 2, mediaType: OCI_INDEX, manifests: [] }));
      }
    }
    return store;
  }

  /** Path of a blob file. */
  blobPath(digest: string): string {
    const { algorithm, hex } = parseDigest(digest);
    return path.join(this.dir, 'blobs', algorithm, hex);
  }

  /** The parsed index.json. */
  async readIndex(): Promise<ImageIndex> {
    const bytes = await readFile(path.join(this.dir, 'index.json')).catch((err: NodeJS.ErrnoException) => {
      throw new ImageError(err.code === 'ENOENT' ? 'NOT_FOUND' : 'UNAVAILABLE', `cannot read ${this.dir}/index.json: ${err.code ?? err.message}`);
    });
    const { manifest } = parseManifest(bytes, OCI_INDEX);
    if (!('manifests' in manifest)) throw new ImageError('CORRUPT', `${this.dir}/index.json is not an image index`);
    return manifest;
  }

  /** Applies `change` to index.json under the per-store lock; a change returning undefined writes nothing. */
  async #updateIndex(change: (index: ImageIndex) => ImageIndex | undefined): Promise<void> {
    const run = this.#indexLock.then(async () => {
      const next = change(await this.readIndex());
      if (!next) return;
      const file = path.join(this.dir, 'index.json');
      const tmp = `${file}.tmp-${process.pid}-${Date.now()}`;
      await writeFile(tmp, encodeManifest(next));
      await rename(tmp, file);
    });
    this.#indexLock = run.catch(() => undefined);
    await run;
  }

  async resolve(target: string): Promise<Descriptor> {
    const index = await this.readIndex();
    if (isDigest(target)) {
      const listed = index.manifests.find((d) => d.digest === target);
      if (listed) return listed;
      const bytes = await this.#readManifestBlob(target);
      return { mediaType: parseManifest(bytes).mediaType, digest: target, size: bytes.length };
    }
    const tagged = index.manifests.filter((d) => d.annotations?.[REF_NAME_ANNOTATION] === target);
    if (tagged.length === 0) throw new ImageError('NOT_FOUND', `tag ${target} not found in ${this.location}`, { details: { tag: target } });
    return tagged[tagged.length - 1]!;
  }

  async #readManifestBlob(digest: string): Promise<Buffer> {
    const size = await this.blobExists(digest);
    if (size === undefined) throw new ImageError('NOT_FOUND', `manifest ${digest} not found in ${this.location}`, { details: { digest } });
    if (size > MAX_MANIFEST_BYTES) throw new ImageError('LIMIT_EXCEEDED', `manifest ${digest} is ${size} bytes`, { details: { limitBytes: MAX_MANIFEST_BYTES } });
    const bytes = await readFile(this.blobPath(digest));
    verifyDigest(bytes, digest, `manifest in ${this.location}`);
    return bytes;
  }

  async getManifest(target: string): Promise<ManifestResult> {
    const descriptor = await this.resolve(target);
    const bytes = await this.#readManifestBlob(descriptor.digest);
    // umoci writes manifests without a mediaType field: the descriptor's type names them.
    const { mediaType } = parseManifest(bytes, descriptor.mediaType);
    return { descriptor: { ...descriptor, mediaType, size: bytes.length }, bytes };
  }

  async putManifest(bytes: Uint8Array, mediaType: string, tag?: string): Promise<Descriptor> {
    if (!MANIFEST_TYPES.includes(mediaType)) throw new ImageError('INVALID_ARGUMENT', `not a manifest media type: ${mediaType}`);
    const { manifest } = parseManifest(bytes, mediaType);
    const digest = sha256Digest(bytes);
    await this.putBlob(digest, bytes.byteLength, bytes);
    const descriptor: Descriptor = { mediaType, digest, size: bytes.byteLength };
    if (tag !== undefined) {
      await this.#updateIndex((index) => ({
        ...index,
        manifests: [...index.manifests.filter((d) => d.annotations?.[REF_NAME_ANNOTATION] !== tag), { ...descriptor, annotations: { [REF_NAME_ANNOTATION]: tag } }],
      }));
    } else if (manifest.subject) {
      // Referrers must be reachable from index.json or a garbage collector would drop them.
      await this.#updateIndex((index) => (index.manifests.some((d) => d.digest === digest) ? undefined : { ...index, manifests: [...index.manifests, descriptor] }));
    }
    return descriptor;
  }

  async getBlob(digest: string, size?: number): Promise<Readable> {
    const actualSize = await this.blobExists(digest);
    if (actualSize === undefined) throw new ImageError('NOT_FOUND', `blob ${digest} not found in ${this.location}`, { details: { digest } });
    if (size !== undefined && size !== actualSize) throw new ImageError('CORRUPT', `blob ${digest} is ${actualSize} bytes, expected ${size}`, { details: { digest } });
    const file = this.blobPath(digest);
    async function* verified(): AsyncGenerator<Buffer> {
      const hash = hasherFor(digest);
      for await (const chunk of createReadStream(file, { highWaterMark: 1024 * 1024 }) as AsyncIterable<Buffer>) {
        hash.update(chunk);
        yield chunk;
      }
      const actual = `${parseDigest(digest).algorithm}:${hash.digest('hex')}`;
      if (actual !== digest) throw new ImageError('CORRUPT', `blob ${digest} in ${file}: digest mismatch`, { details: { expected: digest, actual } });
    }
    return Readable.from(verified(), { objectMode: false });
  }

  async getBlobRange(digest: string, offset: number, length: number): Promise<Buffer> {
    const file = this.blobPath(digest);
    const entry = this.#rangeHandle(digest, file);
    entry.users++;
    try {
      const handle = await entry.handle.catch((err: NodeJS.ErrnoException) => {
        throw new ImageError(err.code === 'ENOENT' ? 'NOT_FOUND' : 'UNAVAILABLE', `blob ${digest} in ${this.location}: ${err.code ?? err.message}`, { details: { digest } });
      });
      const out = Buffer.allocUnsafe(length);
      let filled = 0;
      while (filled < length) {
        const { bytesRead } = await handle.read(out, filled, length - filled, offset + filled);
        if (bytesRead === 0) break;
        filled += bytesRead;
      }
      return filled === length ? out : out.subarray(0, filled);
    } finally {
      entry.users--;
      if (entry.users === 0 && this.#ranges.get(digest) !== entry) await entry.handle.then((h) => h.close()).catch(() => undefined);
    }
  }

  /** The open file of `digest` for range reads (a new one, not kept, once the store is closed). */
  #rangeHandle(digest: string, file: string): RangeHandle {
    const have = this.#ranges.get(digest);
    if (have) {
      this.#ranges.delete(digest);
      this.#ranges.set(digest, have);
      return have;
    }
    const entry: RangeHandle = { handle: open(file, 'r'), users: 0 };
    if (this.#closed) return entry;
    this.#ranges.set(digest, entry);
    entry.handle.catch(() => this.#ranges.get(digest) === entry && this.#ranges.delete(digest));
    for (const [d, e] of this.#ranges) {
      if (this.#ranges.size <= RANGE_HANDLES) break;
      if (e.users > 0) continue; // in use: trimmed by a later call
      this.#ranges.delete(d);
      void e.handle.then((h) => h.close()).catch(() => undefined);
    }
    return entry;
  }

  async blobExists(digest: string): Promise<number | undefined> {
    const info = await stat(this.blobPath(digest)).catch(() => undefined);
    return info?.isFile() ? info.size : undefined;
  }

  async putBlob(digest: string, size: number, source: BlobSource): Promise<PutBlobResult> {
    const descriptor = { digest, size };
    if ((await this.blobExists(digest)) === size) return { descriptor, outcome: 'exists' };
    const file = this.blobPath(digest);
    await mkdir(path.dirname(file), { recursive: true });
    const tmp = `${file}.tmp-${process.pid}-${Math.random().toString(36).slice(2)}`;
    const hash = hasherFor(digest);
    let written = 0;
    const handle = await open(tmp, 'w');
    try {
      const chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array> = source instanceof Uint8Array ? [source] : source();
      for await (const chunk of chunks) {
        hash.update(chunk);
        written += chunk.byteLength;
        await handle.write(chunk);
      }
      await handle.close();
      const actual = `${parseDigest(digest).algorithm}:${hash.digest('hex')}`;
      if (actual !== digest || written !== size) {
        throw new ImageError('CORRUPT', `blob ${digest}: the source produced ${written} bytes hashing to ${actual}`, { details: { expected: digest, actual, size, produced: written } });
      }
      await rename(tmp, file);
    } catch (err) {
      await handle.close().catch(() => undefined);
      await rm(tmp, { force: true });
      throw err;
    }
    return { descriptor, outcome: 'uploaded' };
  }

  async #subjectOf(descriptor: Descriptor): Promise<string | null> {
    let subject = this.#subjects.get(descriptor.digest);
    if (subject === undefined) {
      const bytes = await this.#readManifestBlob(descriptor.digest);
      subject = parseManifest(bytes, descriptor.mediaType).manifest.subject?.digest ?? null;
      this.#subjects.set(descriptor.digest, subject);
    }
    return subject;
  }

  async listReferrers(digest: string, artifactType?: string): Promise<Descriptor[]> {
    parseDigest(digest);
    const out: Descriptor[] = [];
    for (const d of (await this.readIndex()).manifests) {
      if (!MANIFEST_TYPES.includes(d.mediaType) || (await this.#subjectOf(d)) !== digest) continue;
      const { entry } = referrerDescriptor(await this.#readManifestBlob(d.digest), { mediaType: d.mediaType, digest: d.digest, size: d.size });
      if (artifactType === undefined || entry.artifactType === artifactType) out.push(entry);
    }
    return out;
  }

  async attachReferrer(bytes: Uint8Array, mediaType: string): Promise<Descriptor> {
    if (!parseManifest(bytes, mediaType).manifest.subject) throw new ImageError('INVALID_ARGUMENT', 'a referrer manifest needs a subject');
    return this.putManifest(bytes, mediaType);
  }

  /** Closes the blob files kept open for range reads (reads still running close theirs when done). */
  async close(): Promise<void> {
    this.#closed = true;
    const idle = [...this.#ranges.values()].filter((e) => e.users === 0);
    this.#ranges.clear();
    await Promise.all(idle.map((e) => e.handle.then((h) => h.close()).catch(() => undefined)));
  }
}
