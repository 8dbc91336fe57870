// mount.ts against real mounts (root): what is a mount point, and unmounting
// one, stacked ones, binds of the same filesystem and paths with nothing on them.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';

import { bindMount, isMountPoint, mountPoints, mountTmpfs, unmount } from '../../src/host/mount.js';

const base = mkdtempSync(path.join(tmpdir(), 'skiff-mount-'));
const dir = (name: string): string => {
  const p = path.join(base, name);
  mkdirSync(p, { recursive: true });
  return p;
};
after(() => {
  // Whatever a failed case left mounted under the test's own directory.
  for (const m of [...mountPoints()]
    .filter((m) => m.startsWith(base + '/'))
    .sort()
    .reverse())
    spawnSync('umount', ['-l', m]);
  rmSync(base, { recursive: true, force: true });
});

describe('mount points', () => {
  it('tells tmpfs mounts, same-filesystem binds, plain and missing paths apart', async () => {
    const t = dir('tmpfs');
    const src = dir('src');
    const bind = dir('bind');
    const plain = dir('plain');
    await mountTmpfs(t, 'size=1m');
    await bindMount(src, bind);
    assert.equal(isMountPoint(t), true);
    assert.equal(isMountPoint(bind), true, 'a bind of the same filesystem');
    assert.equal(isMountPoint(plain), false);
    assert.equal(isMountPoint(path.join(base, 'missing')), false);
    await unmount(t);
    await unmount(bind);
    assert.equal(isMountPoint(t), false);
    assert.equal(isMountPoint(bind), false);
  });

  it('unmounts stacked mounts, a bind of a file, and leaves plain or missing paths alone', async () => {
    const s = dir('stacked');
    await mountTmpfs(s, 'size=1m');
    await mountTmpfs(s, 'size=1m');
    await unmount(s);
    assert.equal(isMountPoint(s), false);
    assert.ok(![...mountPoints()].includes(s));

    const file = path.join(base, 'file-src');
    const target = path.join(base, 'file-target');
    writeFileSync(file, 'x');
    writeFileSync(target, '');
    await bindMount(file, target);
    assert.equal(isMountPoint(target), true);
    await unmount(target);
    assert.equal(isMountPoint(target), false);

    await unmount(dir('never-mounted'));
    await unmount(path.join(base, 'missing'));
  });
});
