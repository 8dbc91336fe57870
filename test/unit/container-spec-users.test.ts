import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { parseGroup, parsePasswd } from '../../src/container/oci-spec/etc-files.js';
import { readRootFile, resolveInRoot } from '../../src/container/oci-spec/root-file.js';
import { resolveUser, type UserRequest } from '../../src/container/oci-spec/users.js';
import { SkiffError } from '../../src/errors.js';

const PASSWD = `root:x:0:0:root:/root:/bin/sh
# a comment

daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin
app:x:1000:1000:App:/home/app:/bin/sh
web:x:1001:1001::/srv:/bin/false
broken line
nogid:x:1002:
`;

const GROUP = `root:x:0:
daemon:x:1:
wheel:x:10:root,app
app:x:1000:
staff:x:50: app , web
web:x:1001:
video:x:44:web
`;

let tmp: string;
let rootfs: string;
let bare: string;

function makeRoot(name: string, passwd?: string, group?: string): string {
  const r = path.join(tmp, name);
  mkdirSync(path.join(r, 'etc'), { recursive: true });
  if (passwd !== undefined) writeFileSync(path.join(r, 'etc', 'passwd'), passwd);
  if (group !== undefined) writeFileSync(path.join(r, 'etc', 'group'), group);
  return r;
}

before(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'skiff-users-'));
  rootfs = makeRoot('root', PASSWD, GROUP);
  bare = makeRoot('bare');
});
after(() => rmSync(tmp, { recursive: true, force: true }));

const req = (over: Partial<UserRequest> = {}) => ({ linux: { securityContext: { runAsUsername: '', supplementalGroups: [], ...over } } });

async function rejectsWith(p: Promise<unknown>, text: string): Promise<void> {
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof SkiffError, String(err));
    assert.equal(err.kind, 'InvalidArgument');
    assert.ok(err.message.includes(text), err.message);
    return true;
  });
}

describe('parsePasswd / parseGroup', () => {
  it('skips comments and malformed lines', () => {
    assert.deepEqual(
      parsePasswd(PASSWD).map((e) => e.name),
      ['root', 'daemon', 'app', 'web'],
    );
    assert.deepEqual(
      parseGroup(GROUP).find((g) => g.name === 'staff'),
      { name: 'staff', gid: 50, members: ['app', 'web'] },
    );
  });
});

describe('resolveUser', () => {
  it('no user anywhere: root, with root’s groups', async () => {
    assert.deepEqual(await resolveUser(rootfs, req(), undefined), { uid: 0, gid: 0, additionalGids: [10], username: 'root' });
    assert.deepEqual(await resolveUser(rootfs, req(), ''), { uid: 0, gid: 0, additionalGids: [10], username: 'root' });
  });
  it('image user by name', async () => {
    assert.deepEqual(await resolveUser(rootfs, req(), 'app'), { uid: 1000, gid: 1000, additionalGids: [10, 50], username: 'app' });
  });
  it('image user "uid:gid"', async () => {
    assert.deepEqual(await resolveUser(rootfs, req(), '1000:1000'), { uid: 1000, gid: 1000, additionalGids: [10, 50], username: 'app' });
    assert.deepEqual(await resolveUser(rootfs, req(), '1000:44'), { uid: 1000, gid: 44, additionalGids: [10, 50], username: 'app' });
  });
  it('image user "name:group" and "uid:group", group by name', async () => {
    assert.deepEqual(await resolveUser(rootfs, req(), 'web:staff'), { uid: 1001, gid: 50, additionalGids: [44], username: 'web' });
    assert.deepEqual(await resolveUser(rootfs, req(), '1001:video'), { uid: 1001, gid: 44, additionalGids: [50], username: 'web' });
  });
  it('image uid the image does not know: gid 0, no image groups', async () => {
    assert.deepEqual(await resolveUser(rootfs, req(), '4242'), { uid: 4242, gid: 0, additionalGids: [] });
    assert.deepEqual(await resolveUser(bare, req(), '4242:7'), { uid: 4242, gid: 7, additionalGids: [] });
  });
  it('run_as_user overrides the image user; gid from passwd', async () => {
    assert.deepEqual(await resolveUser(rootfs, req({ runAsUser: 0 }), 'app'), { uid: 0, gid: 0, additionalGids: [10], username: 'root' });
    assert.deepEqual(await resolveUser(rootfs, req({ runAsUser: 1001 }), 'app:app'), {
      uid: 1001,
      gid: 1001,
      additionalGids: [44, 50],
      username: 'web',
    });
    assert.deepEqual(await resolveUser(rootfs, req({ runAsUser: 5000 }), 'app'), { uid: 5000, gid: 0, additionalGids: [] });
  });
  it('policy Strict leaves out the image /etc/group memberships, Merge keeps them', async () => {
    const strict = await resolveUser(
      rootfs,
      req({ runAsUser: 1000, supplementalGroups: [1234], supplementalGroupsPolicy: 'Strict' }),
      undefined,
    );
    assert.deepEqual(strict, { uid: 1000, gid: 1000, additionalGids: [1234], username: 'app' });
    const merge = await resolveUser(
      rootfs,
      req({ runAsUser: 1000, supplementalGroups: [1234], supplementalGroupsPolicy: 'Merge' }),
      undefined,
    );
    assert.deepEqual(merge.additionalGids, [10, 50, 1234]);
  });
  it('run_as_username overrides run_as_user and the image', async () => {
    assert.deepEqual(await resolveUser(rootfs, req({ runAsUsername: 'app', runAsUser: 0 }), 'web'), {
      uid: 1000,
      gid: 1000,
      additionalGids: [10, 50],
      username: 'app',
    });
  });
  it('run_as_group replaces the primary gid, which leaves the supplementary list', async () => {
    assert.deepEqual(await resolveUser(rootfs, req({ runAsUser: 1000, runAsGroup: 50 }), undefined), {
      uid: 1000,
      gid: 50,
      additionalGids: [10],
      username: 'app',
    });
    assert.deepEqual(await resolveUser(rootfs, req({ runAsUsername: 'app', runAsGroup: 3000 }), undefined), {
      uid: 1000,
      gid: 3000,
      additionalGids: [10, 50],
      username: 'app',
    });
  });
  it('refuses run_as_group without a CRI user, as containerd does', async () => {
    await rejectsWith(resolveUser(rootfs, req({ runAsGroup: 3000 }), 'app'), 'run_as_group');
  });
  it('CRI supplemental groups are added, deduplicated, sorted, primary left out', async () => {
    assert.deepEqual(await resolveUser(rootfs, req({ runAsUser: 1000, supplementalGroups: [2000, 50, 1000, 2000, 5] }), undefined), {
      uid: 1000,
      gid: 1000,
      additionalGids: [5, 10, 50, 2000],
      username: 'app',
    });
  });
  it('unknown names are INVALID_ARGUMENT naming them', async () => {
    await rejectsWith(resolveUser(rootfs, req(), 'ghost'), '"ghost"');
    await rejectsWith(resolveUser(rootfs, req({ runAsUsername: 'nobody2' }), undefined), '"nobody2"');
    await rejectsWith(resolveUser(rootfs, req(), 'app:nogroup'), '"nogroup"');
    await rejectsWith(resolveUser(bare, req(), 'app'), '"app"');
  });
  it('bad ids are refused', async () => {
    await rejectsWith(resolveUser(rootfs, req({ runAsUser: -1 }), undefined), 'run_as_user');
    await rejectsWith(resolveUser(rootfs, req(), ':1000'), 'group without a user');
  });
});

describe('reading /etc inside the rootfs', () => {
  it('follows symlinks as the container would, never out of the rootfs', async () => {
    // An image whose /etc/passwd points at an absolute path, and whose /etc/group
    // climbs with "..": both must resolve inside the image.
    const evil = makeRoot('evil');
    mkdirSync(path.join(evil, 'data'), { recursive: true });
    writeFileSync(path.join(evil, 'data', 'pw'), 'evil:x:7:7::/:/bin/sh\n');
    writeFileSync(path.join(evil, 'data', 'gr'), 'evil:x:7:\nops:x:70:evil\n');
    symlinkSync('/data/pw', path.join(evil, 'etc', 'passwd'));
    symlinkSync('../../../../../../../../data/gr', path.join(evil, 'etc', 'group'));
    assert.equal(await resolveInRoot(evil, '/etc/passwd'), path.join(evil, 'data', 'pw'));
    assert.equal(await resolveInRoot(evil, '/etc/group'), path.join(evil, 'data', 'gr'));
    assert.deepEqual(await resolveUser(evil, req(), 'evil'), { uid: 7, gid: 7, additionalGids: [70], username: 'evil' });
  });
  it('a symlink loop is an error, not a hang', async () => {
    const r = makeRoot('loop');
    // ../../etc/group from /etc is /etc/group again.
    symlinkSync('../../../etc/group', path.join(r, 'etc', 'group'));
    await assert.rejects(readRootFile(r, '/etc/group'), /too many symlinks/);
  });
  it('an absolute symlink to a host file reads the image’s file of that name, or nothing', async () => {
    const r = makeRoot('abs');
    symlinkSync('/etc/shadow', path.join(r, 'etc', 'passwd'));
    assert.equal(await readRootFile(r, '/etc/passwd'), undefined);
    assert.deepEqual(await resolveUser(r, req(), '0'), { uid: 0, gid: 0, additionalGids: [] });
  });
  it('a symlinked /etc directory is followed inside the rootfs', async () => {
    const r = path.join(tmp, 'etclink');
    mkdirSync(path.join(r, 'real-etc'), { recursive: true });
    writeFileSync(path.join(r, 'real-etc', 'passwd'), 'svc:x:33:33::/:/bin/sh\n');
    symlinkSync('/real-etc', path.join(r, 'etc'));
    assert.deepEqual(await resolveUser(r, req(), 'svc'), { uid: 33, gid: 33, additionalGids: [], username: 'svc' });
  });
  it('refuses a non-regular file', async () => {
    const r = makeRoot('dir');
    mkdirSync(path.join(r, 'etc', 'passwd'));
    await assert.rejects(readRootFile(r, '/etc/passwd'), /not a regular file/);
  });
});
