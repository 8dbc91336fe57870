// The images critest's specs ask for, built here from Debian's busybox and
// pushed to the test registry under the upstream names (registry.k8s.io and
// gcr.io are mirrored to it with hosts.toml). Web servers are busybox httpd
// answering 200 at `/`, which is all the specs check.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';

import { buildImage, fullBusyboxEntries, type ImageOptions, layer, pauseImage, pushImage } from './images.js';
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

const image = (extra: TarEntry[], opts: ImageOptions, etc?: { passwd: string; group: string }) =>
  buildImage(
    [
      layer(fullBusyboxEntries([...STAND_INS, ...extra])),
      // The image's own users, as a layer over the base's /etc files.
      ...(etc
        ? [
            layer([
              { type: 'dir', name: 'etc/' },
              { type: 'file', name: 'etc/passwd', data: `root:x:0:0:root:/root:/bin/sh\n${etc.passwd}` },
              { type: 'file', name: 'etc/group', data: `root:x:0:\n${etc.group}` },
            ]),
          ]
        : []),
    ],
    { env: ['PATH=/bin'], ...opts },
  );

/**
 * nginx as the PID-namespace specs see it: a process named nginx whose
 * command line says "master process", writing /var/run/nginx.pid, serving /
 * with busybox httpd.
 */
const NGINX: TarEntry[] = [
  { type: 'dir', name: 'usr/' },
  { type: 'dir', name: 'usr/sbin/' },
  {
    type: 'file',
    name: 'usr/sbin/nginx',
    mode: 0o755,
    data: '#!/bin/sh\nmkdir -p /var/run\necho $$ > /var/run/nginx.pid\nhttpd -f -p 80 -h /www &\nwait\n',
  },
];

const WWW_DATA = { passwd: 'www-data:x:33:33:www-data:/var/www:/bin/sh\n', group: 'www-data:x:33:\n' };

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
    image([...webRoot('nginx stand-in'), ...NGINX], { cmd: ['/usr/sbin/nginx', '-g', 'daemon off; master process'] }),
  );
  await pushImage(
    registryUrl,
    'e2e-test-images/httpd',
    '2.4.39-4',
    // The multi-container spec looks for "httpd" in its log.
    image(webRoot('httpd stand-in'), { cmd: ['sh', '-c', 'echo "httpd stand-in serving :80"; exec httpd -f -p 80 -h /www'] }),
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
  await pushStagingImages(registryUrl);
  // A process named "pause", as the real one: specs grep for "sleep" in pods that share its PID namespace.
  await pushImage(registryUrl, 'pause', '3.10', pauseImage());
}

/** gcr.io/k8s-staging-cri-tools/test-image-*: the Image Manager and user specs' images. */
async function pushStagingImages(registryUrl: string): Promise<void> {
  const repo = (name: string) => `k8s-staging-cri-tools/${name}`;
  // Each its own image (a file naming it), so that no spec sees another's tags on its image id;
  // test-image-tags:1..3 are one image under three tags, as the spec wants.
  const named = (name: string) => image([{ type: 'file', name: 'image-name', data: `${name}\n` }], {});
  for (const [name, tag] of [
    ['test-image-tag', 'test'],
    ['test-image-tag', 'all'],
    ['test-image-latest', 'latest'],
  ] as const)
    await pushImage(registryUrl, repo(name), tag, named(`${name}:${tag}`));
  const tags = named('test-image-tags');
  for (const tag of ['1', '2', '3']) await pushImage(registryUrl, repo('test-image-tags'), tag, tags);
  // Different images: each with a file of its own.
  for (const n of [1, 2, 3])
    await pushImage(registryUrl, repo(`test-image-${n}`), 'latest', image([{ type: 'file', name: `image-${n}`, data: `${n}\n` }], {}));
  await pushImage(registryUrl, repo('test-image-user-uid'), 'latest', image([], { user: '1002' }));
  await pushImage(registryUrl, repo('test-image-user-uid-group'), 'latest', image([], { user: '1003:1003' }));
  await pushImage(registryUrl, repo('test-image-user-username'), 'latest', image([], { user: 'www-data' }, WWW_DATA));
  await pushImage(registryUrl, repo('test-image-user-username-group'), 'latest', image([], { user: 'www-data:www-data' }, WWW_DATA));
  // default-user (1000) is a member of group-defined-in-image (50000) in /etc/group.
  await pushImage(
    registryUrl,
    repo('test-image-predefined-group'),
    'latest',
    image(
      [],
      { user: 'default-user' },
      {
        passwd: 'default-user:x:1000:1000:default-user:/home/default-user:/bin/sh\n',
        group: 'default-user:x:1000:\ngroup-defined-in-image:x:50000:default-user\n',
      },
    ),
  );
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
