// BackstoreMetrics: the Prometheus text exposition has every counter and a cumulative histogram; the metrics endpoint serves it.
import { describe, expect, it } from 'vitest';

import { BackstoreMetrics, READ_LATENCY_BUCKETS_S } from '../../../src/backstore/backstore-metrics.js';
import { parseListenAddress, startMetricsServer } from '../../../src/backstore/metrics-server.js';

describe('BackstoreMetrics', () => {
  it('renders counters and a cumulative latency histogram', () => {
    const m = new BackstoreMetrics();
    m.bytesFetched = 1234;
    m.verificationFailures = 2;
    m.observeRead(0.0003, 4096);
    m.observeRead(0.2, 8192);
    const text = m.prometheusText();
    expect(text).toMatch(/^turbo_oci_backstore_fetched_bytes_total 1234$/m);
    expect(text).toMatch(/^turbo_oci_backstore_verification_failures_total 2$/m);
    expect(text).toMatch(/^turbo_oci_backstore_read_bytes_total 12288$/m);
    const buckets = [...text.matchAll(/^turbo_oci_backstore_read_latency_seconds_bucket\{le="([^"]+)"\} (\d+)$/gm)].map((x) => [x[1]!, Number(x[2])] as const);
    expect(buckets.length).toBe(READ_LATENCY_BUCKETS_S.length + 1);
    for (const [le, n] of buckets) expect(n, le).toBe(le === '+Inf' || Number(le) >= 0.2 ? 2 : Number(le) >= 0.0003 ? 1 : 0);
    expect(text).toMatch(/^turbo_oci_backstore_read_latency_seconds_count 2$/m);
  });

  it('parses listen addresses and serves /metrics', async () => {
    expect(parseListenAddress('127.0.0.1:0')).toEqual({ host: '127.0.0.1', port: 0 });
    expect(parseListenAddress('[::1]:9863')).toEqual({ host: '::1', port: 9863 });
    expect(() => parseListenAddress('nope')).toThrow(/host:port/);
    const m = new BackstoreMetrics();
    m.requests = 7;
    const server = await startMetricsServer(m, '127.0.0.1:0');
    try {
      const r = await fetch(server.url);
      expect(r.headers.get('content-type')).toContain('text/plain');
      expect(await r.text()).toMatch(/^turbo_oci_backstore_requests_total 7$/m);
      expect((await fetch(server.url.replace('/metrics', '/other'))).status).toBe(404);
    } finally {
      await server.close();
    }
  });
});
