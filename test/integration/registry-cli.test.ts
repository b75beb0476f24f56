// `turbo-index registry manifest|blob|referrers` end to end (the built CLI in dist/) against distribution 2.8 with Basic and token auth, and an OCI layout.
import { execFile } from 'node:child_process';
import { existsSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { Descriptor } from '../../src/format/oci/manifest.js';
import { explicitCredentials } from '../../src/registry/credentials.js';
import { OciLayoutStore } from '../../src/registry/oci-layout-store.js';
import { RegistryClient } from '../../src/registry/registry-client.js';
import { missingNeeds } from '../helpers/capabilities.js';
import { makeTestImage, pushArtifact, pushTestImage, type TestImage } from '../helpers/oci-image.js';
import { startRegistry, TEST_USER, type RegistryServer } from '../helpers/registry-server.js';
import { makeTempDir } from '../helpers/tmpdir.js';

const run = promisify(execFile);
const ROOT = path.resolve(import.meta.dirname, '../..');
const CLI = path.join(ROOT, 'dist/src/cli/main.js');
const SIG = 'application/vnd.example.sig.v1';

interface CliResult {
  status: number;
  stdout: Buffer;
  stderr: string;
}

async function cli(args: string[], env: Record<string, string> = {}): Promise<CliResult> {
  try {
    const r = await run(process.execPath, [CLI, ...args], { env: { ...process.env, HOME: '/nonexistent-home', ...env }, encoding: 'buffer', maxBuffer: 1 << 26 });
    return { status: 0, stdout: r.stdout, stderr: r.stderr.toString() };
  } catch (err) {
    const e = err as { code?: number; stdout?: Buffer; stderr?: Buffer };
    return { status: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? Buffer.alloc(0), stderr: String(e.stderr ?? '') };
  }
}

interface Pushed {
  image: TestImage;
  subject: Descriptor;
  artifact: Descriptor;
}

describe.skipIf(missingNeeds({ commands: ['docker-registry', 'htpasswd', 'openssl'] }))('turbo-index registry CLI', () => {
  let basic: RegistryServer;
  let token: RegistryServer;
  let tls: RegistryServer;
  let layoutDir: string;
  const pushed = new Map<string, Pushed>();
  const creds = ['--username', TEST_USER.username, '--password', TEST_USER.password];

  async function seed(name: string, store: Parameters<typeof pushTestImage>[0]): Promise<void> {
    const image = await makeTestImage(`cli-${name}`, 30_000);
    const subject = await pushTestImage(store, image, 'v1');
    const artifact = await pushArtifact(store, subject, SIG, `sig-${name}`);
    await pushArtifact(store, subject, 'application/other', `other-${name}`);
    pushed.set(name, { image, subject, artifact });
  }

  beforeAll(async () => {
    if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run npm run build first`);
    [basic, token, tls] = await Promise.all([startRegistry({ auth: 'htpasswd' }), startRegistry({ auth: 'token' }), startRegistry({ tls: true })]);
    const client = new RegistryClient({ credentials: explicitCredentials(TEST_USER.username, TEST_USER.password), repository: { referrersSettleMs: 20 } });
    try {
      await seed('basic', client.repository(basic.host, 'cli/app'));
      await seed('token', client.repository(token.host, 'cli/app'));
    } finally {
      await client.close();
    }
    const tlsClient = new RegistryClient({ plainHttp: false, insecure: true, repository: { referrersSettleMs: 20 } });
    try {
      await seed('tls', tlsClient.repository(tls.host, 'cli/app'));
    } finally {
      await tlsClient.close();
    }
    layoutDir = path.join(makeTempDir(), 'layout');
    await seed('layout', await OciLayoutStore.open(layoutDir, { create: true }));
  });
  afterAll(async () => {
    await Promise.all([basic?.stop(), token?.stop(), tls?.stop()]);
  });

  const targets = (): { name: string; ref: string; args: string[]; env: Record<string, string> }[] => [
    { name: 'basic', ref: `${basic.host}/cli/app:v1`, args: creds, env: {} },
    { name: 'token', ref: `${token.host}/cli/app:v1`, args: [], env: { TURBO_OCI_REGISTRY_USERNAME: TEST_USER.username, TURBO_OCI_REGISTRY_PASSWORD: TEST_USER.password } },
    { name: 'layout', ref: `oci:${layoutDir}:v1`, args: [], env: {} },
  ];

  /** The three targets run concurrently (each CLI start costs a Node startup). */
  const forEachTarget = (fn: (t: ReturnType<typeof targets>[number]) => Promise<void>) => Promise.all(targets().map(fn));

  it('manifest: raw bytes and --json', async () => {
    await forEachTarget(async (t) => {
      const p = pushed.get(t.name)!;
      const raw = await cli(['registry', 'manifest', t.ref, ...t.args], t.env);
      expect({ status: raw.status, stderr: raw.stderr }).toEqual({ status: 0, stderr: '' });
      expect(raw.stdout.equals(p.image.manifestBytes)).toBe(true);
      const json = await cli(['registry', 'manifest', t.ref, '--json', ...t.args], t.env);
      expect({ status: json.status, stderr: json.stderr }).toEqual({ status: 0, stderr: '' });
      expect(JSON.parse(json.stdout.toString())).toEqual({ digest: p.subject.digest, mediaType: p.subject.mediaType, size: p.subject.size });
    });
  });

  it('blob: whole and --range (end inclusive)', async () => {
    await forEachTarget(async (t) => {
      const p = pushed.get(t.name)!;
      const layer = p.image.layers[0]!;
      const bytes = p.image.blobs.get(layer.digest)!;
      const whole = await cli(['registry', 'blob', t.ref, layer.digest, ...t.args], t.env);
      expect(whole.status).toBe(0);
      expect(whole.stdout.equals(bytes)).toBe(true);
      const part = await cli(['registry', 'blob', t.ref, layer.digest, '--range', '10-1009', ...t.args], t.env);
      expect(part.stdout.equals(bytes.subarray(10, 1010))).toBe(true);
    });
  });

  it('referrers: all, --artifact-type, --json', async () => {
    await forEachTarget(async (t) => {
      const p = pushed.get(t.name)!;
      const all = await cli(['registry', 'referrers', t.ref, ...t.args], t.env);
      expect(all.status).toBe(0);
      const lines = all.stdout.toString().trim().split('\n');
      expect(lines.length).toBe(2);
      expect(lines).toContain(`${p.artifact.digest}\t${SIG}\t${p.artifact.size}`);
      const json = await cli(['registry', 'referrers', t.ref, '--artifact-type', SIG, '--json', ...t.args], t.env);
      expect((JSON.parse(json.stdout.toString()) as Descriptor[]).map((d) => d.digest)).toEqual([p.artifact.digest]);
    });
  });

  it('TLS on loopback with --no-plain-http: --ca-file or --insecure, and a clear error without either', async () => {
    const ref = `${tls.host}/cli/app:v1`;
    const want = pushed.get('tls')!.subject.digest;
    const [withCa, insecure, strict] = await Promise.all([
      cli(['registry', 'manifest', ref, '--json', '--no-plain-http', '--ca-file', tls.caFile!]),
      cli(['registry', 'manifest', ref, '--json', '--no-plain-http', '--insecure']),
      cli(['registry', 'manifest', ref, '--json', '--no-plain-http']),
    ]);
    expect({ status: withCa.status, stderr: withCa.stderr }).toEqual({ status: 0, stderr: '' });
    expect(JSON.parse(withCa.stdout.toString()).digest).toBe(want);
    expect(JSON.parse(insecure.stdout.toString()).digest).toBe(want);
    expect(strict.status).toBe(5);
    expect(strict.stderr).toMatch(/--ca-file|--insecure/);
  });

  it('credentials from --docker-config; failures map to exit codes without printing secrets', async () => {
    const dir = makeTempDir();
    const config = path.join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ auths: { [basic.host]: { auth: Buffer.from(`${TEST_USER.username}:${TEST_USER.password}`).toString('base64') } } }));
    const secret = 'Not-The-Password-77';
    const layer = pushed.get('layout')!.image.layers[0]!.digest;
    const [ok, badBasic, badToken, missing, badRange] = await Promise.all([
      cli(['registry', 'manifest', `${basic.host}/cli/app:v1`, '--json', '--docker-config', config]),
      cli(['registry', 'manifest', `${basic.host}/cli/app:v1`, '--username', TEST_USER.username, '--password', secret]),
      cli(['registry', 'manifest', `${token.host}/cli/app:v1`, '--username', TEST_USER.username, '--password', secret]),
      cli(['registry', 'manifest', `${basic.host}/cli/app:nope`, ...creds]),
      cli(['registry', 'blob', `oci:${layoutDir}`, layer, '--range', '9-3']),
    ]);
    expect(JSON.parse(ok.stdout.toString()).digest).toBe(pushed.get('basic')!.subject.digest);
    for (const bad of [badBasic, badToken]) {
      expect(bad.status).toBe(6);
      expect(bad.stderr).toMatch(/UNAUTHENTICATED/);
      expect(bad.stderr).not.toContain(secret);
      expect(bad.stdout.length).toBe(0);
    }
    expect(missing.status).toBe(3);
    expect(missing.stderr).toMatch(/MANIFEST_UNKNOWN/);
    expect(badRange.status).toBe(2);
  });
});
