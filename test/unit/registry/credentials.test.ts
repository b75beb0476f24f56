// docker config.json credentials: auths (auth, username/password, identitytoken), credHelpers and credsStore via a fake docker-credential-test on PATH.
import { chmodSync, writeFileSync } from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { configKeysFor, credentialFromAuthEntry, dockerConfigCredentials, explicitCredentials } from '../../../src/registry/credentials.js';
import { makeTempDir } from '../../helpers/tmpdir.js';

describe('docker config credentials', () => {
  const dir = makeTempDir('turbo-oci-creds-');
  const oldPath = process.env.PATH;
  const config = (name: string, value: unknown) => {
    const file = path.join(dir, name);
    writeFileSync(file, JSON.stringify(value));
    return file;
  };

  beforeAll(() => {
    // A fake credential helper: reads the server URL on stdin, answers per the docker-credential-helpers protocol.
    const helper = path.join(dir, 'docker-credential-test');
    writeFileSync(
      helper,
      [
        '#!/bin/sh',
        'read server',
        'echo "$1 $server" >> "$(dirname "$0")/helper.log"',
        'case "$server" in',
        '  helper.example:5000) echo \'{"ServerURL":"helper.example:5000","Username":"hu","Secret":"hs"}\' ;;',
        '  token.example) echo \'{"ServerURL":"token.example","Username":"<token>","Secret":"refresh-xyz"}\' ;;',
        '  *) echo "credentials not found in native keychain"; exit 1 ;;',
        'esac',
      ].join('\n'),
    );
    chmodSync(helper, 0o755);
    process.env.PATH = `${dir}:${oldPath}`;
  });
  afterAll(() => {
    process.env.PATH = oldPath;
  });

  it('decodes auths entries', () => {
    expect(credentialFromAuthEntry({ auth: Buffer.from('u:p:with:colons').toString('base64') })).toEqual({ username: 'u', password: 'p:with:colons' });
    expect(credentialFromAuthEntry({ username: 'a', password: 'b' })).toEqual({ username: 'a', password: 'b' });
    expect(credentialFromAuthEntry({ identitytoken: 'tok' })).toEqual({ identityToken: 'tok' });
    expect(credentialFromAuthEntry({})).toBeUndefined();
    expect(() => credentialFromAuthEntry({ auth: Buffer.from('nocolon').toString('base64') })).toThrowError(expect.objectContaining({ code: 'INVALID_ARGUMENT' }));
    expect(configKeysFor('docker.io')).toContain('https://index.docker.io/v1/');
  });

  it('looks up auths by host, by URL form and Docker Hub legacy key', async () => {
    const file = config('auths.json', {
      auths: {
        'https://index.docker.io/v1/': { auth: Buffer.from('hub:hubpw').toString('base64') },
        'https://reg.example:8443': { username: 'r', password: 'rp' },
        'plain.example': { identitytoken: 'idt' },
      },
    });
    const source = dockerConfigCredentials(file);
    expect(await source('docker.io')).toEqual({ username: 'hub', password: 'hubpw' });
    expect(await source('reg.example:8443')).toEqual({ username: 'r', password: 'rp' });
    expect(await source('plain.example')).toEqual({ identityToken: 'idt' });
    expect(await source('other.example')).toBeUndefined();
  });

  it('runs credHelpers and credsStore helpers (docker-credential-<name> get)', async () => {
    const file = config('helpers.json', {
      credHelpers: { 'helper.example:5000': 'test', 'token.example': 'test' },
      credsStore: 'test',
      auths: { 'auths.example': { auth: Buffer.from('x:y').toString('base64') } },
    });
    const source = dockerConfigCredentials(file);
    expect(await source('helper.example:5000')).toEqual({ username: 'hu', password: 'hs' });
    expect(await source('token.example')).toEqual({ identityToken: 'refresh-xyz' });
    expect(await source('auths.example')).toEqual({ username: 'x', password: 'y' });
    expect(await source('unknown.example')).toBeUndefined(); // credsStore says "not found"
    const missingHelper = dockerConfigCredentials(config('missing.json', { credHelpers: { 'a.example': 'nonexistent-zzz' } }));
    await expect(missingHelper('a.example')).rejects.toMatchObject({ code: 'UNAUTHENTICATED' });
  });

  it('treats a missing file as anonymous, bad JSON as INVALID_ARGUMENT, and lets explicit credentials win', async () => {
    expect(await dockerConfigCredentials(path.join(dir, 'absent.json'))('x.example')).toBeUndefined();
    writeFileSync(path.join(dir, 'bad.json'), '{nope');
    await expect(dockerConfigCredentials(path.join(dir, 'bad.json'))('x.example')).rejects.toMatchObject({ code: 'INVALID_ARGUMENT' });
    const fallback = dockerConfigCredentials(config('f.json', { auths: { 'x.example': { username: 'f', password: 'fp' } } }));
    expect(await explicitCredentials('me', 'mine', fallback)('x.example')).toEqual({ username: 'me', password: 'mine' });
    expect(await explicitCredentials(undefined, undefined, fallback)('x.example')).toEqual({ username: 'f', password: 'fp' });
  });
});
