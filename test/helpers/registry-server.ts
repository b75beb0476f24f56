// Starts Debian's distribution 2.8 `docker-registry` on a free loopback port for tests: plain, htpasswd, token auth (with a loopback JWT issuer), TLS.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { createSign, randomBytes } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

/** A user the registry (htpasswd) or the token issuer accepts. */
export interface TestUser {
  username: string;
  password: string;
  /** Identity (refresh) token the token server also accepts for this user. */
  identityToken?: string;
}

/** How to start a test registry. */
export interface RegistryServerOptions {
  auth?: 'none' | 'htpasswd' | 'token';
  users?: TestUser[];
  /** Token auth: give anonymous clients pull access. */
  anonymousPull?: boolean;
  /** Serve HTTPS with a certificate from a fresh test CA. */
  tls?: boolean;
}

/** A request the token server saw (for assertions on caching and on what was sent). */
export interface TokenRequest {
  method: string;
  scopes: string[];
  user: string | undefined;
}

/** A running test registry. */
export interface RegistryServer {
  /** `127.0.0.1:<port>`: the registry part of references. */
  host: string;
  /** `http(s)://127.0.0.1:<port>`. */
  url: string;
  /** PEM file of the CA that signed the TLS certificate (tls only). */
  caFile?: string;
  /** Requests the token server answered (token auth only). */
  tokenRequests: TokenRequest[];
  /** The registry's log file (for debugging failed tests). */
  logFile: string;
  stop(): Promise<void>;
}

/** Default test user. */
export const TEST_USER: TestUser = { username: 'tester', password: 's3cret-Pa55word', identityToken: 'refresh-token-for-tester' };

function openssl(args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: 'ignore' });
}

function pemToDerBase64(pem: string): string {
  return pem.replace(/-----[^-]+-----/g, '').replace(/\s+/g, '');
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

/** A loopback JWT issuer for distribution's `auth: token` (docker token spec; x5c header chains to rootcertbundle). */
async function startTokenServer(dir: string, options: RegistryServerOptions, log: TokenRequest[]): Promise<{ server: Server; realm: string; certFile: string }> {
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'token.key', '-out', 'token.pem', '-days', '2', '-subj', '/CN=turbo-oci test token issuer'], dir);
  const key = readFileSync(path.join(dir, 'token.key'), 'utf8');
  const x5c = pemToDerBase64(readFileSync(path.join(dir, 'token.pem'), 'utf8'));
  const users = options.users ?? [TEST_USER];

  const sign = (subject: string, access: { type: string; name: string; actions: string[] }[]) => {
    const now = Math.floor(Date.now() / 1000);
    const header = base64url(JSON.stringify({ typ: 'JWT', alg: 'RS256', x5c: [x5c] }));
    const claims = base64url(JSON.stringify({ iss: 'turbo-oci-test-issuer', sub: subject, aud: 'turbo-oci-test-registry', exp: now + 300, nbf: now - 30, iat: now, jti: randomBytes(8).toString('hex'), access }));
    const signature = createSign('RSA-SHA256').update(`${header}.${claims}`).sign(key);
    return `${header}.${claims}.${base64url(signature)}`;
  };

  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      let scopes = url.searchParams.getAll('scope').flatMap((s) => s.split(' '));
      let user: TestUser | undefined;
      let rejected = false;
      if (req.method === 'POST') {
        const form = new URLSearchParams(Buffer.concat(chunks).toString());
        scopes = (form.get('scope') ?? '').split(' ').filter(Boolean);
        user = users.find((u) => u.identityToken !== undefined && u.identityToken === form.get('refresh_token'));
        rejected = user === undefined;
      } else if (req.headers.authorization?.startsWith('Basic ')) {
        const [name, ...rest] = Buffer.from(req.headers.authorization.slice(6), 'base64').toString().split(':');
        user = users.find((u) => u.username === name && u.password === rest.join(':'));
        rejected = user === undefined;
      }
      log.push({ method: req.method ?? 'GET', scopes, user: user?.username });
      if (rejected) {
        res.writeHead(401, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'bad credentials' }] }));
        return;
      }
      const access = scopes.flatMap((scope) => {
        const [type, name, actions] = scope.split(':');
        if (type !== 'repository' || !name || !actions) return [];
        const granted = user ? actions.split(',') : options.anonymousPull ? actions.split(',').filter((a) => a === 'pull') : [];
        return granted.length ? [{ type, name, actions: granted }] : [];
      });
      const token = sign(user?.username ?? '', access);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ token, access_token: token, expires_in: 300, issued_at: new Date().toISOString() }));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { server, realm: `http://127.0.0.1:${port}/token`, certFile: path.join(dir, 'token.pem') };
}

function makeTlsFiles(dir: string): { caFile: string; certFile: string; keyFile: string } {
  openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '2', '-subj', '/CN=turbo-oci test CA'], dir);
  openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=127.0.0.1'], dir);
  writeFileSync(path.join(dir, 'san.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', '2', '-extfile', 'san.ext'], dir);
  return { caFile: path.join(dir, 'ca.pem'), certFile: path.join(dir, 'server.pem'), keyFile: path.join(dir, 'server.key') };
}

async function waitForListening(child: ChildProcess, logFile: string, timeoutMs: number): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`docker-registry exited (${child.exitCode}): ${readFileSync(logFile, 'utf8').slice(-2000)}`);
    const m = /listening on (127\.0\.0\.1:\d+)/.exec(readFileSync(logFile, 'utf8'));
    if (m) return m[1]!;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`docker-registry did not start within ${timeoutMs} ms: ${readFileSync(logFile, 'utf8').slice(-2000)}`);
}

/** Starts a registry (and its token issuer) with its own config and data in a temp dir; stop() kills it and removes the dir. */
export async function startRegistry(options: RegistryServerOptions = {}): Promise<RegistryServer> {
  const dir = mkdtempSync(path.join(tmpdir(), 'turbo-oci-registry-'));
  const tokenRequests: TokenRequest[] = [];
  const lines = [
    'version: 0.1',
    'log: { level: info, accesslog: { disabled: true } }',
    `storage: { filesystem: { rootdirectory: ${JSON.stringify(path.join(dir, 'data'))} }, delete: { enabled: true }, maintenance: { uploadpurging: { enabled: false } } }`,
  ];
  let tokenServer: Server | undefined;
  const auth = options.auth ?? 'none';
  if (auth === 'htpasswd') {
    const entries = (options.users ?? [TEST_USER]).map((u) => execFileSync('htpasswd', ['-Bbn', u.username, u.password], { encoding: 'utf8' }).trim());
    writeFileSync(path.join(dir, 'htpasswd'), `${entries.join('\n')}\n`);
    lines.push(`auth: { htpasswd: { realm: turbo-oci-test, path: ${JSON.stringify(path.join(dir, 'htpasswd'))} } }`);
  } else if (auth === 'token') {
    const t = await startTokenServer(dir, options, tokenRequests);
    tokenServer = t.server;
    lines.push(`auth: { token: { realm: ${JSON.stringify(t.realm)}, service: turbo-oci-test-registry, issuer: turbo-oci-test-issuer, rootcertbundle: ${JSON.stringify(t.certFile)} } }`);
  }
  let caFile: string | undefined;
  let tlsLine = '';
  if (options.tls) {
    const tls = makeTlsFiles(dir);
    caFile = tls.caFile;
    tlsLine = `, tls: { certificate: ${JSON.stringify(tls.certFile)}, key: ${JSON.stringify(tls.keyFile)} }`;
  }
  lines.push(`http: { addr: "127.0.0.1:0", secret: ${randomBytes(16).toString('hex')}${tlsLine} }`);
  const configFile = path.join(dir, 'config.yml');
  writeFileSync(configFile, `${lines.join('\n')}\n`);
  const logFile = path.join(dir, 'registry.log');
  writeFileSync(logFile, '');
  const fd = openSync(logFile, 'a');
  const child = spawn('docker-registry', ['serve', configFile], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const stop = async () => {
    if (child.exitCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    if (tokenServer) await new Promise<void>((resolve) => tokenServer!.close(() => resolve()));
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    const host = await waitForListening(child, logFile, 15_000);
    return { host, url: `${options.tls ? 'https' : 'http'}://${host}`, ...(caFile ? { caFile } : {}), tokenRequests, logFile, stop };
  } catch (err) {
    await stop();
    throw err;
  }
}
