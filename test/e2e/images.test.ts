import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import * as grpc from '@grpc/grpc-js';

import { TestDaemon } from '../support/daemon.js';
import { buildImage, busyboxEntries, busyboxImage, layer, pushImage, pushIndex } from '../support/images.js';
import { TestRegistry } from '../support/registry.js';
import { RegistryProxy } from '../support/registry-proxy.js';

interface Image {
  id: string;
  repoTags: string[];
  repoDigests: string[];
  size: string;
  uid: { value: string } | null;
  username: string;
  pinned: boolean;
}

const grpcError = (code: grpc.status, pattern: RegExp) => (err: grpc.ServiceError) => {
  assert.equal(err.code, code, `code ${err.code}: ${err.details}`);
  assert.match(err.details, pattern);
  return true;
};

async function listDir(dir: string): Promise<string[]> {
  return fs.readdir(dir).catch(() => []);
}

describe('ImageService against a real registry', () => {
  let registry: TestRegistry;
  let d: TestDaemon;
  let host: string;
  const busybox = busyboxImage();
  let busyboxDigest: string;

  const pull = (image: string, extra: object = {}, timeoutMs?: number) =>
    d.img<{ imageRef: string }>('PullImage', { image: { image }, ...extra }, timeoutMs);
  const status = (image: string, verbose = false) =>
    d.img<{ image: Image | null; info: Record<string, string> }>('ImageStatus', { image: { image }, verbose });
  const list = async (filter?: string) =>
    (await d.img<{ images: Image[] }>('ListImages', filter ? { filter: { image: { image: filter } } } : {})).images;
  const remove = (image: string) => d.img('RemoveImage', { image: { image } });

  before(async () => {
    registry = await TestRegistry.start();
    host = registry.host;
    busyboxDigest = await pushImage(registry.url, 'test/busybox', '1.0', busybox);
    d = await TestDaemon.start();
  });
  after(async () => {
    await d?.destroy();
    await registry?.stop();
  });

  it('pulls by tag and finds the image by tag, id, short id and repo digest', async () => {
    const ref = `${host}/test/busybox:1.0`;
    const res = await pull(ref);
    assert.equal(res.imageRef, busybox.configDigest);
    const byTag = (await status(ref)).image!;
    assert.equal(byTag.id, busybox.configDigest);
    assert.deepEqual(byTag.repoTags, [ref]);
    assert.deepEqual(byTag.repoDigests, [`${host}/test/busybox@${busyboxDigest}`]);
    const expectedSize = busybox.config.length + busybox.layers.reduce((n, l) => n + l.blob.length, 0);
    assert.equal(Number(byTag.size), expectedSize);
    assert.equal(byTag.pinned, false);
    assert.equal((await status(busybox.configDigest)).image?.id, byTag.id);
    assert.equal((await status(busybox.configDigest.slice(7, 19))).image?.id, byTag.id);
    assert.equal((await status(`${host}/test/busybox@${busyboxDigest}`)).image?.id, byTag.id);
    assert.ok((await list()).some((i) => i.id === byTag.id));
    assert.deepEqual(
      (await list(ref)).map((i) => i.id),
      [byTag.id],
    );
    const verbose = await status(ref, true);
    const info = JSON.parse(verbose.info['info']!) as { imageSpec: { rootfs: { diff_ids: string[] } } };
    assert.deepEqual(
      info.imageSpec.rootfs.diff_ids,
      busybox.layers.map((l) => l.diffId),
    );
  });

  it('unpacks the layer into a snapshot that holds the files', async () => {
    const meta = JSON.parse(await fs.readFile(path.join(d.root, 'snapshots', 'metadata.json'), 'utf8')) as {
      committed: Record<string, { id: number }>;
    };
    const snap = meta.committed[busybox.layers[0]!.diffId]!;
    const fsDir = path.join(d.root, 'snapshots', String(snap.id), 'fs');
    const st = await fs.stat(path.join(fsDir, 'bin', 'busybox'));
    assert.equal(st.mode & 0o777, 0o755);
    assert.equal((await fs.stat(path.join(fsDir, 'bin', 'sh'))).ino, st.ino, 'hardlinked applet');
    assert.equal((await fs.stat(path.join(fsDir, 'tmp'))).mode & 0o7777, 0o1777);
  });

  it('returns an empty answer for an image it does not have, and defaults untagged names to latest', async () => {
    const missing = await status(`${host}/test/nothing:1`);
    assert.equal(missing.image, null);
    const plain = busyboxImage({ env: ['PLAIN=1'] });
    await pushImage(registry.url, 'test/plain', 'latest', plain);
    const res = await pull(`${host}/test/plain`);
    assert.equal(res.imageRef, plain.configDigest);
    assert.equal((await status(`${host}/test/plain`)).image?.id, plain.configDigest);
    assert.deepEqual((await status(`${host}/test/plain:latest`)).image?.repoTags, [`${host}/test/plain:latest`]);
  });

  it('rejects an invalid reference with INVALID_ARGUMENT naming it', async () => {
    await assert.rejects(pull('Not/A Valid:ref'), grpcError(grpc.status.INVALID_ARGUMENT, /Not\/A Valid:ref/));
    await assert.rejects(pull(''), grpcError(grpc.status.INVALID_ARGUMENT, /image/));
  });

  it('fails to pull a tag the registry does not have', async () => {
    await assert.rejects(pull(`${host}/test/busybox:nope`), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.NOT_FOUND, err.details);
      assert.match(err.details, /test\/busybox:nope/);
      return true;
    });
  });

  it('pulls by digest', async () => {
    const image = busyboxImage({ env: ['BYDIGEST=1'] });
    const digest = await pushImage(registry.url, 'test/bydigest', 'v1', image);
    const ref = `${host}/test/bydigest@${digest}`;
    assert.equal((await pull(ref)).imageRef, image.configDigest);
    const st = (await status(ref)).image!;
    assert.deepEqual(st.repoTags, []);
    assert.deepEqual(st.repoDigests, [ref]);
  });

  it('pulls the linux/amd64 image out of a multi-platform index, skipping attestations', async () => {
    const amd64 = busyboxImage({ env: ['ARCH=amd64'] });
    const arm64 = busyboxImage({ env: ['ARCH=arm64'], architecture: 'arm64' });
    const attestation = buildImage([layer([{ type: 'file', name: 'statement.json', data: '{}' }])], { env: ['ATTEST=1'] });
    const { indexDigest } = await pushIndex(registry.url, 'test/multi', '2.0', [
      { image: attestation, platform: { os: 'unknown', architecture: 'unknown' } },
      { image: arm64, platform: { os: 'linux', architecture: 'arm64', variant: 'v8' } },
      { image: amd64, platform: { os: 'linux', architecture: 'amd64' } },
    ]);
    assert.equal((await pull(`${host}/test/multi:2.0`)).imageRef, amd64.configDigest);
    const st = (await status(`${host}/test/multi:2.0`)).image!;
    assert.deepEqual(st.repoDigests, [`${host}/test/multi@${indexDigest}`]);
  });

  it('reports uid or username from the image User', async () => {
    const numeric = busyboxImage({ user: '1000:2000' });
    const named = busyboxImage({ user: 'app' });
    await pushImage(registry.url, 'test/user', 'numeric', numeric);
    await pushImage(registry.url, 'test/user', 'named', named);
    await pull(`${host}/test/user:numeric`);
    await pull(`${host}/test/user:named`);
    const n = (await status(`${host}/test/user:numeric`)).image!;
    assert.deepEqual(n.uid, { value: '1000' });
    assert.equal(n.username, '');
    const u = (await status(`${host}/test/user:named`)).image!;
    assert.equal(u.uid, null);
    assert.equal(u.username, 'app');
  });

  it('applies whiteouts and opaque directories in overlay form, visible through an overlay mount', async () => {
    const base = layer([
      { type: 'dir', name: 'data/' },
      { type: 'file', name: 'data/gone.txt', data: 'old' },
      { type: 'file', name: 'data/kept.txt', data: 'kept' },
      { type: 'dir', name: 'opaque/' },
      { type: 'file', name: 'opaque/lower.txt', data: 'lower' },
      { type: 'file', name: 'linked.txt', data: 'same inode' },
      { type: 'hardlink', name: 'hard.txt', target: 'linked.txt' },
      { type: 'symlink', name: 'sym', target: 'data/kept.txt' },
    ]);
    const top = layer([
      { type: 'file', name: 'data/.wh.gone.txt' },
      { type: 'dir', name: 'opaque/' },
      { type: 'file', name: 'opaque/.wh..wh..opq' },
      { type: 'file', name: 'opaque/upper.txt', data: 'upper' },
    ]);
    const image = buildImage([base, top]);
    await pushImage(registry.url, 'test/whiteout', 'v1', image);
    await pull(`${host}/test/whiteout:v1`);
    const meta = JSON.parse(await fs.readFile(path.join(d.root, 'snapshots', 'metadata.json'), 'utf8')) as {
      committed: Record<string, { id: number; chainId: string; parent?: string }>;
    };
    const bottom = meta.committed[base.diffId]!;
    const upper = Object.values(meta.committed).find((s) => s.parent === base.diffId)!;
    const dirOf = (s: { id: number }) => path.join(d.root, 'snapshots', String(s.id), 'fs');
    const mnt = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-ovl-'));
    const mount = spawnSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${dirOf(upper)}:${dirOf(bottom)}`, mnt]);
    assert.equal(mount.status, 0, mount.stderr.toString());
    try {
      assert.deepEqual((await fs.readdir(path.join(mnt, 'data'))).sort(), ['kept.txt']);
      assert.deepEqual((await fs.readdir(path.join(mnt, 'opaque'))).sort(), ['upper.txt']);
      assert.equal(await fs.readFile(path.join(mnt, 'sym'), 'utf8'), 'kept');
      assert.equal((await fs.stat(path.join(mnt, 'hard.txt'))).ino, (await fs.stat(path.join(mnt, 'linked.txt'))).ino);
    } finally {
      spawnSync('umount', [mnt]);
      await fs.rm(mnt, { recursive: true, force: true });
    }
  });

  it('rejects a layer that escapes its root and keeps nothing of it', async () => {
    const outside = path.join(os.tmpdir(), `skiff-escape-${process.pid}`);
    const evil = layer([
      { type: 'dir', name: 'ok/' },
      { type: 'symlink', name: 'ok/out', target: outside },
      { type: 'file', name: 'ok/out/pwned', data: 'x' },
    ]);
    const image = buildImage([evil]);
    await pushImage(registry.url, 'test/evil', 'v1', image);
    const before = await listDir(path.join(d.root, 'content', 'blobs', 'sha256'));
    await assert.rejects(pull(`${host}/test/evil:v1`), (err: grpc.ServiceError) => {
      assert.match(err.details, /ok\/out\/pwned/);
      return true;
    });
    await assert.rejects(fs.stat(path.join(outside, 'pwned')), { code: 'ENOENT' });
    assert.equal((await status(`${host}/test/evil:v1`)).image, null);
    const afterBlobs = await listDir(path.join(d.root, 'content', 'blobs', 'sha256'));
    assert.deepEqual(afterBlobs.sort(), before.sort(), 'no blob of the rejected image kept');
    assert.deepEqual(
      (await listDir(path.join(d.root, 'snapshots'))).filter((n) => n.startsWith('tmp-')),
      [],
    );

    const dotdot = buildImage([layer([{ type: 'file', name: '../../escaped-by-dotdot', data: 'x' }])]);
    await pushImage(registry.url, 'test/evil', 'v2', dotdot);
    await assert.rejects(pull(`${host}/test/evil:v2`), /escaped-by-dotdot/);
  });

  it('removes an image by any reference, freeing content and snapshots no other image uses', async () => {
    const shared = layer(busyboxEntries());
    const extraA = layer([{ type: 'file', name: 'a.txt', data: 'a'.repeat(100000) }]);
    const extraB = layer([{ type: 'file', name: 'b.txt', data: 'b'.repeat(100000) }]);
    const imgA = buildImage([shared, extraA]);
    const imgB = buildImage([shared, extraB]);
    await pushImage(registry.url, 'test/gc', 'a', imgA);
    await pushImage(registry.url, 'test/gc', 'b', imgB);
    await pull(`${host}/test/gc:a`);
    await pull(`${host}/test/gc:b`);
    const blobs = path.join(d.root, 'content', 'blobs', 'sha256');
    const used1 = BigInt(
      (await d.img<{ imageFilesystems: { usedBytes: { value: string } }[] }>('ImageFsInfo')).imageFilesystems[0]!.usedBytes.value,
    );
    assert.ok((await listDir(blobs)).includes(extraA.digest.slice(7)));

    await remove(imgA.configDigest.slice(7, 20)); // by short id
    assert.equal((await status(`${host}/test/gc:a`)).image, null);
    const left = await listDir(blobs);
    assert.ok(!left.includes(extraA.digest.slice(7)), 'layer only A used is freed');
    assert.ok(left.includes(shared.digest.slice(7)), 'shared layer kept for B');
    assert.ok(!left.includes(imgA.configDigest.slice(7)));
    await new Promise((r) => setTimeout(r, 5100)); // ImageFsInfo caches for 5 s
    const used2 = BigInt(
      (await d.img<{ imageFilesystems: { usedBytes: { value: string } }[] }>('ImageFsInfo')).imageFilesystems[0]!.usedBytes.value,
    );
    assert.ok(used2 < used1, `used bytes fell (${used1} → ${used2})`);

    await remove(`${host}/test/gc:b`);
    assert.ok(!(await listDir(blobs)).includes(shared.digest.slice(7)) || (await status(`${host}/test/busybox:1.0`)).image !== null);
    await remove(`${host}/test/never-pulled:1`); // unknown: success
  });

  it('reports the image filesystem with its mount point, bytes and inodes', async () => {
    const res = await d.img<{
      imageFilesystems: { fsId: { mountpoint: string }; usedBytes: { value: string }; inodesUsed: { value: string }; timestamp: string }[];
    }>('ImageFsInfo');
    const fsu = res.imageFilesystems[0]!;
    assert.ok(d.root.startsWith(fsu.fsId.mountpoint), `${fsu.fsId.mountpoint} holds ${d.root}`);
    assert.ok(Number(fsu.usedBytes.value) > 1_000_000, 'busybox is over 1 MB');
    assert.ok(Number(fsu.inodesUsed.value) > 10);
    assert.ok(BigInt(fsu.timestamp) > 1_700_000_000_000_000_000n);
  });

  it('keeps images across a restart', async () => {
    const dir = d.dir;
    await d.stop();
    d = await TestDaemon.start({ dir });
    assert.equal((await status(`${host}/test/busybox:1.0`)).image?.id, busybox.configDigest);
    // Content already present is not downloaded again: pulling again is served from the store.
    assert.equal((await pull(`${host}/test/busybox:1.0`)).imageRef, busybox.configDigest);
  });
});

describe('image pulls through mirrors, auth and failures', () => {
  let registry: TestRegistry;
  let proxy: RegistryProxy;
  let d: TestDaemon;

  before(async () => {
    registry = await TestRegistry.start();
    proxy = await RegistryProxy.start(registry.url);
    d = await TestDaemon.start({ extraToml: '[image]\npull_progress_timeout_seconds = 2\n' });
  });
  after(async () => {
    await d?.destroy();
    await proxy?.stop();
    await registry?.stop();
  });

  it('serves registry.k8s.io and gcr.io names from a local mirror, and pins the pause image', async () => {
    const pause = busyboxImage({ entrypoint: ['/bin/sleep'], cmd: ['inf'] });
    await pushImage(registry.url, 'pause', '3.10', pause);
    const other = busyboxImage({ env: ['GCR=1'] });
    await pushImage(registry.url, 'google-containers/thing', 'v1', other);
    for (const upstream of ['registry.k8s.io', 'gcr.io']) {
      await fs.mkdir(path.join(d.registryConfigDir, upstream), { recursive: true });
      await fs.writeFile(
        path.join(d.registryConfigDir, upstream, 'hosts.toml'),
        `server = "https://${upstream}"\n\n[host."http://${registry.host}"]\ncapabilities = ["pull", "resolve"]\n`,
      );
    }
    assert.equal(
      (await d.img<{ imageRef: string }>('PullImage', { image: { image: 'registry.k8s.io/pause:3.10' } })).imageRef,
      pause.configDigest,
    );
    const st = await d.img<{ image: Image }>('ImageStatus', { image: { image: 'registry.k8s.io/pause:3.10' } });
    assert.equal(st.image.pinned, true);
    assert.deepEqual(st.image.repoTags, ['registry.k8s.io/pause:3.10']);
    assert.equal(
      (await d.img<{ imageRef: string }>('PullImage', { image: { image: 'gcr.io/google-containers/thing:v1' } })).imageRef,
      other.configDigest,
    );
  });

  it('refuses a blob whose bytes do not match its digest and stores nothing', async () => {
    const image = busyboxImage({ env: ['CORRUPT=1'] });
    const extra = layer([{ type: 'file', name: 'payload', data: 'p'.repeat(50000) }]);
    const withExtra = buildImage([image.layers[0]!, extra], { env: ['CORRUPT=1'] });
    await pushImage(registry.url, 'test/corrupt', 'v1', withExtra);
    proxy.rules = [{ match: (p) => p.includes(extra.digest), corrupt: true }];
    try {
      await assert.rejects(d.img('PullImage', { image: { image: `${proxy.host}/test/corrupt:v1` } }), (err: grpc.ServiceError) => {
        assert.match(err.details, /digest|gzip|invalid|mismatch/i);
        return true;
      });
    } finally {
      proxy.rules = [];
    }
    const blobs = await listDir(path.join(d.root, 'content', 'blobs', 'sha256'));
    assert.ok(!blobs.includes(extra.digest.slice(7)));
    assert.equal((await d.img<{ image: Image | null }>('ImageStatus', { image: { image: `${proxy.host}/test/corrupt:v1` } })).image, null);
    assert.deepEqual(await listDir(path.join(d.root, 'content', 'ingest')), []);
  });

  it('downloads each blob once for two identical concurrent pulls', async () => {
    const image = buildImage([layer(busyboxEntries()), layer([{ type: 'file', name: 'once', data: 'o'.repeat(200000) }])], {
      env: ['ONCE=1'],
    });
    await pushImage(registry.url, 'test/once', 'v1', image);
    const ref = `${proxy.host}/test/once:v1`;
    const [a, b] = await Promise.all([
      d.img<{ imageRef: string }>('PullImage', { image: { image: ref } }),
      d.img<{ imageRef: string }>('PullImage', { image: { image: ref } }),
    ]);
    assert.equal(a.imageRef, image.configDigest);
    assert.equal(b.imageRef, image.configDigest);
    for (const l of image.layers) {
      assert.ok(proxy.count((p) => p.startsWith('GET') && p.includes(`/blobs/${l.digest}`)) <= 1, `layer ${l.digest} fetched once`);
    }
  });

  it('aborts a pull at the gRPC deadline and leaves no partial image', async () => {
    const image = buildImage([layer([{ type: 'file', name: 'slow', data: randomBytes(300000) }])], { env: ['SLOW=1'] });
    await pushImage(registry.url, 'test/slow', 'v1', image);
    proxy.rules = [{ match: (p) => p.includes(image.layers[0]!.digest), stallAfterBytes: 1000 }];
    try {
      await assert.rejects(
        d.img('PullImage', { image: { image: `${proxy.host}/test/slow:v1` } }, 700),
        grpcError(grpc.status.DEADLINE_EXCEEDED, /deadline/i),
      );
      // The stall watchdog (2 s here) ends a pull whose download stops without a deadline.
      await assert.rejects(d.img('PullImage', { image: { image: `${proxy.host}/test/slow:v1` } }, 20000), /no progress/);
    } finally {
      proxy.rules = [];
    }
    await new Promise((r) => setTimeout(r, 300));
    assert.deepEqual(await listDir(path.join(d.root, 'content', 'ingest')), []);
    assert.deepEqual(
      (await listDir(path.join(d.root, 'snapshots'))).filter((n) => n.startsWith('tmp-')),
      [],
    );
    assert.ok(!(await listDir(path.join(d.root, 'content', 'blobs', 'sha256'))).includes(image.configDigest.slice(7)));
    // And the same pull works once the registry behaves.
    assert.equal(
      (await d.img<{ imageRef: string }>('PullImage', { image: { image: `${proxy.host}/test/slow:v1` } })).imageRef,
      image.configDigest,
    );
  });
});

describe('image pulls with registry authentication', () => {
  let registry: TestRegistry;
  let d: TestDaemon;
  const auth = { username: 'skiff', password: 's3cret-pw' };

  before(async () => {
    registry = await TestRegistry.start({ auth });
    await pushImage(registry.url, 'private/busybox', 'v1', busyboxImage({ env: ['PRIVATE=1'] }), registry.authHeader());
    d = await TestDaemon.start();
  });
  after(async () => {
    await d?.destroy();
    await registry?.stop();
  });

  it('pulls with good Basic credentials (username/password and auth)', async () => {
    const ref = `${registry.host}/private/busybox:v1`;
    const res = await d.img<{ imageRef: string }>('PullImage', {
      image: { image: ref },
      auth: { username: auth.username, password: auth.password },
    });
    assert.match(res.imageRef, /^sha256:/);
    await d.img('RemoveImage', { image: { image: ref } });
    const encoded = Buffer.from(`${auth.username}:${auth.password}`).toString('base64');
    assert.equal(
      (await d.img<{ imageRef: string }>('PullImage', { image: { image: ref }, auth: { auth: encoded } })).imageRef,
      res.imageRef,
    );
  });

  it('fails with bad or missing credentials, saying so', async () => {
    const ref = `${registry.host}/private/busybox:v1`;
    await d.img('RemoveImage', { image: { image: ref } });
    await assert.rejects(
      d.img('PullImage', { image: { image: ref }, auth: { username: auth.username, password: 'wrong' } }),
      /unauthorized|authentication/i,
    );
    await assert.rejects(d.img('PullImage', { image: { image: ref } }), /unauthorized|authentication/i);
    assert.equal((await d.img<{ image: Image | null }>('ImageStatus', { image: { image: ref } })).image, null);
  });
});
