import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';

import { processGroups } from '../../src/container/oci-spec/build-spec.js';
import type { UserNamespaceRequest } from '../../src/container/types.js';
import { SkiffError } from '../../src/errors.js';
import { handlerFeaturesFrom } from '../../src/runtime/handler-features.js';
import { checkHostname } from '../../src/sandbox/names.js';
import { planSysctls } from '../../src/sandbox/sysctls.js';
import { apparmorFor, loadedProfiles } from '../../src/security/apparmor.js';
import { checkUserNamespace } from '../../src/security/user-namespace.js';
import { groupsPolicy, userNamespace } from '../../src/server/convert/container-config.js';

function throwsKind(fn: () => unknown, kind: string, text: string | RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof SkiffError, String(err));
    assert.equal(err.kind, kind, err.message);
    if (typeof text === 'string') assert.ok(err.message.includes(text), err.message);
    else assert.match(err.message, text);
    return true;
  });
}

const one = (containerId: number, hostId: number, length: number) => [{ containerId, hostId, length }];
const pod = (uids = one(0, 100000, 65536), gids = uids): UserNamespaceRequest => ({ mode: 'POD', uids, gids });
const F = 'userns_options';

describe('user namespace requests', () => {
  it('host user namespace (unset or NODE) passes on any handler', () => {
    checkUserNamespace(undefined, F, 'runc', false);
    checkUserNamespace({ mode: 'NODE', uids: [], gids: [] }, F, 'runc', false);
  });
  it('NODE with mappings, CONTAINER and TARGET are invalid', () => {
    throwsKind(
      () => checkUserNamespace({ mode: 'NODE', uids: one(0, 1000, 10), gids: [] }, F, 'runc', true),
      'InvalidArgument',
      'only for mode POD',
    );
    throwsKind(() => checkUserNamespace({ mode: 'CONTAINER', uids: [], gids: [] }, F, 'runc', true), 'InvalidArgument', 'CONTAINER');
    throwsKind(() => checkUserNamespace({ mode: 'TARGET', uids: [], gids: [] }, F, 'runc', true), 'InvalidArgument', 'TARGET');
  });
  it('mappings must be one range from container id 0, inside 32 bits, not host root', () => {
    throwsKind(
      () => checkUserNamespace(pod([...one(0, 1000, 10), ...one(10, 5000, 10)]), F, 'runc', true),
      'InvalidArgument',
      'uids: exactly one',
    );
    throwsKind(() => checkUserNamespace(pod(one(1, 1000, 100000)), F, 'runc', true), 'InvalidArgument', 'container id 0');
    throwsKind(() => checkUserNamespace(pod(one(0, 1000, 0)), F, 'runc', true), 'InvalidArgument', 'positive');
    throwsKind(() => checkUserNamespace(pod(one(0, 2 ** 32 - 10, 100)), F, 'runc', true), 'InvalidArgument', '32-bit');
    throwsKind(() => checkUserNamespace(pod(one(0, 0, 65536)), F, 'runc', true), 'InvalidArgument', 'host id 0');
    throwsKind(() => checkUserNamespace(pod(one(0, 1000, 10), []), F, 'runc', true), 'InvalidArgument', 'gids');
  });
  it('a valid POD request is refused where the handler cannot run it, accepted where it can', () => {
    throwsKind(() => checkUserNamespace(pod(), F, 'runc', false), 'FailedPrecondition', 'runtime handler "runc"');
    checkUserNamespace(pod(), F, 'runc', true);
  });
  it('converts the CRI message, keeping the mode for the check to judge', () => {
    assert.equal(userNamespace(null), undefined);
    assert.deepEqual(userNamespace({ mode: 'POD', uids: [{ containerId: 0, hostId: 7, length: 3 }], gids: [] }), {
      mode: 'POD',
      uids: [{ containerId: 0, hostId: 7, length: 3 }],
      gids: [],
    });
  });
});

const NO_IDMAP = { ok: false as const, reason: 'no idmap here' };

describe('runtime handler features', () => {
  it('rro where the runtime lists it and the kernel has mount_setattr', () => {
    const json = JSON.stringify({ mountOptions: ['ro', 'rro', 'rbind'] });
    assert.equal(handlerFeaturesFrom(json, '6.1.0-18-amd64', NO_IDMAP).recursiveReadOnlyMounts, true);
    assert.equal(handlerFeaturesFrom(json, '5.10.0', NO_IDMAP).recursiveReadOnlyMounts, false);
    assert.equal(handlerFeaturesFrom(JSON.stringify({ mountOptions: ['ro'] }), '6.1', NO_IDMAP).recursiveReadOnlyMounts, false);
  });
  it('user namespaces where the runtime lists them and the host idmaps layers', () => {
    const json = JSON.stringify({ mountOptions: [], linux: { namespaces: ['mount', 'user', 'pid'] } });
    assert.equal(handlerFeaturesFrom(json, '6.1', { ok: true }).userNamespaces, true);
    assert.equal(handlerFeaturesFrom(json, '6.1', NO_IDMAP).userNamespaces, false);
    assert.ok(handlerFeaturesFrom(json, '6.1', NO_IDMAP).notes.some((n) => n.includes('no idmap here')));
    assert.equal(handlerFeaturesFrom(JSON.stringify({ linux: { namespaces: ['mount'] } }), '6.1', { ok: true }).userNamespaces, false);
  });
  it('nothing optional when the runtime cannot say', () => {
    const none = handlerFeaturesFrom(undefined, '6.1', NO_IDMAP);
    assert.equal(none.recursiveReadOnlyMounts, false);
    assert.equal(handlerFeaturesFrom('not json', '6.1', NO_IDMAP).recursiveReadOnlyMounts, false);
    assert.equal(handlerFeaturesFrom(JSON.stringify({ mountOptions: ['rro'] }), '6.1', NO_IDMAP).userNamespaces, false);
    assert.ok(none.notes.some((n) => n.includes('features')));
  });
});

describe('AppArmor', () => {
  const off = { enabled: false, loaded: () => new Set<string>() };
  const on = { enabled: true, loaded: () => new Set(['skiff-default', 'my-profile']) };
  it('without AppArmor: RuntimeDefault and Unconfined are no-ops, Localhost is refused', () => {
    assert.equal(apparmorFor({ type: 'RuntimeDefault', localhostRef: '' }, false, off), undefined);
    assert.equal(apparmorFor({ type: 'Unconfined', localhostRef: '' }, false, off), undefined);
    assert.equal(apparmorFor(undefined, false, off), undefined);
    throwsKind(() => apparmorFor({ type: 'Localhost', localhostRef: 'my-profile' }, false, off), 'FailedPrecondition', 'my-profile');
  });
  it('with AppArmor: the loaded profile named, unconfined, nothing when privileged', () => {
    assert.equal(apparmorFor({ type: 'RuntimeDefault', localhostRef: '' }, false, on), 'skiff-default');
    assert.equal(apparmorFor({ type: 'Localhost', localhostRef: 'my-profile' }, false, on), 'my-profile');
    assert.equal(apparmorFor({ type: 'Unconfined', localhostRef: '' }, false, on), 'unconfined');
    assert.equal(apparmorFor({ type: 'Localhost', localhostRef: 'my-profile' }, true, on), undefined);
    throwsKind(() => apparmorFor({ type: 'Localhost', localhostRef: 'missing' }, false, on), 'FailedPrecondition', 'not loaded');
  });
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'skiff-aa-'));
  after(() => rmSync(tmp, { recursive: true, force: true }));
  it('reads the kernel list of loaded profiles', () => {
    mkdirSync(path.join(tmp, 'apparmor'));
    writeFileSync(path.join(tmp, 'apparmor', 'profiles'), 'skiff-default (enforce)\n/usr/bin/man (complain)\n');
    assert.deepEqual([...loadedProfiles(tmp)], ['skiff-default', '/usr/bin/man']);
    assert.equal(loadedProfiles(path.join(tmp, 'none')).size, 0);
  });
});

describe('pod hostname', () => {
  it('accepts RFC 1123 names up to 64 characters and the empty name', () => {
    for (const h of ['', 'web-0', 'a.b.c', 'A1', 'x'.repeat(63), `${'a'.repeat(31)}.${'b'.repeat(32)}`]) checkHostname(h);
  });
  it('refuses what would break sethostname or /etc/hosts', () => {
    for (const h of ['a b', 'evil\n1.2.3.4 bank', '-lead', 'trail-', 'a..b', 'x'.repeat(65), 'under_score', `${'a'.repeat(64)}.b`])
      throwsKind(() => checkHostname(h), 'InvalidArgument', 'config.hostname');
  });
});

describe('supplementary groups', () => {
  it('policy names and numbers; unknown refused', () => {
    assert.equal(groupsPolicy(undefined, 'p'), 'Merge');
    assert.equal(groupsPolicy('Strict', 'p'), 'Strict');
    assert.equal(groupsPolicy(1, 'p'), 'Strict');
    throwsKind(() => groupsPolicy(7, 'supplemental_groups_policy'), 'InvalidArgument', 'supplemental_groups_policy');
  });
  it('the process groups include the primary gid once, ascending', () => {
    assert.deepEqual(processGroups({ gid: 1000, additionalGids: [50000, 1234] }), [1000, 1234, 50000]);
    assert.deepEqual(processGroups({ gid: 5, additionalGids: [5] }), [5]);
  });
});

describe('pod sysctls against the namespaces they touch', () => {
  const own = { net: true, ipc: true, uts: true };
  it('net.* needs the pod network, kernel.shm*/fs.mqueue.* the pod IPC', () => {
    assert.deepEqual(planSysctls({ 'net.ipv4.ip_forward': '1', 'kernel.shmmax': '65536' }, own), [
      'net.ipv4.ip_forward=1',
      'kernel.shmmax=65536',
    ]);
    throwsKind(() => planSysctls({ 'net.ipv4.ip_forward': '1' }, { ...own, net: false }), 'InvalidArgument', 'net.ipv4.ip_forward');
    throwsKind(() => planSysctls({ 'kernel.shm_rmid_forced': '1' }, { ...own, ipc: false }), 'InvalidArgument', 'ipc namespace');
    throwsKind(() => planSysctls({ 'fs.mqueue.msg_max': '10' }, { ...own, ipc: false }), 'InvalidArgument', 'fs.mqueue.msg_max');
  });
  it('host-wide sysctls and bad names or values are refused', () => {
    throwsKind(() => planSysctls({ 'vm.swappiness': '1' }, own), 'InvalidArgument', 'not namespaced');
    throwsKind(() => planSysctls({ 'net.a b': '1' }, own), 'InvalidArgument', 'not a valid name');
    throwsKind(() => planSysctls({ 'net.ipv4.ip_forward': '1\nkernel.x=1' }, own), 'InvalidArgument', 'invalid value');
  });
});
