// Every default of turbo-oci in one place: units in the names, the reason in a comment.

/** Uncompressed distance between gzip seek points: 1 MiB gives ~1.4 ms cold 4 KiB reads and an index of ~3 % of the layer (docs/benchmarks.md). */
export const DEFAULT_SPAN_BYTES = 1024 * 1024;

/** Smallest accepted span: below 64 KiB the index (a 32 KiB window per point) outgrows the data it indexes. */
export const MIN_SPAN_BYTES = 64 * 1024;

/** Deflate history size (RFC 1951 §2): a seek point must carry this much preceding output. */
export const WINDOW_BYTES = 32 * 1024;

/** zstd level for stored windows: level 3 is zstd's default and compresses a 32 KiB window in ~100 µs. */
export const WINDOW_ZSTD_LEVEL = 3;

/** Decompressed-span LRU bound of the span reader: 64 spans of 1 MiB cover a container's hot files with little memory. */
export const DEFAULT_SPAN_CACHE_BYTES = 64 * 1024 * 1024;

/** Read size when streaming a local layer file: 1 MiB chunks keep syscalls cheap without holding much memory. */
export const FILE_STREAM_CHUNK_BYTES = 1024 * 1024;

/** Largest seek index we accept to parse: 1 GiB would index a ~300 GiB layer at 1 MiB span; more is corruption. */
export const MAX_SEEK_INDEX_BYTES = 1024 * 1024 * 1024;

/** Largest tar extension payload (pax x/g, GNU L/K) we buffer: real ones are < 1 MiB (xattrs, long names); more is hostile. */
export const MAX_TAR_META_BYTES = 64 * 1024 * 1024;
