// The images critest's specs ask for, built here from Debian's busybox and
// pushed to the test registry under the upstream names (registry.k8s.io and
// gcr.io are mirrored to it with hosts.toml). Web servers are busybox httpd
// answering 200 at `/`, which is all the specs check.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { buildImage, fullBusyboxEntries, type ImageOptions, layer, pushImage } from './images.js';
import { euidProbe } from './static-programs.js';
import type { TarEntry } from './tar-writer.js';

/** Shell stand-ins for the procps tools critest's specs call and busybox (as Debian builds it) lacks. */
const STAND_INS: TarEntry[] = [
  {
    type: 'file',
    name: 'bin/pgrep',
    mode: 0o755,
    data: '#!/bin/sh\n# pgrep NAME: the pids whose command is NAME\nfound=1\nfor d in /proc/[0-9]*; do\n  [ "$(cat "$d/comm" 2>/dev/null)" = "$1" ] && { echo "${d#/proc/}"; found=0; }\ndone\nexit $found\n',
  },
  {
    type: 'file',
    name: 'bin/ipcs',
    mode: 0o755,
    data: '#!/bin/sh\n# ipcs -m: the shared memory segments of this IPC namespace (shmid, owner, size)\necho "shmid owner bytes"\nawk \'NR > 1 { print $2, $8, $4 }\' /proc/sysvipc/shm\n',
  },
];

const image = (extra: TarEntry[], opts: ImageOptions) =>
  buildImage([layer(fullBusyboxEntries([...STAND_INS, ...extra]))], { env: ['PATH=/bin'], ...opts });

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
  // A setuid-root program printing its effective uid (the upstream image's test).
  await pushImage(
    registryUrl,
    'e2e-test-images/nonewprivs',
    '1.3',
    image(
      [
        { type: 'dir', name: 'usr/' },
        { type: 'dir', name: 'usr/local/' },
        { type: 'dir', name: 'usr/local/bin/' },
        { type: 'file', name: 'usr/local/bin/nnp', mode: 0o4755, uid: 0, gid: 0, data: euidProbe() },
      ],
      { cmd: ['/usr/local/bin/nnp'] },
    ),
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
