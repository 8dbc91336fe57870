// Builds test images from busybox-static and pushes them with the registry HTTP API.
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';

import { gzipLayer, sha256, type TarEntry } from './tar-writer.js';

export interface BuiltLayer {
  blob: Buffer;
  digest: string;
  diffId: string;
  mediaType: string;
}

export interface BuiltImage {
  layers: BuiltLayer[];
  config: Buffer;
  configDigest: string;
  manifest: Buffer;
  manifestDigest: string;
  manifestMediaType: string;
}

const BUSYBOX_APPLETS = [
  'sh',
  'ls',
  'cat',
  'echo',
  'sleep',
  'id',
  'dd',
  'true',
  'false',
  'env',
  'pwd',
  'whoami',
  'head',
  'touch',
  'mkdir',
  'rm',
  'stat',
  'wc',
  'test',
  'ps',
  'kill',
  'grep',
  'hostname',
  'mount',
  'nc',
];

export function layer(entries: TarEntry[], mediaType = 'application/vnd.oci.image.layer.v1.tar+gzip'): BuiltLayer {
  return { ...gzipLayer(entries), mediaType };
}

/** The entries of a minimal busybox root filesystem. */
export function busyboxEntries(): TarEntry[] {
  const busybox = readFileSync('/bin/busybox');
  return [
    { type: 'dir', name: 'bin/' },
    { type: 'file', name: 'bin/busybox', data: busybox, mode: 0o755 },
    // Hard links carry the file's mode, as real tar writers do (some unpackers apply it).
    ...BUSYBOX_APPLETS.map((a): TarEntry => ({ type: 'hardlink', name: `bin/${a}`, target: 'bin/busybox', mode: 0o755 })),
    { type: 'dir', name: 'etc/' },
    {
      type: 'file',
      name: 'etc/passwd',
      data: 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\napp:x:1000:1000:app:/home/app:/bin/sh\n',
    },
    { type: 'file', name: 'etc/group', data: 'root:x:0:\nnogroup:x:65534:\napp:x:1000:\nextra:x:2000:app\n' },
    { type: 'dir', name: 'tmp/', mode: 0o1777 },
    { type: 'dir', name: 'root/', mode: 0o700 },
  ];
}

export interface ImageOptions {
  user?: string;
  env?: string[];
  entrypoint?: string[];
  cmd?: string[];
  workingDir?: string;
  architecture?: string;
  docker?: boolean;
}

/** An image manifest + config for the layers. */
export function buildImage(layers: BuiltLayer[], opts: ImageOptions = {}): BuiltImage {
  const config = Buffer.from(
    JSON.stringify({
      architecture: opts.architecture ?? 'amd64',
      os: 'linux',
      created: '2026-01-01T00:00:00Z',
      config: {
        Env: opts.env ?? ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'],
        ...(opts.user !== undefined ? { User: opts.user } : {}),
        ...(opts.entrypoint ? { Entrypoint: opts.entrypoint } : {}),
        Cmd: opts.cmd ?? ['sh'],
        ...(opts.workingDir ? { WorkingDir: opts.workingDir } : {}),
      },
      rootfs: { type: 'layers', diff_ids: layers.map((l) => l.diffId) },
    }),
  );
  const docker = opts.docker ?? false;
  const manifestMediaType = docker ? 'application/vnd.docker.distribution.manifest.v2+json' : 'application/vnd.oci.image.manifest.v1+json';
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: manifestMediaType,
      config: {
        mediaType: docker ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json',
        digest: sha256(config),
        size: config.length,
      },
      layers: layers.map((l) => ({
        mediaType: docker ? 'application/vnd.docker.image.rootfs.diff.tar.gzip' : l.mediaType,
        digest: l.digest,
        size: l.blob.length,
      })),
    }),
  );
  return { layers, config, configDigest: sha256(config), manifest, manifestDigest: sha256(manifest), manifestMediaType };
}

/** Every applet the host's busybox has, linked in /bin (critest runs `top`, `nslookup`, … by name). */
export function fullBusyboxEntries(extra: TarEntry[] = []): TarEntry[] {
  const base = busyboxEntries();
  const have = new Set(base.map((e) => e.name));
  const applets = execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  const links = applets
    .filter((a) => !have.has(`bin/${a}`) && /^[a-z0-9_.[-]+$/.test(a))
    .map((a): TarEntry => ({ type: 'hardlink', name: `bin/${a}`, target: 'bin/busybox', mode: 0o755 }));
  return [...base, ...links, ...extra];
}

export function busyboxImage(opts: ImageOptions = {}): BuiltImage {
  return buildImage([layer(busyboxEntries())], opts);
}

async function check(res: Response, what: string): Promise<void> {
  if (!res.ok) throw new Error(`${what}: ${res.status} ${await res.text()}`);
}

/** Pushes one blob with the monolithic upload flow (skipped when already there). */
export async function pushBlob(base: string, repo: string, data: Buffer, headers: Record<string, string> = {}): Promise<string> {
  const digest = sha256(data);
  const head = await fetch(`${base}/v2/${repo}/blobs/${digest}`, { method: 'HEAD', headers });
  if (head.ok) return digest;
  const start = await fetch(`${base}/v2/${repo}/blobs/uploads/`, { method: 'POST', headers });
  await check(start, `start upload to ${repo}`);
  const location = new URL(start.headers.get('location')!, base);
  location.searchParams.set('digest', digest);
  const put = await fetch(location, {
    method: 'PUT',
    headers: { ...headers, 'content-type': 'application/octet-stream' },
    body: new Uint8Array(data),
  });
  await check(put, `upload ${digest}`);
  return digest;
}

export async function pushManifest(
  base: string,
  repo: string,
  reference: string,
  body: Buffer,
  mediaType: string,
  headers: Record<string, string> = {},
): Promise<string> {
  const res = await fetch(`${base}/v2/${repo}/manifests/${reference}`, {
    method: 'PUT',
    headers: { ...headers, 'content-type': mediaType },
    body: new Uint8Array(body),
  });
  await check(res, `push manifest ${repo}:${reference}`);
  return sha256(body);
}

/** Pushes layers, config and manifest; returns the manifest digest. */
export async function pushImage(
  base: string,
  repo: string,
  tag: string,
  image: BuiltImage,
  headers: Record<string, string> = {},
): Promise<string> {
  for (const l of image.layers) await pushBlob(base, repo, l.blob, headers);
  await pushBlob(base, repo, image.config, headers);
  return pushManifest(base, repo, tag, image.manifest, image.manifestMediaType, headers);
}

/** Pushes an OCI index over the given per-platform images (plus an attestation-like entry). */
export async function pushIndex(
  base: string,
  repo: string,
  tag: string,
  entries: { image: BuiltImage; platform: { os: string; architecture: string; variant?: string } }[],
  headers: Record<string, string> = {},
): Promise<{ indexDigest: string }> {
  const manifests = [];
  for (const e of entries) {
    const digest = await pushImage(base, repo, e.image.manifestDigest, e.image, headers);
    manifests.push({ mediaType: e.image.manifestMediaType, digest, size: e.image.manifest.length, platform: e.platform });
  }
  const index = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: 'application/vnd.oci.image.index.v1+json', manifests }));
  return { indexDigest: await pushManifest(base, repo, tag, index, 'application/vnd.oci.image.index.v1+json', headers) };
}

/** A pause image: catatonit (static) as /pause, the way kubelet's pause image behaves. */
export function pauseImage(): BuiltImage {
  const pause = readFileSync('/usr/bin/catatonit');
  return buildImage([layer([{ type: 'file', name: 'pause', data: pause, mode: 0o755 }])], {
    entrypoint: ['/pause', '-P'],
    cmd: [],
    env: [],
  });
}
