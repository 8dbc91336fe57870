import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';

import { SkiffError } from '../../src/errors.js';
import { kernelAtLeast, runtimeDefaultSeccomp } from '../../src/security/seccomp/build-seccomp.js';
import { loadLocalhostSeccomp } from '../../src/security/seccomp/localhost-seccomp.js';
import type { OciSeccomp } from '../../src/security/seccomp/seccomp-types.js';

const allowed = (f: OciSeccomp): Set<string> =>
  new Set((f.syscalls ?? []).filter((r) => r.action === 'SCMP_ACT_ALLOW' && !r.args).flatMap((r) => r.names));
const DEFAULT_CAPS = ['CAP_CHOWN', 'CAP_KILL', 'CAP_NET_BIND_SERVICE', 'CAP_SETUID', 'CAP_SETGID'];

describe('RuntimeDefault seccomp', () => {
  it('denies with EPERM by default, for x86_64 and its 32-bit ABIs', () => {
    const f = runtimeDefaultSeccomp(DEFAULT_CAPS, 'x64', '6.1.0-18-amd64');
    assert.equal(f.defaultAction, 'SCMP_ACT_ERRNO');
    assert.equal(f.defaultErrnoRet, 1);
    assert.deepEqual(f.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32']);
    const a = allowed(f);
    for (const n of ['read', 'openat', 'execve', 'arch_prctl', 'ptrace', 'futex', 'clock_gettime64']) assert.ok(a.has(n), n);
    for (const n of [
      'mount',
      'unshare',
      'setns',
      'reboot',
      'chroot',
      'init_module',
      'keyctl',
      'add_key',
      'kexec_load',
      'clone',
      'clone3',
      'personality',
      'socket',
    ])
      assert.ok(!a.has(n), n);
  });

  it('keeps the argument rules: clone without namespace flags, clone3 ENOSYS, socket but AF_VSOCK, fixed personalities', () => {
    const f = runtimeDefaultSeccomp(DEFAULT_CAPS, 'x64', '6.1.0');
    const rules = f.syscalls ?? [];
    assert.deepEqual(rules.find((r) => r.names.includes('clone'))?.args, [
      { index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' },
    ]);
    assert.deepEqual(
      rules.find((r) => r.names.includes('clone3')),
      { names: ['clone3'], action: 'SCMP_ACT_ERRNO', errnoRet: 38 },
    );
    assert.deepEqual(rules.find((r) => r.names.includes('socket'))?.args, [{ index: 0, value: 40, op: 'SCMP_CMP_NE' }]);
    assert.deepEqual(
      rules.filter((r) => r.names.includes('personality')).map((r) => r.args?.[0]?.value),
      [0, 8, 0x20000, 0x20008, 0xffffffff],
    );
  });

  it('opens what a capability allows: CAP_SYS_ADMIN the mount family and a free clone, CAP_SYS_TIME the clock', () => {
    const admin = runtimeDefaultSeccomp([...DEFAULT_CAPS, 'CAP_SYS_ADMIN', 'CAP_SYS_TIME'], 'x64', '6.1.0');
    const a = allowed(admin);
    for (const n of ['mount', 'umount2', 'unshare', 'setns', 'clone', 'clone3', 'settimeofday', 'clock_settime']) assert.ok(a.has(n), n);
    assert.equal((admin.syscalls ?? []).filter((r) => r.names.includes('clone') && r.args).length, 0);
  });

  it('leaves ptrace out before Linux 4.8 and refuses an architecture it has no table for', () => {
    assert.ok(!allowed(runtimeDefaultSeccomp(DEFAULT_CAPS, 'x64', '4.4.0')).has('ptrace'));
    assert.ok(allowed(runtimeDefaultSeccomp([...DEFAULT_CAPS, 'CAP_SYS_PTRACE'], 'x64', '4.4.0')).has('ptrace'));
    assert.throws(() => runtimeDefaultSeccomp(DEFAULT_CAPS, 'mips', '6.1.0'));
    assert.equal(kernelAtLeast('4.8.0', 4, 8), true);
    assert.equal(kernelAtLeast('4.7.10', 4, 8), false);
    assert.equal(kernelAtLeast('10.0', 4, 8), true);
  });
});

describe('Localhost seccomp profiles', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'skiff-seccomp-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, body: unknown): string => {
    const p = path.join(dir, name);
    writeFileSync(p, typeof body === 'string' ? body : JSON.stringify(body));
    return p;
  };
  const ctx = { capabilities: DEFAULT_CAPS, arch: 'x64', kernelRelease: '6.1.0' };
  const refused = (ref: string, pattern: RegExp): void =>
    assert.throws(
      () => loadLocalhostSeccomp(ref, ctx),
      (err: SkiffError) => err.kind === 'InvalidArgument' && err.message.includes(ref) && pattern.test(err.message),
    );

  it('reads the OCI form as it is', () => {
    const p = file('oci.json', {
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_X86_64'],
      syscalls: [{ names: ['chmod', 'fchmodat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
    });
    assert.deepEqual(loadLocalhostSeccomp(p, ctx), {
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ['SCMP_ARCH_X86_64'],
      syscalls: [{ names: ['chmod', 'fchmodat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
    });
  });

  it("reads Docker's form: archMap for this architecture, name, includes and excludes", () => {
    const p = file('docker.json', {
      defaultAction: 'SCMP_ACT_ERRNO',
      archMap: [
        { architecture: 'SCMP_ARCH_AARCH64', subArchitectures: ['SCMP_ARCH_ARM'] },
        { architecture: 'SCMP_ARCH_X86_64', subArchitectures: ['SCMP_ARCH_X86'] },
      ],
      syscalls: [
        { name: 'read', action: 'SCMP_ACT_ALLOW' },
        { names: ['mount'], action: 'SCMP_ACT_ALLOW', includes: { caps: ['CAP_SYS_ADMIN'] } },
        { names: ['arch_prctl'], action: 'SCMP_ACT_ALLOW', includes: { arches: ['amd64'] } },
        {
          names: ['clone'],
          action: 'SCMP_ACT_ALLOW',
          args: [{ index: 0, value: 2114060288, op: 'SCMP_CMP_MASKED_EQ' }],
          excludes: { caps: ['CAP_SYS_ADMIN'] },
        },
        { names: ['ptrace'], action: 'SCMP_ACT_ALLOW', includes: { minKernel: '7.0' } },
      ],
    });
    const f = loadLocalhostSeccomp(p, ctx);
    assert.deepEqual(f.architectures, ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86']);
    assert.deepEqual(
      f.syscalls?.map((r) => r.names[0]),
      ['read', 'arch_prctl', 'clone'],
    );
  });

  it('refuses, naming the path: missing, relative, not JSON, unknown action or op, a seccomp agent', () => {
    refused(path.join(dir, 'missing.json'), /cannot read it \(ENOENT\)/);
    refused('relative/profile.json', /absolute/);
    refused(file('garbage.json', '{ not json'), /not JSON/);
    refused(file('action.json', { defaultAction: 'SCMP_ACT_MAYBE' }), /unknown action/);
    refused(
      file('op.json', {
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['read'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 1, op: 'SCMP_CMP_SOMETIMES' }] }],
      }),
      /unknown op/,
    );
    refused(file('notify.json', { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/agent.sock' }), /agent/);
    refused(file('nonames.json', { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ action: 'SCMP_ACT_ERRNO' }] }), /needs names/);
  });
});
