// Counters and a read latency histogram of a backstore, with the Prometheus text exposition (format 0.0.4).

/** Upper bounds (seconds) of the read latency histogram buckets: 100 µs to 30 s. */
export const READ_LATENCY_BUCKETS_S = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

/** What a backstore counts. All counters only grow. */
export class BackstoreMetrics {
  /** Compressed bytes received from the registry (range reads and background layer downloads). */
  bytesFetched = 0;
  /** Range requests (or layer downloads) sent to the registry. */
  requests = 0;
  /** Span fetches repeated after a failed or unverifiable attempt. */
  retries = 0;
  /** Spans whose bytes did not match their sha256 (from the registry or the disk cache). */
  verificationFailures = 0;
  /** Span fetches served from a background-downloaded local copy of the layer. */
  localReads = 0;
  /** Layers downloaded completely by the background fetch. */
  layersLocal = 0;
  /** Disk cache files found damaged (removed and fetched again). */
  diskCacheCorrupt = 0;
  /** Span reads served from the decompressed memory cache. */
  memoryCacheHits = 0;
  /** Span fetches served from the disk cache. */
  diskCacheHits = 0;
  /** Device reads that failed (any code). */
  readErrors = 0;
  /** Device reads that ran past the read timeout. */
  readTimeouts = 0;
  /** Device reads completed and the bytes they returned. */
  reads = 0;
  bytesRead = 0;
  readonly latencyBuckets: number[] = READ_LATENCY_BUCKETS_S.map(() => 0);
  latencySumS = 0;

  /** Records one completed device read. */
  observeRead(seconds: number, bytes: number): void {
    this.reads++;
    this.bytesRead += bytes;
    this.latencySumS += seconds;
    for (let i = 0; i < READ_LATENCY_BUCKETS_S.length; i++) if (seconds <= READ_LATENCY_BUCKETS_S[i]!) this.latencyBuckets[i]!++;
  }

  /** A plain object of the counters (for --json and tests). */
  snapshot(): Record<string, number> {
    return {
      bytesFetched: this.bytesFetched,
      requests: this.requests,
      retries: this.retries,
      verificationFailures: this.verificationFailures,
      memoryCacheHits: this.memoryCacheHits,
      diskCacheHits: this.diskCacheHits,
      diskCacheCorrupt: this.diskCacheCorrupt,
      localReads: this.localReads,
      layersLocal: this.layersLocal,
      readErrors: this.readErrors,
      readTimeouts: this.readTimeouts,
      reads: this.reads,
      bytesRead: this.bytesRead,
    };
  }

  /** The Prometheus text exposition of every metric (prefix `turbo_oci_backstore_`). */
  prometheusText(): string {
    const p = 'turbo_oci_backstore_';
    const lines: string[] = [];
    const counter = (name: string, help: string, value: number): void => {
      lines.push(`# HELP ${p}${name} ${help}`, `# TYPE ${p}${name} counter`, `${p}${name} ${value}`);
    };
    counter('fetched_bytes_total', 'Compressed bytes received from the registry.', this.bytesFetched);
    counter('requests_total', 'Registry range requests and layer downloads.', this.requests);
    counter('retries_total', 'Span fetches repeated after a failure.', this.retries);
    counter('verification_failures_total', 'Spans that failed their sha256 check.', this.verificationFailures);
    counter('memory_cache_hits_total', 'Span reads served from the decompressed memory cache.', this.memoryCacheHits);
    counter('disk_cache_hits_total', 'Span fetches served from the disk cache.', this.diskCacheHits);
    counter('disk_cache_corrupt_total', 'Disk cache files found damaged and fetched again.', this.diskCacheCorrupt);
    counter('local_reads_total', 'Span fetches served from a background-downloaded layer copy.', this.localReads);
    lines.push(`# HELP ${p}layers_local Layers downloaded completely by the background fetch.`, `# TYPE ${p}layers_local gauge`, `${p}layers_local ${this.layersLocal}`);
    counter('read_errors_total', 'Device reads that failed.', this.readErrors);
    counter('read_timeouts_total', 'Device reads that ran past the read timeout.', this.readTimeouts);
    counter('read_bytes_total', 'Bytes returned by device reads.', this.bytesRead);
    const h = `${p}read_latency_seconds`;
    lines.push(`# HELP ${h} Device read latency.`, `# TYPE ${h} histogram`);
    READ_LATENCY_BUCKETS_S.forEach((le, i) => lines.push(`${h}_bucket{le="${le}"} ${this.latencyBuckets[i]}`));
    lines.push(`${h}_bucket{le="+Inf"} ${this.reads}`, `${h}_sum ${this.latencySumS}`, `${h}_count ${this.reads}`);
    return `${lines.join('\n')}\n`;
  }
}
