// Snapshotter benchmark (issue 7 "Speed"): `turbo-index pull` + `ctr run --snapshotter turbo … /bin/true` against `ctr image pull` + `ctr run` with overlayfs, registry behind a 100 Mbit/s proxy.
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readdir, readFile } from 'node:fs/promises';
import { loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';

import { missingNeeds } from '../helpers/capabilities.js';
import { mountsUnder, startContainerd, type Containerd } from '../helpers/containerd.js';
import { debianImage, pushToRegistry } from '../helpers/images.js';
import { processesMentioning } from '../helpers/processes.js';
import { startRegistry } from '../helpers/registry-server.js';
import { startThrottleProxy, type ThrottleProxy } from '../helpers/throttle-proxy.js';
import { CLI_PATH, turboIndex } from '../helpers/turbo-index-cli.js';
import { writeBenchmarkSection } from './benchmarks-doc.js';

const exec = promisify(execFile);
/** The build whose `turbo-index pull` and `turbo-snapshotter` are timed (another one only for experiments). */
const DIST = path.resolve(process.env.SNAPSHOTTER_BENCH_DIST ?? path.join(import.meta.dirname, '../../dist'));
const SNAPSHOTTER_PATH = path.join(DIST, 'src/cli/snapshotter-main.js');
const LAZY_CLI_PATH = path.join(DIST, 'src/cli/main.js');
/** 100 Mbit/s, the link of issue 7. */
const RATE_BYTES_PER_S = 100e6 / 8;
const ROUNDS = Number(process.env.SNAPSHOTTER_BENCH_ROUNDS ?? 3);
const TARGET_RATIO = 0.3;
/** Extra serve-nbd flags after the fresh --cache-dir (JSON list, for experiments, e.g. '["--readahead=0"]'). */
const EXTRA_SERVE_NBD_ARGS = JSON.parse(process.env.SNAPSHOTTER_BENCH_SERVE_NBD_ARGS ?? '[]') as string[];
/** Print every proxied request of each run (start/end from the start of its pull). */
const TRACE = process.env.SNAPSHOTTER_BENCH_TRACE === '1';
/** Experiments (extra flags, or `SNAPSHOTTER_BENCH_ONLY=lazy|ref`) print their numbers but leave docs/benchmarks.md alone. */
const ONLY = process.env.SNAPSHOTTER_BENCH_ONLY as 'lazy' | 'ref' | undefined;
const EXPERIMENT = EXTRA_SERVE_NBD_ARGS.length > 0 || ONLY !== undefined || process.env.SNAPSHOTTER_BENCH_DIST !== undefined;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const s2 = (ms: number) => (ms / 1000).toFixed(2);
const mb = (b: number) => (b / 1e6).toFixed(b < 1e5 && b > 0 ? 3 : 1);

const missing = missingNeeds({ root: true, commands: ['containerd', 'ctr', 'runc', 'docker-registry', 'skopeo', 'nbdfuse', 'losetup'] });
if (missing) throw new Error(`the snapshotter benchmark ${missing}`);
for (const f of [CLI_PATH, LAZY_CLI_PATH, SNAPSHOTTER_PATH]) if (!existsSync(f)) throw new Error(`${path.basename(f)} is missing: run npm run build (npm run bench does)`);

/** One timed run (reference or lazy); event times in ms from the start of its pull. */
interface RunResult {
  pullMs: number;
  runMs: number;
  pullBytes: number;
  runBytes: number;
  /** Events seen while it ran (rootfs: the container's rootfs mounted by containerd's shim; lazy only: serve-nbd spawned, serve-nbd ready, chain mounted). */
  events: Record<string, number | undefined>;
  /** Compressed layer bytes and requests through the proxy (the rest: manifests, config, index blobs). */
  layerBytes: number;
  layerRequests: number;
  otherBytes: number;
  /** The first layer-blob request (ms from the start of the pull). */
  firstLayerRequestMs: number | undefined;
  /** A second `ctr run` after the first one settled (not part of the ratio); undefined when it failed (printed). */
  secondRunMs: number | undefined;
}

/** First time (ms after `t0`) each probe held, polled every 10 ms until stopped. */
function watchEvents(t0: number, probes: Record<string, () => Promise<boolean>>): { seen: Record<string, number | undefined>; stop: () => Promise<void> } {
  const seen: Record<string, number | undefined> = {};
  let running = true;
  const loop = (async () => {
    while (running) {
      for (const [name, probe] of Object.entries(probes)) if (seen[name] === undefined && (await probe().catch(() => false))) seen[name] = performance.now() - t0;
      await sleep(10);
    }
  })();
  return {
    seen,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

/** Mount points, read asynchronously (the proxy in this process must keep answering meanwhile). */
async function mountPoints(): Promise<string[]> {
  return (await readFile('/proc/self/mountinfo', 'utf8')).split('\n').map((l) => l.split(' ')[4] ?? '');
}

/** True when some `<dir>/<child>/<file>` exists. */
async function someChildHas(dir: string, file: string): Promise<boolean> {
  for (const d of await readdir(dir).catch(() => [] as string[])) if (existsSync(path.join(dir, d, file))) return true;
  return false;
}

/** Pids of the serve-nbd daemons and nbdfuse processes of one run dir. */
const chainProcesses = (dir: string): number[] => processesMentioning(['serve-nbd', 'nbdfuse'], dir);

/** Removes whatever a failed lazy run left under `dir`: mounts (ext4 before FUSE), loop devices, nbdfuse and serve-nbd processes. */
async function sweep(dir: string): Promise<void> {
  for (const m of mountsUnder(dir)) await exec('umount', ['-l', m]).catch(() => undefined);
  const loops = JSON.parse((await exec('losetup', ['-J', '-l']).catch(() => ({ stdout: '{"loopdevices":[]}' }))).stdout || '{"loopdevices":[]}') as { loopdevices: { name: string; 'back-file': string | null }[] };
  for (const l of loops.loopdevices) if (l['back-file']?.startsWith(dir)) await exec('losetup', ['-d', l.name]).catch(() => undefined);
  for (const sig of ['SIGTERM', 'SIGKILL'] as const) {
    for (const pid of chainProcesses(dir)) {
      try {
        process.kill(pid, sig);
      } catch {
        // gone
      }
    }
    if (chainProcesses(dir).length === 0) break;
    await sleep(2000);
  }
}

/** Splits the proxy log into the layer blob and everything else. */
function proxyTraffic(proxy: ThrottleProxy, layerDigest: string, t0: number): Pick<RunResult, 'layerBytes' | 'layerRequests' | 'otherBytes' | 'firstLayerRequestMs'> {
  if (TRACE) {
    for (const r of proxy.log) console.log(`  ${s2(r.startMs - t0)}-${r.endMs === undefined ? '?' : s2(r.endMs - t0)} s ${r.method} ${r.path.replace(/sha256:(\w{12})\w+/g, '$1…')} ${r.range ?? ''} ${r.status} ${r.bytes} B`);
  }
  const layer = proxy.log.filter((r) => r.path.includes(`/blobs/${layerDigest}`) && r.method === 'GET');
  const layerBytes = layer.reduce((n, r) => n + r.bytes, 0);
  return {
    layerBytes,
    layerRequests: layer.length,
    otherBytes: proxy.bytes() - layerBytes,
    firstLayerRequestMs: layer.length ? Math.min(...layer.map((r) => r.startMs)) - t0 : undefined,
  };
}

/** Waits (up to 60 s) until `settled` holds. */
async function waitFor(settled: () => Promise<boolean> | boolean): Promise<boolean> {
  for (let i = 0; i < 600; i++) {
    if (await settled()) return true;
    await sleep(100);
  }
  return false;
}

/** The last lines of the daemons' logs under `dir` (snapshotter, serve-nbd, nbdfuse), for a failure report. */
function logTails(dir: string): string {
  const files: string[] = [];
  const walk = (d: string) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      if (e.isDirectory() && e.name !== 'mnt' && e.name !== 'fuse' && e.name !== 'snapshots') walk(path.join(d, e.name));
      else if (e.isFile() && e.name.endsWith('.log')) files.push(path.join(d, e.name));
    }
  };
  try {
    walk(dir);
  } catch {
    // partly gone
  }
  return files.map((f) => `--- ${path.relative(dir, f)}\n${readFileSync(f, 'utf8').trim().split('\n').slice(-15).join('\n')}`).join('\n');
}

/** Times a second `ctr run` (informational): a failure is printed with the daemons' logs, not fatal. */
async function timedSecondRun(run: () => Promise<unknown>, dir: string): Promise<number | undefined> {
  const t = performance.now();
  try {
    await run();
    return performance.now() - t;
  } catch (err) {
    console.error(`second ctr run failed: ${String(err)}\n${logTails(dir)}`);
    return undefined;
  }
}

/** Reference: a fresh containerd, `ctr image pull --snapshotter overlayfs` + `ctr run --rm … /bin/true`. */
async function referenceRun(proxy: ThrottleProxy, ref: string, layerDigest: string, id: string): Promise<RunResult> {
  const dir = mkdtempSync(path.join(tmpdir(), 'turbo-bench-ref-'));
  let containerd: Containerd | undefined;
  try {
    containerd = await startContainerd({ snapshotterSocket: path.join(dir, 'unused.sock'), plainHttpRegistries: [proxy.host] });
    const ctrd = containerd;
    const rootfs = `/${id}/rootfs`;
    proxy.reset();
    const t0 = performance.now();
    const watch = watchEvents(t0, { rootfs: async () => (await mountPoints()).some((m) => m.startsWith(ctrd.dir) && m.endsWith(rootfs)) });
    try {
      await ctrd.ctr(['image', 'pull', '--plain-http', '--snapshotter', 'overlayfs', ref], 600_000);
      const t1 = performance.now();
      const pullBytes = proxy.bytes();
      await ctrd.ctr(['run', '--rm', '--snapshotter', 'overlayfs', ref, id, '/bin/true']);
      const t2 = performance.now();
      await watch.stop();
      const traffic = proxyTraffic(proxy, layerDigest, t0);
      const secondRunMs = await timedSecondRun(() => ctrd.ctr(['run', '--rm', '--snapshotter', 'overlayfs', ref, `${id}-2`, '/bin/true']), dir);
      return { pullMs: t1 - t0, runMs: t2 - t1, pullBytes, runBytes: proxy.bytes() - pullBytes, events: watch.seen, ...traffic, secondRunMs };
    } finally {
      await watch.stop();
    }
  } finally {
    await containerd?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Starts the turbo-snapshotter binary; resolves once its socket exists. */
async function startSnapshotter(dir: string, serveNbdArgs: string[]): Promise<{ socket: string; root: string; child: ChildProcess; stop: () => Promise<void> }> {
  const root = path.join(dir, 'root');
  const socket = path.join(dir, 'turbo.sock');
  const config = path.join(dir, 'snapshotter.json');
  writeFileSync(config, JSON.stringify({ serveNbdArgs }));
  mkdirSync(path.join(dir, 'home'));
  const log = openSync(path.join(dir, 'snapshotter.log'), 'a');
  const child = spawn(process.execPath, [SNAPSHOTTER_PATH, '--root', root, '--address', socket, '--config', config], { stdio: ['ignore', log, log], env: { ...process.env, HOME: path.join(dir, 'home') } });
  closeSync(log);
  let exited = false;
  const exit = new Promise<void>((r) => child.once('exit', () => ((exited = true), r())));
  const stop = async () => {
    if (exited) return;
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exit;
    clearTimeout(timer);
  };
  if (!(await waitFor(() => exited || existsSync(socket))) || exited) {
    await stop();
    throw new Error(`turbo-snapshotter did not start: ${readFileSync(path.join(dir, 'snapshotter.log'), 'utf8').slice(-2000)}`);
  }
  return { socket, root, child, stop };
}

/** Lazy: a fresh containerd and turbo-snapshotter (new span cache), `turbo-index pull` + `ctr run --rm --snapshotter turbo … /bin/true`. */
/** `waitAhead`: start `ctr run` only once the chain mounted ahead at the pull is mounted (as when a container follows its pull by seconds). */
async function lazyRun(proxy: ThrottleProxy, ref: string, layerDigest: string, id: string, waitAhead = false): Promise<RunResult> {
  const dir = mkdtempSync(path.join(tmpdir(), 'turbo-bench-lazy-'));
  let containerd: Containerd | undefined;
  let snapshotter: Awaited<ReturnType<typeof startSnapshotter>> | undefined;
  try {
    snapshotter = await startSnapshotter(dir, [`--cache-dir=${path.join(dir, 'spans')}`, ...EXTRA_SERVE_NBD_ARGS]);
    containerd = await startContainerd({ snapshotterSocket: snapshotter.socket, plainHttpRegistries: [proxy.host] });
    const ctrd = containerd;
    const root = snapshotter.root;
    const lazyDir = path.join(root, 'lazy');
    const rootfs = `/${id}/rootfs`;
    // Settled: containerd's GC removed the container's snapshot, so the chain mount and its daemon are gone.
    const settled = () => mountsUnder(lazyDir).length === 0 && chainProcesses(dir).length === 0;
    proxy.reset();
    const t0 = performance.now();
    const watch = watchEvents(t0, {
      serveNbdSpawn: () => someChildHas(lazyDir, 'serve-nbd.log'),
      serveNbdReady: () => someChildHas(lazyDir, 'serve-nbd.pid'),
      chainMount: async () => (await mountPoints()).some((m) => m.startsWith(`${lazyDir}/`) && m.endsWith('/mnt')),
      rootfs: async () => (await mountPoints()).some((m) => m.startsWith(ctrd.dir) && m.endsWith(rootfs)),
    });
    try {
      await exec(process.execPath, [LAZY_CLI_PATH, 'pull', ref, '--containerd-address', ctrd.address, '--snapshotter-root', root], { env: { ...process.env, HOME: path.join(dir, 'home') } }).catch((err: { stderr?: string }) => {
        throw new Error(`turbo-index pull failed: ${err.stderr ?? String(err)}`);
      });
      const pulledAt = performance.now();
      if (waitAhead && !(await waitFor(async () => (await mountPoints()).some((m) => m.startsWith(`${lazyDir}/`) && m.endsWith('/mnt'))))) {
        throw new Error('the chain was not mounted ahead after the pull');
      }
      const t1 = performance.now();
      const pullBytes = proxy.bytes();
      await ctrd.ctr(['run', '--rm', '--snapshotter', 'turbo', ref, id, '/bin/true']);
      const t2 = performance.now();
      await watch.stop();
      const traffic = proxyTraffic(proxy, layerDigest, t0);
      const runBytes = proxy.bytes() - pullBytes;
      // Second run, span cache warm: after the first container's chain mount is torn down, so it mounts again (collecting
      // containerd's garbage: containerd 1.6 can skip a removal that lands during a running collection).
      if (!(await ctrd.collectUntil(settled))) throw new Error('the chain mount of the first container was not torn down after 30 garbage collections');
      const secondRunMs = await timedSecondRun(() => ctrd.ctr(['run', '--rm', '--snapshotter', 'turbo', ref, `${id}-2`, '/bin/true']), dir);
      await ctrd.collectUntil(settled);
      return { pullMs: pulledAt - t0, runMs: t2 - t1, pullBytes, runBytes, events: watch.seen, ...traffic, secondRunMs };
    } finally {
      await watch.stop();
    }
  } catch (err) {
    console.error(`lazy run failed; daemon logs:\n${logTails(dir)}`);
    throw err;
  } finally {
    await containerd?.stop();
    await snapshotter?.stop();
    await sweep(dir);
    rmSync(dir, { recursive: true, force: true });
  }
}

const loadBefore = loadavg()[0]!;
const img = await debianImage();
const layer = img.layers[0]!;
const registry = await startRegistry();
let proxy: ThrottleProxy | undefined;
const refRuns: RunResult[] = [];
const lazyRuns: RunResult[] = [];
const aheadRuns: RunResult[] = [];
let versions = '';
try {
  // Setup (not timed): the debootstrap base layer pushed and indexed directly, then reached only through the proxy.
  const direct = await pushToRegistry({ ref: img.prefixRef(1) }, registry.url, 'bench/debian');
  const built = await turboIndex(['build', direct, '--no-cache']);
  if (built.status !== 0) throw new Error(`turbo-index build failed: ${built.stderr}`);
  proxy = await startThrottleProxy(registry.host, RATE_BYTES_PER_S);
  const ref = direct.replace(registry.host, proxy.host);
  versions = `${(await exec('containerd', ['--version'])).stdout.trim().split(' ')[2]}, runc ${(await exec('runc', ['--version'])).stdout.split('\n')[0]!.split(' ')[2]}`;
  for (let r = 0; r < ROUNDS; r++) {
    // Alternate the order so both kinds see the same drift of the machine load.
    const order = r % 2 === 0 ? (['ref', 'lazy'] as const) : (['lazy', 'ref'] as const);
    for (const kind of order.filter((k) => ONLY === undefined || k === ONLY)) {
      const id = `bench-${kind}-${r}`;
      const res = kind === 'ref' ? await referenceRun(proxy, ref, layer.digest, id) : await lazyRun(proxy, ref, layer.digest, id);
      (kind === 'ref' ? refRuns : lazyRuns).push(res);
      const ev = Object.entries(res.events).map(([k, v]) => `${k} ${v === undefined ? '-' : s2(v)}`).join(', ');
      console.log(`round ${r + 1} ${kind}: pull ${s2(res.pullMs)} s + run ${s2(res.runMs)} s = ${s2(res.pullMs + res.runMs)} s; ${mb(res.pullBytes)} + ${mb(res.runBytes)} MB; events (s): ${ev}; second run ${res.secondRunMs === undefined ? 'failed' : `${s2(res.secondRunMs)} s`}`);
    }
    if (ONLY === undefined || ONLY === 'lazy') {
      // Not part of the ratio: the same lazy run, but `ctr run` starts once the chain mounted ahead at the pull is up.
      const res = await lazyRun(proxy, ref, layer.digest, `bench-ahead-${r}`, true);
      aheadRuns.push(res);
      console.log(`round ${r + 1} lazy, run after mount ahead: pull ${s2(res.pullMs)} s, run ${s2(res.runMs)} s`);
    }
  }
} finally {
  await proxy?.stop();
  await registry.stop();
}

const loadAfter = loadavg()[0]!;
if (ONLY !== undefined) {
  const runs = ONLY === 'ref' ? refRuns : lazyRuns;
  console.log(`${ONLY}: median total ${s2(median(runs.map((r) => r.pullMs + r.runMs)))} s; load ${loadBefore.toFixed(1)} -> ${loadAfter.toFixed(1)}`);
  process.exit(0);
}
const total = (r: RunResult) => r.pullMs + r.runMs;
const ratios = refRuns.map((ref, i) => total(lazyRuns[i]!) / total(ref));
const ratio = median(ratios);
const med = (runs: RunResult[], f: (r: RunResult) => number | undefined) => {
  const xs = runs.map(f).filter((x): x is number => x !== undefined);
  return xs.length ? median(xs) : undefined;
};
const cell = (x: number | undefined, f = s2) => (x === undefined ? '–' : f(x));
const row = (label: string, runs: RunResult[], times: number) =>
  `| ${label} | ${s2(med(runs, total)!)} | ${s2(med(runs, (r) => r.pullMs)!)} | ${s2(med(runs, (r) => r.runMs)!)} | ${cell(med(runs, (r) => r.events.rootfs))} | ${mb(med(runs, (r) => r.pullBytes)!)} / ${mb(med(runs, (r) => r.runBytes)!)} | ${(times).toFixed(2)} |`;
const lazyEvent = (name: string) => cell(med(lazyRuns, (r) => (r.events[name] === undefined ? undefined : r.events[name]! - r.pullMs)));

const section = `## snapshotter

\`npm run bench -- snapshotter\` (test/bench/snapshotter.ts), run ${new Date().toISOString().slice(0, 16)}Z; ${ROUNDS} rounds, reference
and lazy alternating (order swapped every round), medians; the ratio is the median of the per-round ratios. Image: the
debootstrap base layer of the Debian fixture (1 layer, ${mb(layer.size)} MB gzip), pushed to distribution 2.8 on loopback
and indexed with \`turbo-index build\` (not timed). Every registry byte — containerd's pull, \`turbo-index pull\`, the
serve-nbd daemon's range reads — goes through a loopback HTTP proxy limited to 100 Mbit/s (one token bucket, 64 KiB
burst, shared by all connections and both directions' bodies; test/helpers/throttle-proxy.ts). Each run starts a fresh
containerd ${versions} (temp root); the lazy run also a fresh \`turbo-snapshotter\` binary whose serve-nbd daemons get
\`serveNbdArgs: ${JSON.stringify(['--cache-dir=<fresh dir>', ...EXTRA_SERVE_NBD_ARGS])}\` (cold span cache). 1-minute load average ${loadBefore.toFixed(1)} before,
${loadAfter.toFixed(1)} after (2 shared cores).

| cold start (seconds, median) | total | pull | run | container rootfs mounted (from pull start) | MB through the proxy (pull / run) | × reference |
|---|---|---|---|---|---|---|
${row('reference: `ctr image pull --snapshotter overlayfs` + `ctr run --rm --snapshotter overlayfs … /bin/true`', refRuns, 1)}
${row('lazy: `turbo-index pull` + `ctr run --rm --snapshotter turbo … /bin/true`', lazyRuns, ratio)}

| target (issue 7) | measured (per round) | verdict |
|---|---|---|
| lazy ≤ ${TARGET_RATIO}× reference | ${ratio.toFixed(2)}× (${ratios.map((x) => x.toFixed(2)).join(', ')}) | ${ratio <= TARGET_RATIO ? 'met' : '**missed**'} |

Where the lazy \`ctr run\` spends its time (median seconds from the start of \`ctr run\`, i.e. after \`turbo-index pull\`):

| serve-nbd spawned | serve-nbd ready (index read, listening) | chain ext4 mounted | container rootfs mounted | first layer range request | \`ctr run\` done |
|---|---|---|---|---|---|
| ${lazyEvent('serveNbdSpawn')} | ${lazyEvent('serveNbdReady')} | ${lazyEvent('chainMount')} | ${lazyEvent('rootfs')} | ${cell(med(lazyRuns, (r) => (r.firstLayerRequestMs === undefined ? undefined : r.firstLayerRequestMs - r.pullMs)))} | ${s2(med(lazyRuns, (r) => r.runMs)!)} |

| traffic (median) | layer blob MB (requests) | other MB (manifests, config, index blobs) |
|---|---|---|
| reference | ${mb(med(refRuns, (r) => r.layerBytes)!)} (${med(refRuns, (r) => r.layerRequests)}) | ${mb(med(refRuns, (r) => r.otherBytes)!)} |
| lazy | ${mb(med(lazyRuns, (r) => r.layerBytes)!)} (${med(lazyRuns, (r) => r.layerRequests)}) | ${mb(med(lazyRuns, (r) => r.otherBytes)!)} |

Mount ahead: the snapshotter starts mounting an image's chain at the lazy Prepare of its top layer (during
\`turbo-index pull\`). Started at once after the pull, as above, \`ctr run\` still waits for most of it; started once the
chain is mounted (as when a container follows its pull by a few seconds, e.g. CRI creating the pod sandbox first), the
same cold \`ctr run --rm … /bin/true\` takes ${cell(med(aheadRuns, (r) => r.runMs))} s (median; pull ${cell(med(aheadRuns, (r) => r.pullMs))} s; not part of the ratio).

A second \`ctr run --rm … /bin/true\` right after, in the same containerd (not part of the ratio; image unpacked, or
for turbo: span cache warm, chain mounted again): reference ${cell(med(refRuns, (r) => r.secondRunMs))} s, lazy ${cell(med(lazyRuns, (r) => r.secondRunMs))} s${[...refRuns, ...lazyRuns].some((r) => r.secondRunMs === undefined) ? ` (failed runs left out: ${[...refRuns, ...lazyRuns].filter((r) => r.secondRunMs === undefined).length})` : ''}.
`;
if (!EXPERIMENT) writeBenchmarkSection('snapshotter', section);
console.log(`\n${section}`);
