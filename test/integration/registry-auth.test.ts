// Registry auth for real: htpasswd Basic, token auth with a loopback JWT issuer, TLS with a self-signed CA; credentials never leak into errors.
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { ImageError, isImageError } from '../../src/errors.js';
import { dockerConfigCredentials, explicitCredentials } from '../../src/registry/credentials.js';
import { RegistryClient, type RegistryClientOptions } from '../../src/registry/registry-client.js';
import { missingNeeds } from '../helpers/capabilities.js';
import { collect, makeTestImage, pushTestImage } from '../helpers/oci-image.js';
import { startRegistry, TEST_USER, type RegistryServer } from '../helpers/registry-server.js';
import { makeTempDir } from '../helpers/tmpdir.js';

const FAST_RETRY = { baseDelayMs: 5, maxDelayMs: 50 };
const WRONG_PASSWORD = 'Wrong-Pa55-zzq';

/** Everything an error could show a user or a log: message, describe(), details, stack, causes. */
function everythingShown(err: unknown): string {
  const parts: string[] = [];
  let e: unknown = err;
  for (let depth = 0; e && depth < 5; depth++) {
    if (e instanceof ImageError) parts.push(e.describe(), JSON.stringify(e.details));
    if (e instanceof Error) parts.push(e.message, String(e.stack));
    parts.push(String(e));
    e = (e as { cause?: unknown }).cause;
  }
  return parts.join('\n');
}

function expectNoSecrets(err: unknown): void {
  const shown = everythingShown(err);
  for (const secret of [TEST_USER.password, WRONG_PASSWORD, TEST_USER.identityToken!, Buffer.from(`${TEST_USER.username}:${TEST_USER.password}`).toString('base64')]) {
    expect(shown).not.toContain(secret);
  }
}

async function roundTrip(options: RegistryClientOptions, registry: RegistryServer, repoName: string, seed: string): Promise<void> {
  const client = new RegistryClient({ retry: FAST_RETRY, ...options });
  try {
    const repo = client.repository(registry.host, repoName);
    const image = await makeTestImage(seed);
    await pushTestImage(repo, image, 'v1');
    expect((await repo.getManifest('v1')).bytes.equals(image.manifestBytes)).toBe(true);
    for (const [digest, bytes] of image.blobs) expect((await collect(await repo.getBlob(digest))).equals(bytes)).toBe(true);
  } finally {
    await client.close();
  }
}

describe.skipIf(missingNeeds({ commands: ['docker-registry', 'htpasswd', 'openssl'] }))('registry auth against distribution 2.8', () => {
  let basic: RegistryServer;
  let token: RegistryServer;
  let tls: RegistryServer;

  beforeAll(async () => {
    [basic, token, tls] = await Promise.all([startRegistry({ auth: 'htpasswd' }), startRegistry({ auth: 'token', anonymousPull: true }), startRegistry({ tls: true })]);
  });
  afterAll(async () => {
    await Promise.all([basic?.stop(), token?.stop(), tls?.stop()]);
  });

  it('htpasswd Basic: pushes and pulls with the right password', async () => {
    await roundTrip({ credentials: explicitCredentials(TEST_USER.username, TEST_USER.password) }, basic, 'basic/app', 'basic-1');
  });

  it('htpasswd Basic: anonymous and wrong passwords fail UNAUTHENTICATED without leaking secrets', async () => {
    const anonymous = new RegistryClient({ retry: FAST_RETRY });
    const wrong = new RegistryClient({ retry: FAST_RETRY, credentials: explicitCredentials(TEST_USER.username, WRONG_PASSWORD) });
    try {
      const e1 = await anonymous.repository(basic.host, 'basic/app').getManifest('v1').catch((e: unknown) => e);
      expect(isImageError(e1, 'UNAUTHENTICATED')).toBe(true);
      expect(e1).toMatchObject({ details: { status: 401, ociCode: 'UNAUTHORIZED', method: 'GET' } });
      const e2 = await wrong.repository(basic.host, 'basic/app').resolve('v1').catch((e: unknown) => e);
      expect(isImageError(e2, 'UNAUTHENTICATED')).toBe(true);
      expectNoSecrets(e2);
    } finally {
      await anonymous.close();
      await wrong.close();
    }
  });

  it('token auth: a real JWT from the loopback issuer, cached per scope', async () => {
    const before = token.tokenRequests.length;
    await roundTrip({ credentials: explicitCredentials(TEST_USER.username, TEST_USER.password) }, token, 'tok/app', 'token-1');
    const asked = token.tokenRequests.slice(before);
    expect(asked.every((r) => r.user === TEST_USER.username)).toBe(true);
    // push scope once, pull scope once (the /v2/ probe is never needed): tokens are reused, not fetched per request
    expect(asked.length).toBeLessThanOrEqual(3);
    expect(asked.some((r) => r.scopes.includes('repository:tok/app:pull,push'))).toBe(true);
  });

  it('token auth: identity token from docker config.json (OAuth2 refresh-token grant)', async () => {
    const dir = makeTempDir();
    const config = path.join(dir, 'config.json');
    writeFileSync(config, JSON.stringify({ auths: { [token.host]: { identitytoken: TEST_USER.identityToken } } }));
    const before = token.tokenRequests.length;
    await roundTrip({ credentials: dockerConfigCredentials(config) }, token, 'tok/idt', 'token-idt');
    expect(token.tokenRequests.slice(before).every((r) => r.method === 'POST' && r.user === TEST_USER.username)).toBe(true);
  });

  it('token auth: anonymous pull works, anonymous push and bad passwords are refused without leaking', async () => {
    const anonymous = new RegistryClient({ retry: FAST_RETRY });
    const wrong = new RegistryClient({ retry: FAST_RETRY, credentials: explicitCredentials(TEST_USER.username, WRONG_PASSWORD) });
    try {
      const image = await makeTestImage('token-1');
      const repo = anonymous.repository(token.host, 'tok/app');
      expect((await repo.getManifest('v1')).bytes.equals(image.manifestBytes)).toBe(true);
      const pushErr = await pushTestImage(anonymous.repository(token.host, 'tok/anon-push'), await makeTestImage('anon-push')).catch((e: unknown) => e);
      expect(isImageError(pushErr, 'UNAUTHENTICATED')).toBe(true);
      const badErr = await wrong.repository(token.host, 'tok/app').getManifest('v1').catch((e: unknown) => e);
      expect(isImageError(badErr, 'UNAUTHENTICATED')).toBe(true);
      expect((badErr as ImageError).details.ociCode).toBe('UNAUTHORIZED');
      expectNoSecrets(badErr);
    } finally {
      await anonymous.close();
      await wrong.close();
    }
  });

  it('TLS: trusts the test CA when given, or skips verification with insecure, and refuses otherwise', async () => {
    const { readFileSync } = await import('node:fs');
    await roundTrip({ plainHttp: false, ca: readFileSync(tls.caFile!, 'utf8') }, tls, 'tls/app', 'tls-1');
    await roundTrip({ plainHttp: false, insecure: true }, tls, 'tls/app2', 'tls-2');
    const strict = new RegistryClient({ plainHttp: false, retry: FAST_RETRY });
    try {
      const err = await strict.repository(tls.host, 'tls/app').resolve('v1').catch((e: unknown) => e);
      expect(isImageError(err, 'UNAVAILABLE')).toBe(true);
      expect((err as ImageError).hint).toMatch(/--insecure/);
    } finally {
      await strict.close();
    }
  });
});
