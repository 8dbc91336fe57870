// Layer unpacking against real files (runs as root: chown, mknod, trusted.*
// xattrs and overlay mounts need it).
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, lstat, mkdir, mkdtemp, readdir, readFile, readlink, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';

import { SkiffError } from '../../src/errors.js';
import { MEDIA } from '../../src/image/oci-types.js';
import { applyLayer, UnsafeLayerError } from '../../src/image/unpack/index.js';
import { buildTar, gzipLayer, sha256, type TarEntry } from '../support/tar-writer.js';

let base = '';
let counter = 0;
before(async () => {
  base = await mkdtemp(join(tmpdir(), 'skiff-unpack-'));
});
after(async () => {
  await rm(base, { recursive: true, force: true });
});

/** A fresh sandbox; the layer goes to <sandbox>/root, so "outside" paths stay inside the test's temp dir. */
async function sandbox(): Promise<{ dir: string; root: string }> {
  const dir = join(base, `s${counter++}`);
  await mkdir(dir);
  return { dir, root: join(dir, 'root') };
}

/** Feeds the blob in small pieces, so headers and records straddle chunk boundaries. */
function chunked(blob: Buffer, size = 1000): Readable {
  const parts: Buffer[] = [];
  for (let i = 0; i < blob.length; i += size) parts.push(blob.subarray(i, i + size));
  return Readable.from(parts);
}

function zstdCompress(data: Buffer): Buffer {
  const r = spawnSync('zstd', ['-q', '-c', '-3'], { input: data, maxBuffer: 1 << 30 });
  assert.equal(r.status, 0, r.stderr?.toString());
  return r.stdout;
}

/** name → hex value, as getfattr reports them (symlinks not followed). */
function xattrs(path: string): Map<string, string> {
  const r = spawnSync('getfattr', ['-h', '-d', '-m', '-', '-e', 'hex', '--absolute-names', path], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const out = new Map<string, string>();
  for (const line of r.stdout.split('\n')) {
    const m = /^([^#=][^=]*)=0x([0-9a-f]*)$/.exec(line);
    if (m) out.set(m[1]!, m[2]!);
  }
  return out;
}

const hex = (s: string): string => Buffer.from(s).toString('hex');
const major = (rdev: number): number => (rdev >> 8) & 0xfff;
const minor = (rdev: number): number => (rdev & 0xff) | ((rdev >> 12) & 0xfff00);

async function rejectsUnsafe(p: Promise<unknown>, pattern?: RegExp): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof UnsafeLayerError, `expected UnsafeLayerError, got ${String(err)}`);
    assert.equal(err.kind, 'FailedPrecondition');
    if (pattern) assert.match(err.message, pattern);
    return true;
  });
}

describe('applyLayer: entry types and metadata', () => {
  const longName = `deep/${'n'.repeat(120)}/file.txt`;
  const entries: TarEntry[] = [
    { type: 'dir', name: './', mode: 0o755, mtime: 1500000000 },
    { type: 'dir', name: './etc/', mode: 0o750, uid: 10, gid: 20, mtime: 1600000000 },
    { type: 'file', name: './etc/hello', data: 'hi there\n', mode: 0o640, uid: 1000, gid: 1001, mtime: 1650000000 },
    { type: 'file', name: 'bin/su', data: '#!su', mode: 0o4755, uid: 0, gid: 0 },
    { type: 'file', name: 'bin/sg', data: '#!sg', mode: 0o2755, uid: 5, gid: 6 },
    { type: 'dir', name: 'tmp', mode: 0o1777 },
    { type: 'symlink', name: 'bin/sh', target: '/bin/busybox', mtime: 1400000000 },
    { type: 'hardlink', name: 'bin/su-again', target: './bin/su' },
    { type: 'char', name: 'dev/null', major: 1, minor: 3, mode: 0o666 },
    { type: 'block', name: 'dev/loop0', major: 7, minor: 0, mode: 0o660 },
    { type: 'fifo', name: 'run/fifo', mode: 0o600 },
    { type: 'file', name: 'empty', mode: 0o600 },
    { type: 'file', name: longName, data: 'long' },
  ];
  const tar = buildTar(entries);

  it('writes files, directories, links and nodes with their metadata', async () => {
    const { root } = await sandbox();
    const layer = gzipLayer(entries);
    const res = await applyLayer(chunked(layer.blob, 97), MEDIA.ociLayerGzip, root);
    assert.equal(res.diffId, layer.diffId);
    assert.equal(res.size, tar.length);

    assert.equal(await readFile(join(root, 'etc/hello'), 'utf8'), 'hi there\n');
    const hello = await stat(join(root, 'etc/hello'));
    assert.equal(hello.mode & 0o7777, 0o640);
    assert.equal(hello.uid, 1000);
    assert.equal(hello.gid, 1001);
    assert.equal(hello.mtimeMs, 1650000000 * 1000);

    // Directory metadata, with the mtime restored after its children were written.
    const etc = await stat(join(root, 'etc'));
    assert.ok(etc.isDirectory());
    assert.equal(etc.mode & 0o7777, 0o750);
    assert.deepEqual([etc.uid, etc.gid], [10, 20]);
    assert.equal(etc.mtimeMs, 1600000000 * 1000);
    assert.equal((await stat(root)).mtimeMs, 1500000000 * 1000);
    assert.equal((await stat(join(root, 'tmp'))).mode & 0o7777, 0o1777);
    assert.equal((await stat(join(root, 'bin'))).mode & 0o7777, 0o755); // implied parent

    // setuid/setgid survive the chown that would clear them.
    assert.equal((await stat(join(root, 'bin/su'))).mode & 0o7777, 0o4755);
    const sg = await stat(join(root, 'bin/sg'));
    assert.equal(sg.mode & 0o7777, 0o2755);
    assert.deepEqual([sg.uid, sg.gid], [5, 6]);

    const sh = await lstat(join(root, 'bin/sh'));
    assert.ok(sh.isSymbolicLink());
    assert.equal(await readlink(join(root, 'bin/sh')), '/bin/busybox');
    assert.equal(sh.mtimeMs, 1400000000 * 1000);

    const su = await stat(join(root, 'bin/su'));
    const again = await stat(join(root, 'bin/su-again'));
    assert.equal(again.ino, su.ino);
    assert.equal(su.nlink, 2);

    const devnull = await lstat(join(root, 'dev/null'));
    assert.ok(devnull.isCharacterDevice());
    assert.deepEqual([major(devnull.rdev), minor(devnull.rdev)], [1, 3]);
    assert.equal(devnull.mode & 0o7777, 0o666);
    const loop = await lstat(join(root, 'dev/loop0'));
    assert.ok(loop.isBlockDevice());
    assert.deepEqual([major(loop.rdev), minor(loop.rdev)], [7, 0]);
    const fifo = await lstat(join(root, 'run/fifo'));
    assert.ok(fifo.isFIFO());
    assert.equal(fifo.mode & 0o7777, 0o600);

    assert.equal((await stat(join(root, 'empty'))).size, 0);
    assert.equal(await readFile(join(root, longName), 'utf8'), 'long');
  });

  for (const [label, mediaType, blob] of [
    ['uncompressed', MEDIA.ociLayer, tar],
    ['gzip (docker media type)', MEDIA.dockerLayerGzip, gzipSync(tar)],
    ['zstd', MEDIA.ociLayerZstd, zstdCompress(tar)],
    ['gzip labelled as plain tar', MEDIA.ociLayer, gzipSync(tar)],
    ['zstd labelled as gzip', MEDIA.ociLayerGzip, zstdCompress(tar)],
    ['plain tar labelled as gzip', MEDIA.ociLayerGzip, tar],
  ] as const) {
    it(`unpacks ${label} with the right diff ID`, async () => {
      const { root } = await sandbox();
      const res = await applyLayer(chunked(blob, 333), mediaType, root);
      assert.equal(res.diffId, sha256(tar));
      assert.equal(res.size, tar.length);
      assert.equal(await readFile(join(root, 'etc/hello'), 'utf8'), 'hi there\n');
      assert.ok((await lstat(join(root, 'dev/null'))).isCharacterDevice());
    });
  }

  it('streams a large file and hashes every byte, padding included', async () => {
    const { root } = await sandbox();
    const big = Buffer.alloc(24 * 1024 * 1024 + 123);
    for (let i = 0; i < big.length; i += 4096) big.writeUInt32LE(i, i);
    const tarBig = Buffer.concat([buildTar([{ type: 'file', name: 'big', data: big }]), Buffer.alloc(10240)]);
    const res = await applyLayer(Readable.from([gzipSync(tarBig)]), MEDIA.ociLayerGzip, root);
    assert.equal(res.size, tarBig.length);
    assert.equal(res.diffId, sha256(tarBig));
    assert.ok((await readFile(join(root, 'big'))).equals(big));
  });

  it('ignores the umask and setgid inheritance: every inode gets exactly its header metadata', async () => {
    const { root } = await sandbox();
    // Even the caller's directory may be setgid.
    await mkdir(root);
    await chown(root, 0, 60);
    await chmod(root, 0o2755);
    await applyLayer(
      Readable.from([
        buildTar([
          { type: 'file', name: 'open', data: 'x', mode: 0o666 },
          { type: 'dir', name: 'wide', mode: 0o777 },
          { type: 'dir', name: 'sg', mode: 0o2775, gid: 50 },
          { type: 'file', name: 'sg/f', data: 'x', mode: 0o644 },
          { type: 'dir', name: 'sg/sub', mode: 0o755 },
          { type: 'file', name: 'sg/sub/g', data: 'x', mode: 0o644 },
          { type: 'symlink', name: 'sg/l', target: 'f' },
        ]),
      ]),
      MEDIA.ociLayer,
      root,
    );
    const open = await stat(join(root, 'open'));
    assert.deepEqual([open.mode & 0o7777, open.gid], [0o666, 0]);
    assert.equal((await stat(join(root, 'wide'))).mode & 0o7777, 0o777);
    const sg = await stat(join(root, 'sg'));
    assert.deepEqual([sg.mode & 0o7777, sg.gid], [0o2775, 50]);
    for (const p of ['sg/f', 'sg/sub/g']) assert.equal((await stat(join(root, p))).gid, 0, p);
    assert.equal((await lstat(join(root, 'sg/l'))).gid, 0);
    const sub = await stat(join(root, 'sg/sub'));
    assert.deepEqual([sub.mode & 0o7777, sub.gid], [0o755, 0]);
  });

  for (const format of ['gnu', 'posix', 'ustar'] as const) {
    it(`reads archives written by GNU tar --format=${format}`, async () => {
      const { dir, root } = await sandbox();
      const src = join(dir, 'src');
      // ustar can only split long names at a slash within its 155+100 bytes.
      const long =
        format === 'ustar'
          ? `${'d'.repeat(90)}/${'e'.repeat(60)}/${'f'.repeat(90)}`
          : `${'d'.repeat(120)}/${'e'.repeat(120)}/${'f'.repeat(120)}`;
      await mkdir(join(src, long), { recursive: true });
      await writeFile(join(src, long, 'file'), 'deep');
      await writeFile(join(src, 'suid'), 'x', { mode: 0o755 });
      await chmod(join(src, 'suid'), 0o4755);
      const r1 = spawnSync('ln', [join(src, 'suid'), join(src, 'hard')]);
      assert.equal(r1.status, 0);
      const r2 = spawnSync('ln', ['-s', format === 'ustar' ? 'short/target' : `/${'t'.repeat(150)}`, join(src, 'sym')]);
      assert.equal(r2.status, 0);
      if (format !== 'ustar') spawnSync('setfattr', ['-n', 'user.k', '-v', 'v', join(src, 'suid')]);
      // Ids past ustar's 7 octal digits: GNU writes base-256 numbers, POSIX writes PAX records.
      const bigIds = format === 'ustar' ? [] : ['--owner=3000000', '--group=3000001'];
      const args = [
        '-C',
        src,
        '-c',
        `--format=${format}`,
        ...bigIds,
        ...(format === 'posix' ? ['--xattrs', '--xattrs-include=*'] : []),
        '.',
      ];
      const tar = spawnSync('tar', args, { maxBuffer: 1 << 26 });
      assert.equal(tar.status, 0, tar.stderr.toString());

      const res = await applyLayer(chunked(tar.stdout, 512 * 3 + 17), MEDIA.ociLayer, root);
      assert.equal(res.diffId, sha256(tar.stdout));
      assert.equal(await readFile(join(root, long, 'file'), 'utf8'), 'deep');
      const suid = await stat(join(root, 'suid'));
      assert.equal(suid.mode & 0o7777, 0o4755);
      if (format !== 'ustar') assert.deepEqual([suid.uid, suid.gid], [3000000, 3000001]);
      assert.equal((await stat(join(root, 'hard'))).ino, suid.ino);
      assert.equal(await readlink(join(root, 'sym')), await readlink(join(src, 'sym')));
      if (format === 'posix') assert.equal(xattrs(join(root, 'suid')).get('user.k'), hex('v'));
    });
  }

  it('refuses media types it cannot decode', async () => {
    const { root } = await sandbox();
    await assert.rejects(
      applyLayer(Readable.from([Buffer.from('BZh91AY&SY')]), 'application/vnd.oci.image.layer.v1.tar+bzip2', root),
      (err: unknown) => err instanceof SkiffError && err.kind === 'Unimplemented',
    );
  });

  it('refuses a target directory that is not empty', async () => {
    const { root } = await sandbox();
    await mkdir(root);
    await writeFile(join(root, 'stray'), '');
    await assert.rejects(
      applyLayer(Readable.from([tar]), MEDIA.ociLayer, root),
      (err: unknown) => err instanceof SkiffError && err.kind === 'FailedPrecondition',
    );
  });
});

describe('applyLayer: xattrs', () => {
  it('sets user.*, trusted.* and binary security.capability values byte for byte', async () => {
    const { root } = await sandbox();
    // VFS_CAP_REVISION_2, effective, permitted = CAP_NET_RAW: NUL bytes inside.
    const cap = Buffer.from('0100000200200000000000000000000000000000', 'hex');
    const binary = Buffer.from([0xff, 0xfe, 0x00, 0x80, 0x0a, 0x3d]); // not UTF-8, with "\n="
    const capHolder = 'C'.repeat(cap.length);
    const binHolder = 'B'.repeat(binary.length);
    const tar = buildTar([
      { type: 'dir', name: 'd', xattrs: { 'user.dir': 'on a dir' } },
      {
        type: 'file',
        name: 'd/ping',
        data: 'ELF',
        mode: 0o4755,
        uid: 0,
        gid: 0,
        xattrs: {
          'user.foo': 'bar',
          'trusted.x': 'y',
          'security.capability': capHolder,
          'trusted.bin': binHolder,
          'trusted.overlay.redirect': '/etc',
        },
      },
    ]);
    // tar-writer writes strings; put the raw bytes in place of same-length placeholders.
    cap.copy(tar, tar.indexOf(capHolder));
    binary.copy(tar, tar.indexOf(binHolder));

    await applyLayer(chunked(tar, 50), MEDIA.ociLayer, root);
    const x = xattrs(join(root, 'd/ping'));
    assert.equal(x.get('user.foo'), hex('bar'));
    assert.equal(x.get('trusted.x'), hex('y'));
    assert.equal(x.get('security.capability'), cap.toString('hex'));
    assert.equal(x.get('trusted.bin'), binary.toString('hex'));
    assert.equal(x.has('trusted.overlay.redirect'), false, 'overlay xattrs from the layer are dropped');
    assert.equal((await stat(join(root, 'd/ping'))).mode & 0o7777, 0o4755);
    assert.equal(xattrs(join(root, 'd')).get('user.dir'), hex('on a dir'));
  });
});

describe('applyLayer: whiteouts', () => {
  it('turns .wh. files into 0:0 char devices and .wh..wh..opq into the opaque xattr', async () => {
    const { root } = await sandbox();
    await applyLayer(
      Readable.from([
        buildTar([
          { type: 'dir', name: 'a' },
          { type: 'file', name: 'a/z', data: 'written, then deleted in the same layer' },
          { type: 'file', name: 'a/.wh.b' },
          { type: 'file', name: 'a/.wh.z' },
          { type: 'dir', name: 'c', mode: 0o711 },
          { type: 'file', name: 'c/.wh..wh..opq' },
          { type: 'file', name: 'c/kept', data: 'k' },
          { type: 'file', name: 'implied/.wh..wh..opq' },
          { type: 'file', name: '.wh..wh.plnk' },
          { type: 'file', name: '.wh.top' },
        ]),
      ]),
      MEDIA.ociLayer,
      root,
    );
    for (const p of ['a/b', 'a/z', 'top']) {
      const st = await lstat(join(root, p));
      assert.ok(st.isCharacterDevice(), p);
      assert.equal(st.rdev, 0, p);
    }
    assert.equal(xattrs(join(root, 'c')).get('trusted.overlay.opaque'), hex('y'));
    assert.equal((await stat(join(root, 'c'))).mode & 0o7777, 0o711);
    assert.equal(await readFile(join(root, 'c/kept'), 'utf8'), 'k');
    assert.equal(xattrs(join(root, 'implied')).get('trusted.overlay.opaque'), hex('y'));
    // No marker is written.
    const all = (await readdir(root, { recursive: true })).map(String);
    assert.deepEqual(
      all.filter((p) => p.includes('.wh.')),
      [],
    );
  });

  it('gives the expected view through a read-only overlay mount', async () => {
    const { dir } = await sandbox();
    const lower = join(dir, 'l');
    const upper = join(dir, 'u');
    const mnt = join(dir, 'm');
    await mkdir(mnt);
    await applyLayer(
      Readable.from([
        gzipLayer([
          { type: 'file', name: 'keep', data: 'keep' },
          { type: 'file', name: 'gone', data: 'gone' },
          { type: 'dir', name: 'dir' },
          { type: 'file', name: 'dir/old', data: 'old' },
          { type: 'file', name: 'dir2/x', data: 'x' },
        ]).blob,
      ]),
      MEDIA.ociLayerGzip,
      lower,
    );
    await applyLayer(
      Readable.from([
        gzipLayer([
          { type: 'file', name: '.wh.gone' },
          { type: 'dir', name: 'dir' },
          { type: 'file', name: 'dir/.wh..wh..opq' },
          { type: 'file', name: 'dir/new', data: 'new' },
        ]).blob,
      ]),
      MEDIA.ociLayerGzip,
      upper,
    );
    const m = spawnSync('mount', ['-t', 'overlay', 'overlay', '-o', `lowerdir=${upper}:${lower}`, mnt], { encoding: 'utf8' });
    assert.equal(m.status, 0, m.stderr);
    try {
      assert.equal(await readFile(join(mnt, 'keep'), 'utf8'), 'keep');
      assert.equal(existsSync(join(mnt, 'gone')), false);
      assert.deepEqual(await readdir(join(mnt, 'dir')), ['new']);
      assert.equal(await readFile(join(mnt, 'dir2/x'), 'utf8'), 'x');
      assert.deepEqual((await readdir(mnt)).sort(), ['dir', 'dir2', 'keep']);
    } finally {
      const u = spawnSync('umount', [mnt], { encoding: 'utf8' });
      assert.equal(u.status, 0, u.stderr);
    }
  });
});

describe('applyLayer: later entries replace earlier ones', () => {
  it('replaces files, turns files into dirs and back, keeps re-declared dirs', async () => {
    const { root } = await sandbox();
    await applyLayer(
      Readable.from([
        buildTar([
          { type: 'file', name: 'x', data: 'one' },
          { type: 'file', name: 'x', data: 'two' },
          { type: 'file', name: 'd', data: 'file first' },
          { type: 'dir', name: 'd' },
          { type: 'file', name: 'd/f', data: 'in d' },
          { type: 'dir', name: 'e' },
          { type: 'file', name: 'e/f', data: 'in e' },
          { type: 'file', name: 'e', data: 'e is a file now' },
          { type: 'dir', name: 'k', mode: 0o755 },
          { type: 'file', name: 'k/f', data: 'kept' },
          { type: 'dir', name: 'k', mode: 0o700, uid: 7 },
          { type: 'symlink', name: 's', target: 'x' },
          { type: 'file', name: 's', data: 'not a link' },
          { type: 'file', name: 'h1', data: 'shared' },
          { type: 'hardlink', name: 'h2', target: 'h1' },
          { type: 'file', name: 'h2', data: 'own' },
        ]),
      ]),
      MEDIA.ociLayer,
      root,
    );
    assert.equal(await readFile(join(root, 'x'), 'utf8'), 'two');
    assert.equal(await readFile(join(root, 'd/f'), 'utf8'), 'in d');
    assert.equal(await readFile(join(root, 'e'), 'utf8'), 'e is a file now');
    const k = await stat(join(root, 'k'));
    assert.equal(k.mode & 0o7777, 0o700);
    assert.equal(k.uid, 7);
    assert.equal(await readFile(join(root, 'k/f'), 'utf8'), 'kept');
    assert.ok((await lstat(join(root, 's'))).isFile());
    // Replacing one name of a hardlink pair leaves the other intact.
    assert.equal(await readFile(join(root, 'h1'), 'utf8'), 'shared');
    assert.equal(await readFile(join(root, 'h2'), 'utf8'), 'own');
  });
});

describe('applyLayer: hostile layers', () => {
  const cases: Array<{ label: string; entries: (dir: string) => TarEntry[]; outside: (dir: string) => string[]; pattern: RegExp }> = [
    {
      label: '../evil',
      entries: () => [{ type: 'file', name: '../evil', data: 'x' }],
      outside: (d) => [join(d, 'evil')],
      pattern: /climbs above/,
    },
    {
      label: '/abs',
      entries: () => [{ type: 'file', name: `/skiff-unpack-abs-${process.pid}`, data: 'x' }],
      outside: () => [`/skiff-unpack-abs-${process.pid}`],
      pattern: /absolute/,
    },
    {
      label: 'a/../../evil',
      entries: () => [
        { type: 'dir', name: 'a' },
        { type: 'file', name: 'a/../../evil', data: 'x' },
      ],
      outside: (d) => [join(d, 'evil')],
      pattern: /climbs above/,
    },
    {
      label: 'symlink a -> outside dir, then a/file',
      entries: (d) => [
        { type: 'symlink', name: 'a', target: join(d, 'somewhere') },
        { type: 'file', name: 'a/file', data: 'x' },
      ],
      outside: (d) => [join(d, 'somewhere/file')],
      pattern: /through symlink "a"/,
    },
    {
      label: 'symlink a -> .., then a/a/x',
      entries: () => [
        { type: 'symlink', name: 'a', target: '..' },
        { type: 'file', name: 'a/a/x', data: 'x' },
      ],
      outside: (d) => [join(d, 'a')],
      pattern: /through symlink "a"/,
    },
    {
      label: 'directory replaced by a symlink, then written through',
      entries: (d) => [
        { type: 'file', name: 'a/b/f', data: 'x' },
        { type: 'symlink', name: 'a', target: join(d, 'somewhere') },
        { type: 'file', name: 'a/b/g', data: 'x' },
      ],
      outside: (d) => [join(d, 'somewhere/b')],
      pattern: /through symlink "a"/,
    },
    {
      label: 'hardlink to ../../etc/passwd',
      entries: () => [{ type: 'hardlink', name: 'pw', target: '../../etc/passwd' }],
      outside: (d) => [join(d, 'root/pw')],
      pattern: /hardlink target climbs above/,
    },
    {
      label: 'hardlink to /etc/passwd',
      entries: () => [{ type: 'hardlink', name: 'pw', target: '/etc/passwd' }],
      outside: (d) => [join(d, 'root/pw')],
      pattern: /hardlink target is absolute/,
    },
    {
      label: 'hardlink through a symlink',
      entries: () => [
        { type: 'symlink', name: 'etc', target: '/etc' },
        { type: 'hardlink', name: 'pw', target: 'etc/passwd' },
      ],
      outside: (d) => [join(d, 'root/pw')],
      pattern: /not an earlier entry/,
    },
    {
      label: 'hardlink to an earlier file whose directory became a symlink',
      entries: () => [
        { type: 'file', name: 'etc/passwd', data: 'x' },
        { type: 'symlink', name: 'etc', target: '/etc' },
        { type: 'hardlink', name: 'pw', target: 'etc/passwd' },
      ],
      outside: (d) => [join(d, 'root/pw')],
      pattern: /not an earlier entry/,
    },
    {
      label: 'whiteout through a symlink',
      entries: (d) => [
        { type: 'symlink', name: 'a', target: join(d, 'somewhere') },
        { type: 'file', name: 'a/.wh.victim' },
      ],
      outside: (d) => [join(d, 'somewhere/victim')],
      pattern: /through symlink/,
    },
    {
      label: 'opaque marker through a symlink',
      entries: (d) => [
        { type: 'symlink', name: 'a', target: join(d, 'somewhere') },
        { type: 'file', name: 'a/.wh..wh..opq' },
      ],
      outside: () => [],
      pattern: /through symlink/,
    },
    {
      label: 'NUL byte in a PAX path',
      entries: () => [{ type: 'file', name: `${'p'.repeat(120)}\0evil`, data: 'x' }],
      outside: (d) => [join(d, 'root', 'p'.repeat(120))],
      pattern: /NUL/,
    },
  ];

  for (const c of cases) {
    it(`rejects ${c.label}`, async () => {
      const { dir, root } = await sandbox();
      await mkdir(join(dir, 'somewhere'));
      const layer = gzipLayer(c.entries(dir));
      await rejectsUnsafe(applyLayer(Readable.from([layer.blob]), MEDIA.ociLayerGzip, root), c.pattern);
      for (const p of c.outside(dir)) assert.equal(existsSync(p), false, `${p} must not exist`);
      assert.deepEqual(await readdir(join(dir, 'somewhere')), []);
      assert.equal(xattrs(join(dir, 'somewhere')).has('trusted.overlay.opaque'), false);
    });
  }

  it('rejects malformed streams', async () => {
    const good = buildTar([{ type: 'file', name: 'f', data: 'x'.repeat(2000) }]);
    const badSum = Buffer.from(good);
    badSum[0] = 0x67; // the name changes, the checksum does not
    for (const [label, blob] of [
      ['truncated tar', good.subarray(0, 1200)],
      ['bad checksum', badSum],
      ['truncated gzip', gzipSync(good).subarray(0, 40)],
      ['corrupt gzip', Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0]), Buffer.alloc(64, 0x55)])],
      ['corrupt zstd', Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(64, 0x55)])],
    ] as const) {
      const { root } = await sandbox();
      await rejectsUnsafe(applyLayer(Readable.from([blob]), MEDIA.ociLayer, root), undefined).catch((err: unknown) => {
        throw new Error(`${label}: ${String(err)}`);
      });
    }
  });
});

describe('applyLayer: cancellation', () => {
  it('stops promptly when the signal aborts mid-stream', async () => {
    const { root } = await sandbox();
    const tar = buildTar([{ type: 'file', name: 'big', data: Buffer.alloc(1024 * 1024) }]);
    const input = new PassThrough();
    input.write(gzipSync(tar).subarray(0, 2000)); // a partial blob, and the "socket" stays open
    const ac = new AbortController();
    const started = Date.now();
    setTimeout(() => ac.abort(), 50);
    await assert.rejects(
      applyLayer(input, MEDIA.ociLayerGzip, root, { signal: ac.signal }),
      (err: unknown) => err instanceof SkiffError && err.kind === 'Cancelled',
    );
    assert.ok(Date.now() - started < 2000);
    assert.ok(input.destroyed, 'the input is destroyed');
  });

  it('refuses to start with an aborted signal', async () => {
    const { root } = await sandbox();
    await assert.rejects(
      applyLayer(Readable.from([buildTar([])]), MEDIA.ociLayer, root, { signal: AbortSignal.abort() }),
      (err: unknown) => err instanceof SkiffError && err.kind === 'Cancelled',
    );
  });
});
