// The registry client against small registries served from this process on 127.0.0.1
// (and `localhost`, as a second origin for redirects). Each fake registry implements just
// the distribution API routes the client uses, plus a token endpoint where needed.

import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { describe, it, type TestContext } from 'node:test';

import pino from 'pino';

import { type ErrorKind, SkiffError } from '../../src/errors.js';
import { MEDIA } from '../../src/image/oci-types.js';
import { type ImageReference, parseReference } from '../../src/image/reference.js';
import { parseChallenges } from '../../src/image/registry/challenge.js';
import { MANIFEST_ACCEPT, RegistryClient } from '../../src/image/registry/client.js';
import { credentialsForEndpoint } from '../../src/image/registry/credentials.js';
import { HostsFileError, loadEndpoints, parseHostsToml, type RegistryEndpoint } from '../../src/image/registry/hosts.js';

// ---------------------------------------------------------------- test servers

interface Seen {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  body: string;
}
type Handler = (req: Seen, res: http.ServerResponse) => void;

interface TestServer {
  port: number;
  /** `127.0.0.1:<port>`, as an image reference domain. */
  host: string;
  origin: string;
  seen: Seen[];
}

async function serve(t: TestContext, handler: Handler, tls?: { key: string; cert: string }): Promise<TestServer> {
  const seen: Seen[] = [];
  const onRequest = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const url = new URL(req.url ?? '/', 'http://x');
      const s: Seen = {
        method: req.method ?? '',
        path: url.pathname,
        query: url.searchParams,
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      seen.push(s);
      try {
        handler(s, res);
      } catch (err) {
        res.writeHead(500).end(String(err));
      }
    });
  };
  const server = tls ? https.createServer(tls, onRequest) : http.createServer(onRequest);
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', resolve);
  });
  t.after(
    () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  );
  const port = (server.address() as AddressInfo).port;
  return { port, host: `127.0.0.1:${port}`, origin: `${tls ? 'https' : 'http'}://127.0.0.1:${port}`, seen };
}

/** A port nothing listens on (bound, then released). */
async function closedPort(): Promise<number> {
  const server = http.createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

function sendError(res: http.ServerResponse, status: number, code: string, message: string, headers: http.OutgoingHttpHeaders = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify({ errors: [{ code, message, detail: null }] }));
}

const sha = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface Image {
  manifest: Buffer;
  digest: string;
  config: Buffer;
  configDigest: string;
  layer: Buffer;
  layerDigest: string;
}

function makeImage(seed = 'x'): Image {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, seed }));
  const layer = Buffer.alloc(200_000, seed);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.ociManifest,
      config: { mediaType: MEDIA.ociConfig, digest: sha(config), size: config.length },
      layers: [{ mediaType: MEDIA.ociLayerGzip, digest: sha(layer), size: layer.length }],
    }),
  );
  return { manifest, digest: sha(manifest), config, configDigest: sha(config), layer, layerDigest: sha(layer) };
}

const REPO = 'library/app';

interface RegistryOptions {
  image?: Image;
  /** Manifests by tag or digest, overriding what `image` provides. */
  manifests?: Record<string, { mediaType: string; bytes: Buffer; digestHeader?: string }>;
  /** Answer every registry request with this status. */
  status?: number;
  /** Return false to refuse with 401 and `challenge`. */
  authorize?: (req: Seen) => boolean;
  /** WWW-Authenticate of a refusal; a function can use the Host header to name this server. */
  challenge?: string | ((req: Seen) => string);
  /** Blob requests are redirected here (`<base>/<digest>`). */
  blobRedirect?: string | ((req: Seen) => string);
  /** Handles other routes first (a token endpoint); returns true when it answered. */
  extra?: (req: Seen, res: http.ServerResponse) => boolean;
}

function registry(o: RegistryOptions): Handler {
  const manifests: NonNullable<RegistryOptions['manifests']> = {};
  if (o.image) {
    const m = { mediaType: MEDIA.ociManifest, bytes: o.image.manifest };
    manifests['v1'] = m;
    manifests[o.image.digest] = m;
  }
  Object.assign(manifests, o.manifests ?? {});
  const blobs = new Map<string, Buffer>(
    o.image
      ? [
          [o.image.configDigest, o.image.config],
          [o.image.layerDigest, o.image.layer],
        ]
      : [],
  );
  return (req, res) => {
    if (o.extra?.(req, res)) return;
    if (o.status !== undefined) return sendError(res, o.status, 'UNAVAILABLE', `status ${o.status} from test`);
    if (o.authorize && !o.authorize(req)) {
      const challenge = typeof o.challenge === 'function' ? o.challenge(req) : o.challenge;
      return sendError(
        res,
        401,
        'UNAUTHORIZED',
        'authentication required',
        challenge === undefined ? {} : { 'www-authenticate': challenge },
      );
    }
    const m = /^\/v2\/(.+)\/(manifests|blobs)\/([^/]+)$/.exec(req.path);
    if (m === null || m[1] !== REPO) return sendError(res, 404, 'NAME_UNKNOWN', 'repository name not known to registry');
    const [, , kind, id] = m as unknown as [string, string, string, string];
    if (kind === 'manifests') {
      const entry = manifests[id];
      if (entry === undefined) return sendError(res, 404, 'MANIFEST_UNKNOWN', 'manifest unknown');
      res.writeHead(200, { 'content-type': entry.mediaType, 'docker-content-digest': entry.digestHeader ?? sha(entry.bytes) });
      res.end(entry.bytes);
      return;
    }
    if (o.blobRedirect !== undefined) {
      const base = typeof o.blobRedirect === 'function' ? o.blobRedirect(req) : o.blobRedirect;
      res.writeHead(307, { location: `${base}/${id}?X-Signature=abc` }).end();
      return;
    }
    const blob = blobs.get(id);
    if (blob === undefined) return sendError(res, 404, 'BLOB_UNKNOWN', 'blob unknown to registry');
    res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': blob.length });
    res.end(blob);
  };
}

/** A plain blob store (the target of redirects): `/<anything>/<digest>`. */
function blobStore(image: Image): Handler {
  return (req, res) => {
    const digest = req.path.split('/').pop() ?? '';
    const blob = digest === image.layerDigest ? image.layer : digest === image.configDigest ? image.config : undefined;
    if (blob === undefined) return sendError(res, 404, 'BLOB_UNKNOWN', 'no such blob');
    res.writeHead(200, { 'content-length': blob.length }).end(blob);
  };
}

/**
 * A registry behind the Docker token protocol: refused requests get a Bearer challenge whose
 * realm is /token on the same server; `token` builds the token response for a freshly minted
 * `value`, or answers the request itself and returns undefined to refuse it.
 */
function bearerRegistry(
  image: Image,
  token: (req: Seen, res: http.ServerResponse, value: string) => Record<string, unknown> | undefined,
): { handler: Handler; tokenRequests: Seen[] } {
  const tokenRequests: Seen[] = [];
  const valid = new Set<string>();
  let minted = 0;
  const handler = registry({
    image,
    extra: (req, res) => {
      if (req.path !== '/token') return false;
      tokenRequests.push(req);
      const value = `tok-${++minted}`;
      const body = token(req, res, value);
      if (body !== undefined) {
        valid.add(value);
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
      }
      return true;
    },
    authorize: (req) => valid.has((req.headers['authorization'] ?? '').replace(/^Bearer /, '')),
    challenge: (req) => `Bearer realm="http://${req.headers.host ?? ''}/token",service="fake-registry",scope="repository:${REPO}:pull"`,
  });
  return { handler, tokenRequests };
}

const refusals = (server: TestServer): number =>
  server.seen.filter((r) => registryPath(r) && r.headers['authorization'] === undefined).length;

// ---------------------------------------------------------------- client helpers

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'skiff-registry-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function writeHosts(dir: string, host: string, text: string): string {
  mkdirSync(path.join(dir, host), { recursive: true });
  const file = path.join(dir, host, 'hosts.toml');
  writeFileSync(file, text);
  return file;
}

function newClient(t: TestContext, hostsDir?: string): RegistryClient {
  const client = new RegistryClient({ hostsDir: hostsDir ?? tempDir(t), log: pino({ level: 'silent' }), userAgent: 'skiff-test/1' });
  t.after(() => client.close());
  return client;
}

const refTo = (server: TestServer | string, repo = REPO): ImageReference =>
  parseReference(`${typeof server === 'string' ? server : server.host}/${repo}`);

async function readAll(body: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of body) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

async function rejectsWith(p: Promise<unknown>, kind: ErrorKind, pattern: RegExp): Promise<SkiffError> {
  let caught: unknown;
  try {
    await p;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof SkiffError, `expected a SkiffError, got ${String(caught)}`);
  assert.equal(caught.kind, kind, caught.message);
  assert.match(caught.message, pattern);
  return caught;
}

const basic = (user: string, pass: string): string => `Basic ${Buffer.from(`${user}:${pass}`).toString('base64')}`;
const registryPath = (req: Seen): boolean => req.path.startsWith('/v2/');

// ---------------------------------------------------------------- hosts.toml

describe('registry hosts.toml', () => {
  it('lists mirrors in file order, then the upstream, with containerd defaults', () => {
    const text = [
      'server = "https://upstream.example"',
      'ca = "certs/up.pem"',
      '[host."http://127.0.0.1:5001"]',
      '[host."https://mirror.example/cache"]',
      '  capabilities = ["pull"]',
      '  skip_verify = true',
      '  ca = ["/abs/a.pem", "b.pem"]',
      '[host."https://odd.example/api/v2/upstream/"]',
      '  override_path = true',
      '  capabilities = ["pull", "resolve", "push"]',
      '[host."mirror2.example:5000"]',
      '[host."127.0.0.1:5002/v2"]',
    ].join('\n');
    const both = { pull: true, resolve: true };
    const mirror = (url: string, extra: Partial<RegistryEndpoint> = {}): RegistryEndpoint => ({
      url,
      capabilities: both,
      skipVerify: false,
      caFiles: [],
      isMirror: true,
      ...extra,
    });
    assert.deepEqual(parseHostsToml(text, '/etc/skiff/registry.d/registry.example/hosts.toml', 'registry.example'), [
      mirror('http://127.0.0.1:5001/v2'),
      mirror('https://mirror.example/cache/v2', {
        capabilities: { pull: true, resolve: false },
        skipVerify: true,
        caFiles: ['/abs/a.pem', '/etc/skiff/registry.d/registry.example/b.pem'],
      }),
      mirror('https://odd.example/api/v2/upstream'),
      mirror('https://mirror2.example:5000/v2'),
      mirror('http://127.0.0.1:5002/v2'),
      mirror('https://upstream.example/v2', { isMirror: false, caFiles: ['/etc/skiff/registry.d/registry.example/certs/up.pem'] }),
    ]);
  });

  it('defaults the upstream: https, registry-1.docker.io for the Hub, plain http on loopback', async (t) => {
    const dir = tempDir(t);
    const url = async (host: string): Promise<string[]> => (await loadEndpoints(dir, host)).map((e) => e.url);
    assert.deepEqual(await url('docker.io'), ['https://registry-1.docker.io/v2']);
    assert.deepEqual(await url('registry.k8s.io'), ['https://registry.k8s.io/v2']);
    assert.deepEqual(await url('127.0.0.1:5000'), ['http://127.0.0.1:5000/v2']);
    assert.deepEqual(await url('localhost:5000'), ['http://localhost:5000/v2']);
    assert.deepEqual(await url('localhost'), ['http://localhost/v2']);
    assert.deepEqual(await url('[::1]:5000'), ['http://[::1]:5000/v2']);
    assert.deepEqual(await url('127.0.0.1.example.com'), ['https://127.0.0.1.example.com/v2']);
    writeHosts(dir, 'docker.io', 'server = "https://docker.io"\n');
    assert.deepEqual(await url('docker.io'), ['https://registry-1.docker.io/v2']);
    writeHosts(dir, 'quay.io', '[host."https://mirror.example"]\n');
    assert.deepEqual(await url('quay.io'), ['https://mirror.example/v2', 'https://quay.io/v2']);
  });

  it('finds the file for host:port, then the _default fallback, and reads certs.d directories', async (t) => {
    const dir = tempDir(t);
    writeHosts(dir, '_default', '[host."https://everything.example"]\n');
    assert.deepEqual(
      (await loadEndpoints(dir, 'ghcr.io')).map((e) => e.url),
      ['https://everything.example/v2', 'https://ghcr.io/v2'],
    );
    writeHosts(dir, 'reg.example:5000', '[host."https://colon.example"]\n');
    assert.equal((await loadEndpoints(dir, 'reg.example:5000'))[0]?.url, 'https://colon.example/v2');
    writeHosts(dir, 'reg.example_5000_', '[host."https://underscore.example"]\n');
    assert.equal((await loadEndpoints(dir, 'reg.example:5000'))[0]?.url, 'https://underscore.example/v2');
    mkdirSync(path.join(dir, 'certs.example'));
    writeFileSync(path.join(dir, 'certs.example', 'ca.crt'), 'pem');
    writeFileSync(path.join(dir, 'certs.example', 'client.cert'), 'pem');
    assert.deepEqual(await loadEndpoints(dir, 'certs.example'), [
      {
        url: 'https://certs.example/v2',
        capabilities: { pull: true, resolve: true },
        skipVerify: false,
        caFiles: [path.join(dir, 'certs.example', 'ca.crt')],
        isMirror: false,
      },
    ]);
  });

  it('refuses bad files, naming the file and the key', async (t) => {
    const dir = tempDir(t);
    const cases: [string, string][] = [
      ['mirrors = []', 'mirrors: unknown key (expected server, capabilities, skip_verify, ca, override_path, host)'],
      [
        '[host."http://m.example"]\nfoo = 1',
        'host."http://m.example".foo: unknown key (expected capabilities, skip_verify, ca, override_path)',
      ],
      ['[host."http://m.example"]\n[host."http://m.example".header]\nx = "y"', 'host."http://m.example".header: not supported by skiff'],
      ['client = "/c.pem"', 'client: not supported by skiff'],
      ['capabilities = ["pull", "fly"]', 'capabilities: unknown capability "fly"'],
      ['capabilities = "pull"', 'capabilities: expected an array of strings'],
      ['skip_verify = "yes"', 'skip_verify: expected true or false'],
      ['[host."http://m.example"]\noverride_path = 1', 'host."http://m.example".override_path: expected true or false'],
      ['ca = 5', 'ca: expected a file path or an array of file paths'],
      ['server = "ftp://up.example"', 'server: URL "ftp://up.example" must use http or https'],
      ['server = "https://u:p@up.example"', 'server: credentials do not belong in the URL'],
      ['[host."https://m.example?x=1"]', 'host."https://m.example?x=1": URL "https://m.example?x=1" must not have a query'],
      ['host = 1', 'host: expected tables [host."<url>"]'],
      ['server = [', 'invalid TOML'],
    ];
    for (const [text, problem] of cases) {
      const file = writeHosts(dir, 'bad.example', text);
      await assert.rejects(
        loadEndpoints(dir, 'bad.example'),
        (err: unknown) =>
          err instanceof HostsFileError &&
          err.kind === 'FailedPrecondition' &&
          err.message.startsWith(`registry hosts file ${file}: ${problem}`),
        text,
      );
    }
  });
});

// ---------------------------------------------------------------- helpers of the client

describe('registry auth helpers', () => {
  it('parses WWW-Authenticate challenges', () => {
    assert.deepEqual(
      parseChallenges('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"'),
      [
        {
          scheme: 'bearer',
          params: { realm: 'https://auth.example/token', service: 'registry.example', scope: 'repository:a/b:pull,push' },
        },
      ],
    );
    assert.deepEqual(parseChallenges(['Basic realm="Registry \\"Realm\\""', 'Negotiate abc==, Bearer realm=https://t.example/x']), [
      { scheme: 'basic', params: { realm: 'Registry "Realm"' } },
      { scheme: 'negotiate', params: {} },
      { scheme: 'bearer', params: { realm: 'https://t.example/x' } },
    ]);
    assert.deepEqual(parseChallenges(undefined), []);
  });

  it('gives mirrors credentials only when serverAddress names them', () => {
    const creds = { username: 'u', password: 'p', serverAddress: 'https://registry.example/v1/' };
    const up = { url: 'https://registry.example/v2', isMirror: false };
    assert.equal(credentialsForEndpoint(creds, up), creds);
    assert.equal(credentialsForEndpoint(creds, { url: 'https://mirror.example/v2', isMirror: true }), undefined);
    assert.equal(
      credentialsForEndpoint({ ...creds, serverAddress: 'mirror.example' }, { url: 'https://mirror.example/v2', isMirror: true })?.username,
      'u',
    );
    assert.equal(credentialsForEndpoint({ username: 'u', password: 'p' }, { url: 'https://mirror.example/v2', isMirror: true }), undefined);
    assert.equal(credentialsForEndpoint({}, up), undefined);
  });
});

// ---------------------------------------------------------------- the client

describe('registry client', () => {
  it('fetches manifests by tag and by digest, and streams blobs', async (t) => {
    const image = makeImage();
    const reg = await serve(t, registry({ image }));
    const client = newClient(t);
    const ref = refTo(reg);

    const byTag = await client.getManifest(ref, 'v1', {});
    assert.deepEqual(byTag, { digest: image.digest, mediaType: MEDIA.ociManifest, bytes: image.manifest, endpoint: `${reg.origin}/v2` });
    assert.equal(reg.seen[0]?.path, `/v2/${REPO}/manifests/v1`);
    assert.equal(reg.seen[0]?.headers['accept'], MANIFEST_ACCEPT);
    for (const type of [MEDIA.ociIndex, MEDIA.ociManifest, MEDIA.dockerManifestList, MEDIA.dockerManifest, MEDIA.dockerSchema1Signed]) {
      assert.ok(MANIFEST_ACCEPT.includes(type), type);
    }
    assert.equal(reg.seen[0]?.headers['user-agent'], 'skiff-test/1');
    assert.equal(reg.seen[0]?.query.get('ns'), null, 'only mirrors get ?ns=');

    const byDigest = await client.getManifest(ref, image.digest, {});
    assert.equal(byDigest.digest, image.digest);

    const blob = await client.getBlob(ref, image.layerDigest, { preferEndpoint: byTag.endpoint });
    assert.equal(blob.size, image.layer.length);
    assert.equal(blob.endpoint, `${reg.origin}/v2`);
    assert.ok((await readAll(blob.body)).equals(image.layer));
  });

  it('works out the media type of a manifest without one in the document', async (t) => {
    const list = Buffer.from(JSON.stringify({ schemaVersion: 2, manifests: [] }));
    const reg = await serve(
      t,
      registry({
        manifests: { idx: { mediaType: 'application/json', bytes: list }, dl: { mediaType: MEDIA.dockerManifestList, bytes: list } },
      }),
    );
    const client = newClient(t);
    assert.equal((await client.getManifest(refTo(reg), 'idx', {})).mediaType, MEDIA.ociIndex);
    assert.equal((await client.getManifest(refTo(reg), 'dl', {})).mediaType, MEDIA.dockerManifestList);
  });

  it('refuses manifests whose bytes do not match the digest', async (t) => {
    const image = makeImage();
    const other = makeImage('y');
    const reg = await serve(
      t,
      registry({
        manifests: {
          [image.digest]: { mediaType: MEDIA.ociManifest, bytes: other.manifest },
          v1: { mediaType: MEDIA.ociManifest, bytes: image.manifest, digestHeader: other.digest },
        },
      }),
    );
    const client = newClient(t);
    await rejectsWith(
      client.getManifest(refTo(reg), image.digest, {}),
      'FailedPrecondition',
      new RegExp(`digest mismatch: expected ${image.digest}, got ${other.digest}`),
    );
    await rejectsWith(
      client.getManifest(refTo(reg), 'v1', {}),
      'FailedPrecondition',
      new RegExp(`digest mismatch: expected ${other.digest}, got ${image.digest}`),
    );
  });

  it('refuses schema 1 manifests clearly', async (t) => {
    const schema1 = Buffer.from(JSON.stringify({ schemaVersion: 1, name: 'library/app', tag: 'old', fsLayers: [], signatures: [] }));
    const reg = await serve(
      t,
      registry({
        manifests: {
          old: { mediaType: MEDIA.dockerSchema1Signed, bytes: schema1 },
          bare: { mediaType: 'application/json', bytes: schema1 },
        },
      }),
    );
    const client = newClient(t);
    await rejectsWith(
      client.getManifest(refTo(reg), 'old', {}),
      'FailedPrecondition',
      /^pulling 127\.0\.0\.1:\d+\/library\/app:latest: schema 1 manifests are not supported/,
    );
    await rejectsWith(client.getManifest(refTo(reg), 'bare', {}), 'FailedPrecondition', /schema 1 manifests are not supported/);
  });

  it('reports a missing manifest as NotFound, quoting the registry', async (t) => {
    const reg = await serve(t, registry({ image: makeImage() }));
    const client = newClient(t);
    const ref = parseReference(`${reg.host}/${REPO}:nope`);
    await rejectsWith(
      client.getManifest(ref, 'nope', {}),
      'NotFound',
      new RegExp(
        `^pulling ${reg.host}/library/app:nope: ${reg.host}: manifest nope: not found: 404 not found: MANIFEST_UNKNOWN: manifest unknown$`,
      ),
    );
    await rejectsWith(client.getBlob(ref, `sha256:${'0'.repeat(64)}`, {}), 'NotFound', /BLOB_UNKNOWN: blob unknown to registry/);
    await rejectsWith(client.getManifest(ref, 'bad tag', {}), 'InvalidArgument', /invalid tag/);
    await rejectsWith(client.getBlob(ref, 'sha256:short', {}), 'InvalidArgument', /invalid digest/);
  });

  it('reports an unreachable registry as Unavailable', async (t) => {
    const port = await closedPort();
    const client = newClient(t);
    await rejectsWith(client.getManifest(refTo(`127.0.0.1:${port}`), 'v1', {}), 'Unavailable', /cannot connect: .*ECONNREFUSED/);
  });

  it('fetches a bearer token for the repository scope once, reuses it, and shares concurrent fetches', async (t) => {
    const image = makeImage();
    const b = bearerRegistry(image, (_req, _res, token) => ({ token, expires_in: 300 }));
    const reg = await serve(t, b.handler);
    const client = newClient(t);
    const ref = refTo(reg);
    await client.getManifest(ref, 'v1', {});
    await client.getManifest(ref, image.digest, {});
    await readAll((await client.getBlob(ref, image.layerDigest, {})).body);
    assert.equal(b.tokenRequests.length, 1);
    const tokenReq = b.tokenRequests[0] as Seen;
    assert.equal(tokenReq.method, 'GET');
    assert.equal(tokenReq.query.get('service'), 'fake-registry');
    assert.deepEqual(tokenReq.query.getAll('scope'), [`repository:${REPO}:pull`]);
    assert.equal(tokenReq.headers['authorization'], undefined, 'anonymous token request');
    // Only the very first request went out unauthorized; the rest carried the cached token.
    assert.equal(refusals(reg), 1);
    assert.ok(
      reg.seen
        .filter(registryPath)
        .slice(1)
        .every((r) => r.headers['authorization'] === 'Bearer tok-1'),
    );

    const fresh = newClient(t);
    await Promise.all([1, 2, 3].map(async () => readAll((await fresh.getBlob(ref, image.layerDigest, {})).body)));
    assert.equal(b.tokenRequests.length, 2, 'three concurrent requests share one token fetch');
  });

  it('sends username and password to the token service, and reports refused credentials as unauthorized', async (t) => {
    const image = makeImage();
    const b = bearerRegistry(image, (req, res, token) => {
      if (req.headers['authorization'] !== basic('alice', 's3cret')) {
        sendError(res, 401, 'UNAUTHORIZED', 'incorrect username or password');
        return undefined;
      }
      return { token };
    });
    const reg = await serve(t, b.handler);
    const ref = refTo(reg);
    await newClient(t).getManifest(ref, 'v1', { credentials: { username: 'alice', password: 's3cret', serverAddress: reg.host } });
    assert.equal(b.tokenRequests[0]?.headers['authorization'], basic('alice', 's3cret'));
    const auth = Buffer.from('alice:s3cret').toString('base64');
    await newClient(t).getManifest(ref, 'v1', { credentials: { auth } });
    await rejectsWith(
      newClient(t).getManifest(ref, 'v1', { credentials: { username: 'alice', password: 'wrong' } }),
      'FailedPrecondition',
      new RegExp(
        `^pulling ${reg.host}/library/app:latest: ${reg.host}: authentication to ${reg.host} failed: 401 unauthorized: UNAUTHORIZED: incorrect username or password$`,
      ),
    );
  });

  it('exchanges an identity token with an OAuth2 refresh_token POST', async (t) => {
    const image = makeImage();
    const b = bearerRegistry(image, (req, res, token) => {
      if (req.method !== 'POST') {
        sendError(res, 405, 'UNSUPPORTED', 'POST only');
        return undefined;
      }
      return { access_token: token, expires_in: 300, refresh_token: 'next' };
    });
    const reg = await serve(t, b.handler);
    const got = await newClient(t).getManifest(refTo(reg), 'v1', { credentials: { identityToken: 'refresh-me' } });
    assert.equal(got.digest, image.digest);
    const req = b.tokenRequests[0] as Seen;
    assert.equal(req.headers['content-type'], 'application/x-www-form-urlencoded');
    assert.equal(req.headers['authorization'], undefined);
    const form = new URLSearchParams(req.body);
    assert.deepEqual(Object.fromEntries(form), {
      grant_type: 'refresh_token',
      refresh_token: 'refresh-me',
      client_id: 'skiff',
      service: 'fake-registry',
      scope: `repository:${REPO}:pull`,
    });
  });

  it('honours expires_in and issued_at of tokens', async (t) => {
    const image = makeImage();
    const short = bearerRegistry(image, (_req, _res, token) => ({ token, expires_in: 1 }));
    const reg = await serve(t, short.handler);
    const client = newClient(t);
    await client.getManifest(refTo(reg), 'v1', {});
    await client.getManifest(refTo(reg), 'v1', {});
    assert.equal(short.tokenRequests.length, 1);
    await new Promise((resolve) => setTimeout(resolve, 1100));
    await client.getManifest(refTo(reg), 'v1', {});
    assert.equal(short.tokenRequests.length, 2, 'an expired token is replaced');
    assert.equal(refusals(reg), 1, 'the expired token was replaced before use, not after a refusal');

    const old = bearerRegistry(image, (_req, _res, token) => ({
      token,
      expires_in: 60,
      issued_at: new Date(Date.now() - 3_600_000).toISOString(),
    }));
    const reg2 = await serve(t, old.handler);
    await client.getManifest(refTo(reg2), 'v1', {});
    await client.getManifest(refTo(reg2), 'v1', {});
    assert.equal(old.tokenRequests.length, 2, 'a token issued an hour ago for 60 s is not cached');
  });

  it('never reuses a token earned with credentials for a pull without them', async (t) => {
    const image = makeImage();
    const b = bearerRegistry(image, (_req, _res, token) => ({ token, expires_in: 300 }));
    const reg = await serve(t, b.handler);
    const client = newClient(t);
    const alice = { username: 'alice', password: 'pw' };
    await client.getManifest(refTo(reg), 'v1', { credentials: alice });
    await client.getManifest(refTo(reg), 'v1', {});
    await client.getManifest(refTo(reg), 'v1', { credentials: { username: 'bob', password: 'pw' } });
    await client.getManifest(refTo(reg), 'v1', { credentials: alice });
    assert.equal(b.tokenRequests.length, 3);
  });

  it('uses a CRI registry token as the bearer token directly', async (t) => {
    const image = makeImage();
    const reg = await serve(
      t,
      registry({
        image,
        authorize: (req) => req.headers['authorization'] === 'Bearer rt-123',
        challenge: 'Bearer realm="http://127.0.0.1:1/token"',
      }),
    );
    const client = newClient(t);
    await client.getManifest(refTo(reg), 'v1', { credentials: { registryToken: 'rt-123' } });
    await readAll((await client.getBlob(refTo(reg), image.layerDigest, { credentials: { registryToken: 'rt-123' } })).body);
    assert.ok(reg.seen.every((r) => r.headers['authorization'] === 'Bearer rt-123'));
    await rejectsWith(
      client.getManifest(refTo(reg), 'v1', { credentials: { registryToken: 'stale' } }),
      'FailedPrecondition',
      /401 unauthorized: UNAUTHORIZED: authentication required/,
    );
  });

  it('answers Basic challenges, and reports bad or missing credentials as unauthorized', async (t) => {
    const image = makeImage();
    const reg = await serve(
      t,
      registry({ image, authorize: (req) => req.headers['authorization'] === basic('bob', 'pw'), challenge: 'Basic realm="fake"' }),
    );
    const client = newClient(t);
    const credentials = { username: 'bob', password: 'pw' };
    await client.getManifest(refTo(reg), 'v1', { credentials });
    await readAll((await client.getBlob(refTo(reg), image.layerDigest, { credentials })).body);
    assert.equal(refusals(reg), 1, 'after the first challenge, Basic credentials are sent up front');
    const unauthorized = new RegExp(`authentication to ${reg.host} failed: 401 unauthorized: UNAUTHORIZED: authentication required`);
    await rejectsWith(
      newClient(t).getManifest(refTo(reg), 'v1', { credentials: { username: 'bob', password: 'nope' } }),
      'FailedPrecondition',
      unauthorized,
    );
    await rejectsWith(newClient(t).getManifest(refTo(reg), 'v1', {}), 'FailedPrecondition', unauthorized);
  });

  it('follows blob redirects, dropping Authorization once they leave the registry origin', async (t) => {
    const image = makeImage();
    const store = await serve(t, blobStore(image));
    const credentials = { username: 'bob', password: 'pw' };
    const authorize = (req: Seen): boolean => req.headers['authorization'] === basic('bob', 'pw');
    // `localhost` and `127.0.0.1` are different origins for the same listening socket.
    const reg = await serve(
      t,
      registry({ image, authorize, challenge: 'Basic realm="fake"', blobRedirect: `http://localhost:${store.port}/storage` }),
    );
    const blob = await newClient(t).getBlob(refTo(reg), image.layerDigest, { credentials });
    assert.ok((await readAll(blob.body)).equals(image.layer));
    assert.equal(blob.size, image.layer.length);
    assert.equal(store.seen.length, 1);
    assert.equal(store.seen[0]?.headers['authorization'], undefined, 'no credentials for the storage host');
    assert.equal(store.seen[0]?.headers['host'], `localhost:${store.port}`);
    assert.equal(store.seen[0]?.query.get('X-Signature'), 'abc');
    assert.equal(reg.seen.at(-1)?.headers['authorization'], basic('bob', 'pw'), 'the registry itself did get them');

    // A redirect within the registry's own origin keeps them.
    const same = await serve(
      t,
      registry({
        image,
        authorize,
        challenge: 'Basic realm="fake"',
        blobRedirect: (req) => `http://${req.headers.host ?? ''}/internal`,
        extra: (req, res) => {
          if (!req.path.startsWith('/internal/')) return false;
          if (!authorize(req)) sendError(res, 403, 'DENIED', 'no credentials on internal redirect');
          else blobStore(image)(req, res);
          return true;
        },
      }),
    );
    assert.ok((await readAll((await newClient(t).getBlob(refTo(same), image.layerDigest, { credentials })).body)).equals(image.layer));

    const loop = await serve(t, (_req, res) => void res.writeHead(302, { location: '/again' }).end());
    await rejectsWith(newClient(t).getBlob(refTo(loop), image.layerDigest, {}), 'Unavailable', /too many redirects \(more than 5\)/);
    assert.equal(loop.seen.length, 6);
  });

  it('tries mirrors in order, falling back on 404 and 500, before the upstream', async (t) => {
    const image = makeImage();
    const up = await serve(t, registry({ image }));
    const m404 = await serve(t, registry({}));
    const m500 = await serve(t, registry({ status: 500 }));
    const good = await serve(t, registry({ image }));
    const dir = tempDir(t);
    writeHosts(dir, up.host, `[host."${m404.origin}"]\n[host."${m500.origin}"]\n[host."${good.origin}"]\n`);
    const client = newClient(t, dir);
    const got = await client.getManifest(refTo(up), 'v1', {});
    assert.equal(got.endpoint, `${good.origin}/v2`);
    assert.equal(got.digest, image.digest);
    assert.deepEqual([m404.seen.length, m500.seen.length, good.seen.length, up.seen.length], [1, 1, 1, 0]);
    assert.equal(good.seen[0]?.query.get('ns'), up.host, 'mirrors are told which registry is meant');
    const blob = await client.getBlob(refTo(up), image.layerDigest, { preferEndpoint: got.endpoint });
    assert.equal(blob.endpoint, got.endpoint);
    assert.ok((await readAll(blob.body)).equals(image.layer));
    assert.deepEqual([m404.seen.length, m500.seen.length, up.seen.length], [1, 1, 0], 'the preferred endpoint went first');
  });

  it('resolves tags only on endpoints with the resolve capability', async (t) => {
    const image = makeImage();
    const up = await serve(t, registry({ image }));
    const mirror = await serve(t, registry({ image }));
    const dir = tempDir(t);
    writeHosts(dir, up.host, `[host."${mirror.origin}"]\ncapabilities = ["pull"]\n`);
    const client = newClient(t, dir);
    assert.equal((await client.getManifest(refTo(up), 'v1', {})).endpoint, `${up.origin}/v2`);
    assert.equal(mirror.seen.length, 0);
    assert.equal((await client.getManifest(refTo(up), image.digest, {})).endpoint, `${mirror.origin}/v2`);
    const fromMirror = await client.getBlob(refTo(up), image.layerDigest, {});
    assert.equal(fromMirror.endpoint, `${mirror.origin}/v2`);
    fromMirror.body.destroy();
    const preferred = await client.getBlob(refTo(up), image.layerDigest, { preferEndpoint: `${up.origin}/v2` });
    assert.equal(preferred.endpoint, `${up.origin}/v2`);
    preferred.body.destroy();

    writeHosts(dir, up.host, `capabilities = ["pull"]\n[host."${mirror.origin}"]\ncapabilities = ["pull"]\n`);
    await rejectsWith(
      client.getManifest(refTo(up), 'v1', {}),
      'FailedPrecondition',
      /no endpoint for 127\.0\.0\.1:\d+ has the "resolve" capability/,
    );
  });

  it('gives credentials to a mirror only when serverAddress names it', async (t) => {
    const image = makeImage();
    const authorize = (req: Seen): boolean => req.headers['authorization'] === basic('u', 'p');
    const up = await serve(t, registry({ image, authorize, challenge: 'Basic realm="up"' }));
    const mirror = await serve(t, registry({ image, authorize, challenge: 'Basic realm="mirror"' }));
    const dir = tempDir(t);
    writeHosts(dir, up.host, `[host."${mirror.origin}"]\n`);
    const forUpstream = { username: 'u', password: 'p', serverAddress: up.host };
    assert.equal((await newClient(t, dir).getManifest(refTo(up), 'v1', { credentials: forUpstream })).endpoint, `${up.origin}/v2`);
    assert.ok(mirror.seen.length > 0 && mirror.seen.every((r) => r.headers['authorization'] === undefined));
    const forMirror = { username: 'u', password: 'p', serverAddress: `http://${mirror.host}` };
    assert.equal((await newClient(t, dir).getManifest(refTo(up), 'v1', { credentials: forMirror })).endpoint, `${mirror.origin}/v2`);
  });

  it('when every endpoint fails, names each failure and takes the kind of the last', async (t) => {
    const up = await serve(t, registry({}));
    const m500 = await serve(t, registry({ status: 500 }));
    const dir = tempDir(t);
    writeHosts(dir, up.host, `[host."${m500.origin}"]\n`);
    const client = newClient(t, dir);
    const err = await rejectsWith(client.getManifest(refTo(up), 'v1', {}), 'NotFound', /MANIFEST_UNKNOWN/);
    assert.equal(
      err.message,
      `pulling ${up.host}/library/app:latest: mirror ${m500.host}: manifest v1: 500 internal server error: UNAVAILABLE: status 500 from test; ` +
        `${up.host}: manifest v1: not found: 404 not found: MANIFEST_UNKNOWN: manifest unknown`,
    );

    const port = await closedPort();
    writeHosts(dir, up.host, `server = "http://127.0.0.1:${port}"\n[host."${up.origin}"]\n`);
    await rejectsWith(
      client.getManifest(refTo(up), 'v1', {}),
      'Unavailable',
      /MANIFEST_UNKNOWN.*; 127\.0\.0\.1:\d+: manifest v1: cannot connect: .*ECONNREFUSED/,
    );
  });

  it('stops at once when cancelled, and tells a deadline from a cancellation', async (t) => {
    const hang = await serve(t, () => undefined);
    const client = newClient(t);
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 50);
    await rejectsWith(client.getManifest(refTo(hang), 'v1', { signal: ac.signal }), 'Cancelled', /: cancelled$/);
    await rejectsWith(
      client.getBlob(refTo(hang), `sha256:${'1'.repeat(64)}`, { signal: AbortSignal.timeout(50) }),
      'DeadlineExceeded',
      /deadline exceeded/,
    );
    await rejectsWith(client.getManifest(refTo(hang), 'v1', { signal: AbortSignal.abort() }), 'Cancelled', /cancelled/);
  });

  it(
    'verifies TLS unless skip_verify, and trusts a configured CA',
    { skip: hasOpenssl() ? false : 'openssl is not installed' },
    async (t) => {
      const dir = tempDir(t);
      const key = path.join(dir, 'key.pem');
      const cert = path.join(dir, 'cert.pem');
      execFileSync(
        'openssl',
        [
          'req',
          '-x509',
          '-newkey',
          'ec',
          '-pkeyopt',
          'ec_paramgen_curve:prime256v1',
          '-nodes',
          '-keyout',
          key,
          '-out',
          cert,
          '-days',
          '2',
          '-subj',
          '/CN=127.0.0.1',
          '-addext',
          'subjectAltName=IP:127.0.0.1',
        ],
        { stdio: 'ignore' },
      );
      const image = makeImage();
      const reg = await serve(t, registry({ image }), { key: readFileSync(key, 'utf8'), cert: readFileSync(cert, 'utf8') });
      const hostsDir = path.join(dir, 'hosts');
      const client = newClient(t, hostsDir);
      writeHosts(hostsDir, reg.host, `server = "https://${reg.host}"\n`);
      await rejectsWith(client.getManifest(refTo(reg), 'v1', {}), 'Unavailable', /cannot connect: .*(self[- ]signed|certificate)/i);
      writeHosts(hostsDir, reg.host, `server = "https://${reg.host}"\nskip_verify = true\n`);
      assert.equal((await client.getManifest(refTo(reg), 'v1', {})).endpoint, `https://${reg.host}/v2`);
      writeHosts(hostsDir, reg.host, `server = "https://${reg.host}"\nca = "../../cert.pem"\n`);
      assert.equal((await client.getManifest(refTo(reg), 'v1', {})).digest, image.digest);
      writeHosts(hostsDir, reg.host, `server = "https://${reg.host}"\nca = "/nonexistent/ca.pem"\n`);
      await rejectsWith(
        client.getManifest(refTo(reg), 'v1', {}),
        'FailedPrecondition',
        /registry CA file \/nonexistent\/ca\.pem: cannot read/,
      );
    },
  );
});

function hasOpenssl(): boolean {
  try {
    execFileSync('openssl', ['version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}
