// The images critest's specs ask for, built here from Debian's busybox and
// pushed to the test registry under the upstream names (registry.k8s.io and
// gcr.io are mirrored to it with hosts.toml). Web servers are busybox httpd
// answering 200 at `/`, which is all the specs check.
import { execFileSync } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { buildImage, busyboxEntries, type ImageOptions, layer, pushImage } from './images.js';
import type { TarEntry } from './tar-writer.js';

/** Every applet the host's busybox has, linked in /bin (critest runs `top`, `nslookup`, … by name). */
function fullBusyboxEntries(extra: TarEntry[] = []): TarEntry[] {
  const base = busyboxEntries();
  const have = new Set(base.map((e) => e.name));
  const applets = execFileSync('/bin/busybox', ['--list'], { encoding: 'utf8' }).split('\n').filter(Boolean);
  const links = applets
    .filter((a) => !have.has(`bin/${a}`) && /^[a-z0-9_.[-]+$/.test(a))
    .map((a): TarEntry => ({ type: 'hardlink', name: `bin/${a}`, target: 'bin/busybox', mode: 0o755 }));
  return [...base, ...links, ...extra];
}

const image = (extra: TarEntry[], opts: ImageOptions) => buildImage([layer(fullBusyboxEntries(extra))], { env: ['PATH=/bin'], ...opts });

const webRoot = (page: string): TarEntry[] => [
  { type: 'dir', name: 'www/' },
  { type: 'file', name: 'www/index.html', data: `<html><body>${page}</body></html>\n` },
];

/** The upstream names, as critest v1.32 spells them, under the registry's own repositories. */
export async function pushCritestImages(registryUrl: string): Promise<void> {
  const busybox = image([], {});
  await pushImage(registryUrl, 'e2e-test-images/busybox', '1.29-2', busybox);
  await pushImage(
    registryUrl,
    'e2e-test-images/nginx',
    '1.14-2',
    image(webRoot('nginx stand-in'), { cmd: ['httpd', '-f', '-p', '80', '-h', '/www'] }),
  );
  await pushImage(
    registryUrl,
    'e2e-test-images/httpd',
    '2.4.39-4',
    image(webRoot('httpd stand-in'), { cmd: ['httpd', '-f', '-p', '80', '-h', '/www'] }),
  );
  // Host network: the port the spec expects, on loopback only.
  await pushImage(
    registryUrl,
    'k8s-staging-cri-tools/hostnet-nginx-amd64',
    'latest',
    image(webRoot('hostnet stand-in'), { cmd: ['httpd', '-f', '-p', '127.0.0.1:12003', '-h', '/www'] }),
  );
  await pushImage(registryUrl, 'pause', '3.10', image([], { entrypoint: ['/bin/sleep'], cmd: ['inf'] }));
}

/** hosts.toml files sending registry.k8s.io and gcr.io pulls to the test registry. */
export async function mirrorUpstreams(registryConfigDir: string, registryHost: string): Promise<void> {
  for (const upstream of ['registry.k8s.io', 'gcr.io']) {
    await mkdir(path.join(registryConfigDir, upstream), { recursive: true });
    await writeFile(
      path.join(registryConfigDir, upstream, 'hosts.toml'),
      `server = "https://${upstream}"\n\n[host."http://${registryHost}"]\ncapabilities = ["pull", "resolve"]\n`,
    );
  }
}
