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

/** Registry request attempts after the first: 5 retries with 250 ms doubling backoff span ~8 s, enough for a registry restart or a 429 burst. */
export const REGISTRY_MAX_RETRIES = 5;

/** First registry retry delay: short enough that a dropped connection costs little, long enough not to hammer a struggling server. */
export const REGISTRY_RETRY_BASE_MS = 250;

/** Ceiling of one registry retry delay (and of an honoured Retry-After): longer waits are better reported than hidden. */
export const REGISTRY_RETRY_MAX_DELAY_MS = 30_000;

/** Time to receive response headers: registries answer in milliseconds; 30 s tolerates a cold storage backend. */
export const REGISTRY_HEADERS_TIMEOUT_MS = 30_000;

/** Longest silence inside a response body: a stalled transfer is retried (resumed by Range) after 30 s. */
export const REGISTRY_BODY_IDLE_TIMEOUT_MS = 30_000;

/** Connections per registry host: 8 keeps ranged reads parallel without tripping per-client limits of hosted registries. */
export const REGISTRY_CONNECTIONS_PER_HOST = 8;

/** Largest manifest we read: distribution-spec 1.1 says registries should accept at least 4 MiB manifests. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/** Blobs up to this size are uploaded in one PUT; larger ones as PATCH chunks of this size (retryable, bounded memory). */
export const UPLOAD_CHUNK_BYTES = 16 * 1024 * 1024;

/** Redirect hops we follow (blob GETs redirect once to storage; more is a loop). */
export const REGISTRY_MAX_REDIRECTS = 5;

/** Bytes of an error response body we read to find the OCI error code: error JSON is small; 64 KiB bounds hostile bodies. */
export const REGISTRY_ERROR_BODY_BYTES = 64 * 1024;

/** Token lifetime assumed when a token endpoint omits expires_in: 60 s per the docker token spec. */
export const REGISTRY_TOKEN_DEFAULT_TTL_S = 60;

/** Attempts to update a `sha256-<hex>` referrers fallback index before reporting a conflict: each retry re-reads and merges. */
export const REFERRERS_FALLBACK_MAX_ATTEMPTS = 10;

/** Minimum wait before re-reading the fallback index to check our write survived concurrent writers (also at least 2x our own read-to-write time). */
export const REFERRERS_FALLBACK_SETTLE_MS = 200;

/** Largest tar extension payload (pax x/g, GNU L/K) we buffer: real ones are < 1 MiB (xattrs, long names); more is hostile. */
export const MAX_TAR_META_BYTES = 64 * 1024 * 1024;

/** Virtual ext4 device size of a layer chain: 64 GiB (as overlaybd's default vsize); unused groups cost nothing. */
export const DEFAULT_EXT4_DEVICE_BYTES = 64 * 1024 * 1024 * 1024;

/** Largest NBD option payload we accept: the longest legal option (INFO/GO: 4 KiB name + info list) is far below 64 KiB. */
export const NBD_MAX_OPTION_BYTES = 64 * 1024;

/** Largest NBD READ we serve (also NBD_INFO_BLOCK_SIZE maximum): 32 MiB is the protocol's suggested cap and what nbdkit uses. */
export const NBD_MAX_REQUEST_BYTES = 32 * 1024 * 1024;

/** Preferred NBD I/O size advertised to clients: one 4 KiB ext4 block. */
export const NBD_PREFERRED_BLOCK_BYTES = 4096;

/** NBD requests one connection may have in flight before we stop reading its socket: deep enough for nbdcopy (64) and kernel queues. */
export const NBD_MAX_IN_FLIGHT_REQUESTS = 128;

/** Reply bytes queued on one NBD socket before we stop reading requests: bounds memory when a client does not read replies. */
export const NBD_MAX_QUEUED_REPLY_BYTES = 64 * 1024 * 1024;

/** Time NbdServer.close() waits for in-flight replies before destroying sockets: device reads carry their own timeout well below this. */
export const NBD_CLOSE_GRACE_MS = 30_000;

/** Time to wait for nbdfuse to publish its FUSE file: it connects to a local socket in milliseconds; 15 s tolerates a loaded machine. */
export const NBDFUSE_READY_TIMEOUT_MS = 15_000;

/** Metadata block cache of the ext4 reader: 8 MiB holds 2048 4 KiB blocks, enough for the inode tables, directories and extent blocks a path walk or `ls -R` of a typical image touches. */
export const DEFAULT_EXT4_METADATA_CACHE_BYTES = 8 * 1024 * 1024;

/** Symlinks followed during one ext4 path resolution before ELOOP: Linux's MAXSYMLINKS is 40. */
export const EXT4_MAX_SYMLINK_FOLLOWS = 40;

/** Where mount state records live: /run is a tmpfs emptied at boot, exactly when the mounts they describe vanish. */
export const DEFAULT_MOUNT_STATE_DIR = '/run/turbo-oci/mounts';

/** Time one external mount tool (mount, umount, losetup, fusermount3) may take before we report TIMEOUT. */
export const MOUNT_COMMAND_TIMEOUT_MS = 30_000;

/** Bytes a registry response body may buffer before pausing the socket: 1 MiB (undici's 64 KiB default halves loopback blob throughput). */
export const REGISTRY_BODY_BUFFER_BYTES = 1024 * 1024;

/** Persistent span cache bound: 10 GiB holds the compressed data of many images' working sets; LRU-evicted beyond. */
export const DEFAULT_SPAN_DISK_CACHE_BYTES = 10 * 1024 * 1024 * 1024;

/** Deadline of one backstore device read and of each range request: 30 s, below NBD_CLOSE_GRACE_MS, so a stuck registry becomes EIO rather than a hung kernel request. */
export const DEFAULT_BACKSTORE_READ_TIMEOUT_MS = 30_000;

/** Largest coalesced range request: 8 MiB of adjacent compressed spans is one fast request without delaying the first span much. */
export const DEFAULT_BACKSTORE_COALESCE_BYTES = 8 * 1024 * 1024;

/** Compressed spans fetched ahead of a missed one: 1 turns sequential file reads into overlapping fetches at the cost of one span per random miss. */
export const DEFAULT_BACKSTORE_READAHEAD_SPANS = 1;

/** Fetches of a span whose bytes fail their sha256 before CORRUPT: 3 rides out a flaky proxy; a registry serving other bytes still fails fast. */
export const SPAN_VERIFY_ATTEMPTS = 3;

/** Time `turbo-index mount` waits for its serve-nbd daemon to listen: opening fetches the index blobs (a few MB); 60 s tolerates a slow registry. */
export const SERVE_NBD_READY_TIMEOUT_MS = 60_000;

/** Longest wait for the store's connections when a backstore closes: requests abandoned at their read deadline may still trickle; 2 s lets healthy ones finish. */
export const BACKSTORE_CLOSE_WAIT_MS = 2000;

/** Non-fallback tags `turbo-index build` scans for other images' indexes when the registry has the referrers API: each costs a resolve and a referrers call, 32 bounds it to well under a second. */
export const INDEX_REUSE_MAX_TAGS = 32;

/** Largest tag list `turbo-index build` reads while looking for reusable indexes: 4 MiB is ~50k tags. */
export const MAX_TAG_LIST_BYTES = 4 * 1024 * 1024;

/** Time an interrupted (Ctrl-C) command gets to unwind before it exits anyway: a request stuck in registry retries does not see the abort. */
export const INTERRUPT_GRACE_MS = 2000;

/** Redraw interval of the per-layer progress bars: 10 Hz looks smooth and costs nothing. */
export const PROGRESS_REDRAW_MS = 100;

/** State directory of turbo-snapshotter (metadata.db, snapshots/<id>/fs): under /var/lib like containerd's own snapshotters. */
export const DEFAULT_SNAPSHOTTER_ROOT = '/var/lib/turbo-snapshotter';

/** Unix socket turbo-snapshotter serves; containerd's proxy_plugins entry points here. /run is cleared at boot, so no stale sockets survive. */
export const DEFAULT_SNAPSHOTTER_ADDRESS = '/run/turbo-snapshotter/turbo.sock';

/** Time running snapshot calls get to finish on SIGTERM before the server closes them: a commit's usage walk of a big layer takes seconds. */
export const SNAPSHOTTER_SHUTDOWN_GRACE_MS = 10_000;

/** How long a snapshotter skips an annotated index it could not load (per repository and index digest): containerd prepares an image's layers one after another, so without this every layer would wait out the registry retries again; a minute covers one pull. */
export const ANNOTATION_FAILURE_TTL_MS = 60_000;

/**
 * How long turbo-snapshotter keeps a chain it mounted ahead of use (at the lazy Prepare of an image's top layer) when no
 * container uses it: CRI and nerdctl start a container seconds after the pull; an image pulled and never run should not
 * hold a serve-nbd daemon and a mount for long.
 */
export const DEFAULT_MOUNT_AHEAD_IDLE_MS = 10 * 60_000;
