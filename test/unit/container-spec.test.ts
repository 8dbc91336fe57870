import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { baseContainerConfig } from '../../src/container/base-config.js';
import { cgroupsPathOf } from '../../src/container/bundle.js';
import { DEFAULT_CAPABILITIES, DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS } from '../../src/container/oci-spec/defaults.js';
import { devMajor, devMinor, hostDevices } from '../../src/container/oci-spec/devices.js';
import { buildSpec, CRI_ANNOTATIONS, requiresHostPropagation, type SpecInput } from '../../src/container/oci-spec/index.js';
import { processArgs } from '../../src/container/oci-spec/process-args.js';
import type { ContainerConfig, ContainerMount } from '../../src/container/types.js';
import { SkiffError } from '../../src/errors.js';
import type { HostFeatures } from '../../src/host/features.js';
import type { ImageConfig } from '../../src/image/oci-types.js';
import type { SandboxRecord } from '../../src/sandbox/types.js';

// Everything a host of ours could have in its bounding set, minus CAP_SYS_RESOURCE (as on the CI host).
const BOUNDING = [...DEFAULT_CAPABILITIES, 'CAP_NET_ADMIN', 'CAP_SYS_ADMIN', 'CAP_SYS_PTRACE', 'CAP_SYS_TIME', 'CAP_IPC_LOCK'];

function config(over: Partial<ContainerConfig> = {}, sc: Partial<ContainerConfig['linux']['securityContext']> = {}): ContainerConfig {
  const base = baseContainerConfig('app', 'docker.io/library/busybox:1.36');
  return {
    ...base,
    logPath: 'app/0.log',
    ...over,
    linux: {
      resources: { ...base.linux.resources, ...over.linux?.resources },
      securityContext: { ...base.linux.securityContext, ...sc },
    },
  };
}

function sandbox(over: Partial<SandboxRecord> = {}, privileged = false): SandboxRecord {
  return {
    id: 'sb1',
    name: 'pod_ns_uid_0',
    config: {
      metadata: { name: 'pod', uid: 'uid-1', namespace: 'ns', attempt: 0 },
      hostname: 'pod-host',
      logDirectory: '/var/log/pods/x',
      dns: undefined,
      portMappings: [],
      labels: {},
      annotations: {},
      cgroupParent: '/kubepods/pod1',
      sysctls: {},
      namespaces: { network: 'POD', pid: 'CONTAINER', ipc: 'POD', targetId: '' },
      privileged,
      runtimeHandler: '',
    },
    version: 1,
    createdAt: '0',
    runtimeHandler: '',
    dir: '/run/skiff/pods/sb1',
    pins: { net: '/run/skiff/ns/sb1.net', uts: '/run/skiff/ns/sb1.uts', ipc: '/run/skiff/ns/sb1.ipc' },
    shmPath: '/run/skiff/pods/sb1/shm',
    resolvConfPath: '/run/skiff/pods/sb1/resolv.conf',
    hostnamePath: '/run/skiff/pods/sb1/hostname',
    hostsPath: '',
    cgroupParent: '/kubepods/pod1',
    ownedCgroups: [],
    status: { state: 'ready', ips: [], cniAttempted: true },
    ...over,
  };
}

function image(cfg: ImageConfig['config'] = {}): ImageConfig {
  return { rootfs: { type: 'layers', diff_ids: [] }, config: { Cmd: ['sh'], ...cfg } };
}

/** A cgroup v1 host with swap accounting and no usable hugetlb, unless told otherwise. */
function host(
  over: { cgroup?: Partial<HostFeatures['cgroup']>; boundingCaps?: readonly string[]; ownOomScoreAdj?: number; selinux?: boolean } = {},
): HostFeatures {
  return {
    cgroup: { cgroupV2: false, swapAccounting: true, hugetlb: false, ...over.cgroup },
    boundingCaps: over.boundingCaps ?? BOUNDING,
    ownOomScoreAdj: over.ownOomScoreAdj ?? 0,
    apparmor: false,
    selinux: over.selinux ?? false,
  };
}

const HOST_FUSE = { type: 'c' as const, path: '/dev/fuse', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 };

function input(over: Partial<SpecInput> = {}): SpecInput {
  return {
    id: 'c1',
    rootfs: '/run/skiff/containers/c1/rootfs',
    config: config(),
    image: image(),
    sandbox: sandbox(),
    user: { uid: 0, gid: 0, additionalGids: [] },
    host: host(),
    cgroupsPath: '/kubepods/pod1/c1',
    handler: { name: 'runc', recursiveReadOnlyMounts: true },
    hostDevices: () => [HOST_FUSE],
    ...over,
  };
}

function throwsKind(fn: () => unknown, kind: string, text: string | RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof SkiffError, String(err));
    assert.equal(err.kind, kind);
    if (typeof text === 'string') assert.ok(err.message.includes(text), err.message);
    else assert.match(err.message, text);
    return true;
  });
}

let tmp: string;
before(() => {
  tmp = mkdtempSync(path.join(os.tmpdir(), 'skiff-spec-'));
});
after(() => rmSync(tmp, { recursive: true, force: true }));

describe('processArgs (command/args × Entrypoint/Cmd)', () => {
  const E = ['/entry', '-e'];
  const C = ['cmd', '-c'];
  const cases: [string, string[], string[], string[] | null, string[] | null, string[] | 'error'][] = [
    ['nothing given, image both', [], [], E, C, [...E, ...C]],
    ['nothing given, image Entrypoint only', [], [], E, null, E],
    ['nothing given, image Cmd only', [], [], null, C, C],
    ['nothing anywhere', [], [], null, null, 'error'],
    ['args only: replace Cmd, keep Entrypoint', [], ['a1'], E, C, [...E, 'a1']],
    ['args only, no Entrypoint', [], ['a1'], null, C, ['a1']],
    ['command only: replaces Entrypoint, drops Cmd', ['/bin/x'], [], E, C, ['/bin/x']],
    ['command and args', ['/bin/x'], ['a1', 'a2'], E, C, ['/bin/x', 'a1', 'a2']],
    ['command with image lacking everything', ['/bin/x'], [], null, null, ['/bin/x']],
    ['Entrypoint [""] means none', [], [], [''], C, C],
    ['Entrypoint [""] with args', [], ['a1'], [''], C, ['a1']],
    ['Entrypoint [""] and no Cmd', [], [], [''], null, 'error'],
    ['empty Cmd array', [], [], E, [], E],
  ];
  for (const [name, command, args, ep, cmd, want] of cases) {
    it(name, () => {
      if (want === 'error') throwsKind(() => processArgs(command, args, ep, cmd), 'InvalidArgument', 'no command specified');
      else assert.deepEqual(processArgs(command, args, ep, cmd), want);
    });
  }
  it('buildSpec uses it', () => {
    const s = buildSpec(input({ config: config({ args: ['-c', 'true'] }), image: image({ Entrypoint: ['/bin/sh'], Cmd: ['x'] }) }));
    assert.deepEqual(s.process.args, ['/bin/sh', '-c', 'true']);
  });
});

describe('buildSpec: environment and working directory', () => {
  it('merges default PATH, HOSTNAME, image Env and CRI envs by key, later wins', () => {
    const s = buildSpec(
      input({
        image: image({ Env: ['PATH=/image/bin', 'A=image', 'B=image', 'EMPTY='] }),
        config: config({
          envs: [
            { key: 'B', value: 'cri' },
            { key: 'C', value: 'x=y' },
          ],
        }),
      }),
    );
    assert.deepEqual(s.process.env, ['PATH=/image/bin', 'HOSTNAME=pod-host', 'A=image', 'B=cri', 'EMPTY=', 'C=x=y']);
  });
  it('keeps the default PATH when the image has none', () => {
    const s = buildSpec(input({ image: image({ Env: [] }) }));
    assert.ok(s.process.env.includes('PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'));
  });
  it('lets kubelet override HOSTNAME', () => {
    const s = buildSpec(input({ config: config({ envs: [{ key: 'HOSTNAME', value: 'other' }] }) }));
    assert.deepEqual(
      s.process.env.filter((e) => e.startsWith('HOSTNAME=')),
      ['HOSTNAME=other'],
    );
  });
  it('working dir: CRI, then image, then /', () => {
    assert.equal(buildSpec(input({ config: config({ workingDir: '/cri' }), image: image({ WorkingDir: '/img' }) })).process.cwd, '/cri');
    assert.equal(buildSpec(input({ image: image({ WorkingDir: '/img' }) })).process.cwd, '/img');
    assert.equal(buildSpec(input()).process.cwd, '/');
    assert.equal(buildSpec(input({ image: image({ WorkingDir: 'rel/dir' }) })).process.cwd, '/rel/dir');
  });
  it('tty, user, root, no hostname', () => {
    const s = buildSpec(
      input({ config: config({ tty: true }, { readonlyRootfs: true }), user: { uid: 1000, gid: 100, additionalGids: [5, 6] } }),
    );
    assert.equal(s.process.terminal, true);
    // The primary gid is a supplementary group too (as containerd and Docker set it).
    assert.deepEqual(s.process.user, { uid: 1000, gid: 100, additionalGids: [5, 6, 100] });
    assert.deepEqual(s.root, { path: '/run/skiff/containers/c1/rootfs', readonly: true });
    assert.equal(s.hostname, undefined);
    assert.equal(s.process.rlimits, undefined, 'rlimits are inherited by default');
    assert.equal(s.ociVersion, '1.0.2-dev');
  });
});

describe('buildSpec: capabilities', () => {
  const caps = (sc: Partial<ContainerConfig['linux']['securityContext']>, bounding = BOUNDING, sbPriv = false) =>
    buildSpec(input({ config: config({}, sc), host: host({ boundingCaps: bounding }), sandbox: sandbox({}, sbPriv) })).process.capabilities;

  it('defaults', () => {
    const c = caps({});
    assert.deepEqual(c.bounding, [...DEFAULT_CAPABILITIES]);
    assert.deepEqual(c.effective, c.bounding);
    assert.deepEqual(c.permitted, c.bounding);
    assert.deepEqual(c.inheritable, []);
    assert.deepEqual(c.ambient, []);
  });
  it('add and drop, with or without the CAP_ prefix, any case', () => {
    const c = caps({ capabilities: { add: ['NET_ADMIN', 'cap_sys_time'], drop: ['CHOWN', 'CAP_KILL'] } });
    assert.ok(c.bounding.includes('CAP_NET_ADMIN') && c.bounding.includes('CAP_SYS_TIME'));
    assert.ok(!c.bounding.includes('CAP_CHOWN') && !c.bounding.includes('CAP_KILL'));
  });
  it('add ALL gives the whole bounding set, minus named drops', () => {
    const c = caps({ capabilities: { add: ['ALL'], drop: ['CHOWN'] } });
    assert.deepEqual(new Set(c.bounding), new Set(BOUNDING.filter((x) => x !== 'CAP_CHOWN')));
  });
  it('drop ALL then add named', () => {
    assert.deepEqual(caps({ capabilities: { add: ['NET_BIND_SERVICE'], drop: ['all'] } }).bounding, ['CAP_NET_BIND_SERVICE']);
    assert.deepEqual(caps({ capabilities: { add: [], drop: ['ALL'] } }).bounding, []);
  });
  it('refuses an explicit add the bounding set lacks (CAP_SYS_RESOURCE here), and unknown names', () => {
    throwsKind(() => caps({ capabilities: { add: ['SYS_RESOURCE', 'NET_ADMIN'], drop: [] } }), 'FailedPrecondition', 'CAP_SYS_RESOURCE');
    throwsKind(() => caps({ capabilities: { add: [], drop: [], addAmbient: ['SYS_RESOURCE'] } }), 'FailedPrecondition', 'CAP_SYS_RESOURCE');
    throwsKind(() => caps({ capabilities: { add: ['CAP_FLY'], drop: [] } }), 'InvalidArgument', 'CAP_FLY');
    throwsKind(() => caps({ capabilities: { add: [], drop: ['wings'] } }), 'InvalidArgument', 'wings');
    // Dropping one the runtime lacks is fine, and ALL is cut to what there is.
    assert.ok(caps({ capabilities: { add: [], drop: ['SYS_RESOURCE'] } }).bounding.includes('CAP_CHOWN'));
    assert.ok(!caps({ capabilities: { add: ['ALL'], drop: [] } }).bounding.includes('CAP_SYS_RESOURCE'));
    assert.deepEqual(caps({}, ['CAP_CHOWN', 'CAP_KILL']).bounding, ['CAP_CHOWN', 'CAP_KILL']);
  });
  it('privileged gets the whole bounding set, ignoring drops', () => {
    const c = caps({ privileged: true, capabilities: { add: [], drop: ['ALL'] } }, BOUNDING, true);
    assert.deepEqual(new Set(c.bounding), new Set(BOUNDING));
  });
  it('ambient only when asked, also inheritable and permitted', () => {
    const c = caps({ capabilities: { add: [], drop: [], addAmbient: ['NET_ADMIN'] } });
    assert.deepEqual(c.ambient, ['CAP_NET_ADMIN']);
    assert.deepEqual(c.inheritable, ['CAP_NET_ADMIN']);
    assert.ok(c.permitted.includes('CAP_NET_ADMIN') && c.effective.includes('CAP_NET_ADMIN'));
  });
  it('a privileged container needs a privileged sandbox', () => {
    throwsKind(() => caps({ privileged: true }), 'InvalidArgument', 'privileged');
  });
});

describe('buildSpec: oom_score_adj and no_new_privs', () => {
  const oom = (req: number, min: number) =>
    buildSpec(
      input({
        config: config({ linux: { resources: { oomScoreAdj: req } } } as Partial<ContainerConfig>),
        host: host({ ownOomScoreAdj: min }),
      }),
    ).process.oomScoreAdj;
  it('clamps negative requests up to the runtime’s own value', () => {
    assert.equal(oom(-998, 0), 0);
    assert.equal(oom(-998, -500), -500);
    assert.equal(oom(-998, -1000), -998);
    assert.equal(oom(1000, 0), 1000);
    assert.equal(oom(0, 0), 0);
  });
  it('noNewPrivileges follows the request', () => {
    assert.equal(buildSpec(input({ config: config({}, { noNewPrivs: true }) })).process.noNewPrivileges, true);
    assert.equal(buildSpec(input()).process.noNewPrivileges, false);
  });
});

describe('buildSpec: mounts', () => {
  const dest = (s: ReturnType<typeof buildSpec>) => s.mounts.map((m) => m.destination);
  const find = (s: ReturnType<typeof buildSpec>, d: string) => s.mounts.find((m) => m.destination === d);
  const mount = (over: Partial<ContainerMount>): ContainerMount => ({
    containerPath: '/data',
    hostPath: tmp,
    readonly: false,
    selinuxRelabel: false,
    propagation: 'private',
    recursiveReadOnly: false,
    ...over,
  });

  it('has the defaults', () => {
    const s = buildSpec(input());
    assert.deepEqual(dest(s), [
      '/proc',
      '/dev',
      '/dev/pts',
      '/dev/mqueue',
      '/sys',
      '/sys/fs/cgroup',
      '/dev/shm',
      '/etc/resolv.conf',
      '/etc/hostname',
    ]);
    assert.deepEqual(find(s, '/sys')?.options, ['nosuid', 'noexec', 'nodev', 'ro']);
    assert.deepEqual(find(s, '/sys/fs/cgroup')?.options, ['nosuid', 'noexec', 'nodev', 'relatime', 'ro']);
    assert.deepEqual(find(s, '/dev')?.options, ['nosuid', 'strictatime', 'mode=755', 'size=65536k']);
    assert.deepEqual(find(s, '/dev/pts')?.options, ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5']);
    assert.deepEqual(find(s, '/dev/shm'), {
      destination: '/dev/shm',
      source: '/run/skiff/pods/sb1/shm',
      options: ['rbind', 'rprivate', 'rw'],
      type: 'bind',
    });
    assert.deepEqual(find(s, '/etc/resolv.conf')?.source, '/run/skiff/pods/sb1/resolv.conf');
    assert.deepEqual(find(s, '/etc/hostname')?.source, '/run/skiff/pods/sb1/hostname');
    assert.equal(s.linux.rootfsPropagation, undefined);
  });
  it('pod files are read-only with a read-only rootfs (but not /dev/shm)', () => {
    const s = buildSpec(input({ config: config({}, { readonlyRootfs: true }), hostsPath: '/run/h' }));
    assert.ok(find(s, '/etc/resolv.conf')?.options.includes('ro'));
    assert.ok(find(s, '/etc/hosts')?.options.includes('ro'));
    assert.ok(find(s, '/dev/shm')?.options.includes('rw'));
  });
  it('privileged: /sys and cgroup writable', () => {
    const s = buildSpec(input({ config: config({}, { privileged: true }), sandbox: sandbox({}, true) }));
    assert.ok(find(s, '/sys')?.options.includes('rw'));
    assert.ok(find(s, '/sys/fs/cgroup')?.options.includes('rw'));
  });
  it('CRI mounts: propagation and read-only options', () => {
    const s = buildSpec(
      input({
        config: config({
          mounts: [
            mount({ containerPath: '/p', propagation: 'private' }),
            mount({ containerPath: '/s', propagation: 'hostToContainer', readonly: true }),
            mount({ containerPath: '/b', propagation: 'bidirectional' }),
            mount({ containerPath: '/r', readonly: true, recursiveReadOnly: true }),
          ],
        }),
      }),
    );
    assert.deepEqual(find(s, '/p'), { destination: '/p', source: tmp, options: ['rbind', 'rprivate', 'rw'], type: 'bind' });
    assert.deepEqual(find(s, '/s')?.options, ['rbind', 'rslave', 'ro']);
    assert.deepEqual(find(s, '/b')?.options, ['rbind', 'rshared', 'rw']);
    assert.deepEqual(find(s, '/r')?.options, ['rbind', 'rprivate', 'ro', 'rro']);
    assert.equal(s.linux.rootfsPropagation, 'rshared');
  });
  it('rootfs propagation rslave for host-to-container only', () => {
    const s = buildSpec(input({ config: config({ mounts: [mount({ propagation: 'hostToContainer' })] }) }));
    assert.equal(s.linux.rootfsPropagation, 'rslave');
  });
  it('recursive read-only needs readonly and private propagation', () => {
    throwsKind(() => buildSpec(input({ config: config({ mounts: [mount({ recursiveReadOnly: true })] }) })), 'InvalidArgument', 'readonly');
    throwsKind(
      () =>
        buildSpec(
          input({ config: config({ mounts: [mount({ recursiveReadOnly: true, readonly: true, propagation: 'hostToContainer' })] }) }),
        ),
      'InvalidArgument',
      'private',
    );
  });
  it('recursive read-only is refused where the handler cannot apply it', () => {
    const rro = config({ mounts: [mount({ recursiveReadOnly: true, readonly: true })] });
    throwsKind(
      () => buildSpec(input({ config: rro, handler: { name: 'crun', recursiveReadOnlyMounts: false } })),
      'FailedPrecondition',
      'runtime handler "crun"',
    );
  });
  it('SELinux labels: refused where SELinux is on (none are applied), no-ops where it is off', () => {
    const labelled = config({}, { selinuxLabel: true });
    throwsKind(() => buildSpec(input({ config: labelled, host: host({ selinux: true }) })), 'FailedPrecondition', 'SELinux');
    const relabel = config({ mounts: [mount({ selinuxRelabel: true })] });
    throwsKind(() => buildSpec(input({ config: relabel, host: host({ selinux: true }) })), 'FailedPrecondition', 'SELinux');
    buildSpec(input({ config: labelled }));
  });
  it('AppArmor Localhost is refused on a host without AppArmor', () => {
    throwsKind(
      () => buildSpec(input({ config: config({}, { apparmor: { type: 'Localhost', localhostRef: 'p1' } }) })),
      'FailedPrecondition',
      'AppArmor is not enabled',
    );
    assert.equal(
      buildSpec(input({ config: config({}, { apparmor: { type: 'RuntimeDefault', localhostRef: '' } }) })).process.apparmorProfile,
      undefined,
    );
  });
  it('a missing host path is an error naming it', () => {
    const missing = path.join(tmp, 'nope');
    throwsKind(() => buildSpec(input({ config: config({ mounts: [mount({ hostPath: missing })] }) })), 'InvalidArgument', missing);
  });
  it('relative paths are refused', () => {
    throwsKind(() => buildSpec(input({ config: config({ mounts: [mount({ containerPath: 'data' })] }) })), 'InvalidArgument', 'absolute');
    throwsKind(() => buildSpec(input({ config: config({ mounts: [mount({ hostPath: 'rel' })] }) })), 'InvalidArgument', 'absolute');
  });
  it('resolves symlinks in host paths', () => {
    const real = path.join(tmp, 'real');
    mkdirSync(real, { recursive: true });
    const link = path.join(tmp, 'link');
    symlinkSync(real, link);
    const s = buildSpec(input({ config: config({ mounts: [mount({ hostPath: link })] }) }));
    assert.equal(find(s, '/data')?.source, real);
  });
  it('/etc/hosts: bound from hostsPath unless kubelet mounts one', () => {
    const hosts = path.join(tmp, 'hosts');
    writeFileSync(hosts, '127.0.0.1 localhost\n');
    assert.equal(find(buildSpec(input({ hostsPath: '/run/skiff/pods/sb1/hosts' })), '/etc/hosts')?.source, '/run/skiff/pods/sb1/hosts');
    const s = buildSpec(
      input({
        hostsPath: '/run/skiff/pods/sb1/hosts',
        config: config({ mounts: [mount({ containerPath: '/etc/hosts', hostPath: hosts })] }),
      }),
    );
    const all = s.mounts.filter((m) => m.destination === '/etc/hosts');
    assert.equal(all.length, 1);
    assert.equal(all[0]!.source, hosts);
    assert.equal(find(buildSpec(input()), '/etc/hosts'), undefined);
  });
  it('a CRI mount replaces a default one with the same destination', () => {
    const s = buildSpec(
      input({
        config: config({ mounts: [mount({ containerPath: '/dev/shm/' }), mount({ containerPath: '/etc/resolv.conf', hostPath: tmp })] }),
      }),
    );
    assert.deepEqual(
      s.mounts.filter((m) => m.destination === '/dev/shm').map((m) => m.source),
      [tmp],
    );
    assert.deepEqual(
      s.mounts.filter((m) => m.destination === '/etc/resolv.conf').map((m) => m.source),
      [tmp],
    );
  });
  it('a CRI /dev replaces everything under /dev', () => {
    const s = buildSpec(input({ config: config({ mounts: [mount({ containerPath: '/dev' })] }) }));
    assert.deepEqual(
      dest(s).filter((d) => d.startsWith('/dev')),
      ['/dev'],
    );
  });
  it('orders binds by depth so that deeper ones are not hidden', () => {
    const s = buildSpec(
      input({
        config: config({ mounts: [mount({ containerPath: '/a/b/c' }), mount({ containerPath: '/etc' }), mount({ containerPath: '/a' })] }),
      }),
    );
    const d = dest(s);
    assert.ok(d.indexOf('/etc') < d.indexOf('/etc/resolv.conf'));
    assert.ok(d.indexOf('/a') < d.indexOf('/a/b/c'));
  });
  it('requiresHostPropagation lists resolved paths of non-private binds', () => {
    const link = path.join(tmp, 'link2');
    symlinkSync(tmp, link);
    assert.deepEqual(
      requiresHostPropagation([
        mount({ propagation: 'private' }),
        mount({ propagation: 'bidirectional', hostPath: link }),
        mount({ propagation: 'hostToContainer' }),
      ]),
      [
        { path: tmp, mode: 'shared' },
        { path: tmp, mode: 'slave' },
      ],
    );
  });
});

describe('buildSpec: devices', () => {
  it('decodes dev_t like glibc', () => {
    assert.equal(devMajor(0x0103n), 1);
    assert.equal(devMinor(0x0103n), 3);
    // major 259, minor 1048575: the split encoding.
    const big = (0xfffffn & 0xffn) | ((259n & 0xfffn) << 8n) | ((0xfffffn & ~0xffn) << 12n);
    assert.equal(devMajor(big), 259);
    assert.equal(devMinor(big), 0xfffff);
  });
  it('creates the node and allows it after deny-all', () => {
    const s = buildSpec(
      input({ config: config({ devices: [{ containerPath: '/dev/mynull', hostPath: '/dev/null', permissions: 'rw' }] }) }),
    );
    assert.deepEqual(s.linux.devices, [
      { type: 'c', path: '/dev/mynull', major: 1, minor: 3, fileMode: statSync('/dev/null').mode & 0o777, uid: 0, gid: 0 },
    ]);
    assert.deepEqual(s.linux.resources.devices, [
      { allow: false, access: 'rwm' },
      { allow: true, type: 'c', major: 1, minor: 3, access: 'rw' },
    ]);
  });
  it('refuses missing paths, non-devices and bad permissions', () => {
    throwsKind(
      () =>
        buildSpec(
          input({ config: config({ devices: [{ containerPath: '/dev/x', hostPath: '/dev/nonexistent-skiff', permissions: 'rwm' }] }) }),
        ),
      'InvalidArgument',
      '/dev/nonexistent-skiff',
    );
    throwsKind(
      () => buildSpec(input({ config: config({ devices: [{ containerPath: '/dev/x', hostPath: tmp, permissions: 'rwm' }] }) })),
      'InvalidArgument',
      'not a device',
    );
    throwsKind(
      () => buildSpec(input({ config: config({ devices: [{ containerPath: '/dev/x', hostPath: '/dev/null', permissions: 'rx' }] }) })),
      'InvalidArgument',
      'permissions',
    );
  });
  it('privileged may use every device and gets the host device nodes; unprivileged gets none of them', () => {
    const s = buildSpec(input({ config: config({}, { privileged: true }), sandbox: sandbox({}, true) }));
    assert.deepEqual(s.linux.resources.devices, [{ allow: true, access: 'rwm' }]);
    assert.deepEqual(s.linux.devices, [HOST_FUSE]);
    assert.deepEqual(buildSpec(input()).linux.devices, []);
  });
  it('the host device walk finds /dev/null as a character device and skips /dev/pts', () => {
    const nodes = hostDevices();
    assert.deepEqual(
      nodes.find((n) => n.path === '/dev/null'),
      { type: 'c', path: '/dev/null', major: 1, minor: 3, fileMode: 0o666, uid: 0, gid: 0 },
    );
    assert.ok(!nodes.some((n) => n.path.startsWith('/dev/pts/')));
  });
});

describe('buildSpec: namespaces and cgroups', () => {
  const ns = (pid: 'POD' | 'CONTAINER' | 'NODE' | 'TARGET', over: Partial<SpecInput> = {}) =>
    buildSpec(input({ config: config({}, { namespaceOptions: { network: 'POD', pid, ipc: 'POD', targetId: '' } }), ...over })).linux
      .namespaces;

  it('joins the pinned namespaces, new mount and PID', () => {
    assert.deepEqual(ns('CONTAINER'), [
      { type: 'mount' },
      { type: 'pid' },
      { type: 'network', path: '/run/skiff/ns/sb1.net' },
      { type: 'ipc', path: '/run/skiff/ns/sb1.ipc' },
      { type: 'uts', path: '/run/skiff/ns/sb1.uts' },
    ]);
  });
  it('PID modes', () => {
    assert.deepEqual(
      ns('POD', { pidNamespacePath: '/proc/42/ns/pid' }).find((n) => n.type === 'pid'),
      { type: 'pid', path: '/proc/42/ns/pid' },
    );
    assert.deepEqual(
      ns('TARGET', { pidNamespacePath: '/proc/43/ns/pid' }).find((n) => n.type === 'pid'),
      { type: 'pid', path: '/proc/43/ns/pid' },
    );
    assert.equal(
      ns('NODE').find((n) => n.type === 'pid'),
      undefined,
    );
    throwsKind(() => ns('POD'), 'FailedPrecondition', 'POD');
  });
  it('host namespaces where the pod pins none', () => {
    const n = ns('CONTAINER', { sandbox: sandbox({ pins: {} }) });
    assert.deepEqual(n, [{ type: 'mount' }, { type: 'pid' }]);
  });
  it('a cgroup namespace only on cgroup v2, unprivileged', () => {
    assert.ok(ns('CONTAINER', { host: host({ cgroup: { cgroupV2: true } }) }).some((n) => n.type === 'cgroup'));
    assert.ok(!ns('CONTAINER').some((n) => n.type === 'cgroup'));
  });
  it('cgroupsPath is absolute under the pod’s parent', () => {
    assert.equal(buildSpec(input()).linux.cgroupsPath, '/kubepods/pod1/c1');
    assert.equal(cgroupsPathOf('/kubepods/pod1', 'c1'), '/kubepods/pod1/c1');
    assert.equal(cgroupsPathOf('/skiff/', 'c1'), '/skiff/c1');
    assert.equal(cgroupsPathOf('/', 'c1'), '/c1');
    assert.equal(cgroupsPathOf('skiff', 'c1'), '/skiff/c1');
  });
});

describe('buildSpec: resources', () => {
  const res = (r: Partial<ContainerConfig['linux']['resources']>, over: Partial<SpecInput> = {}) =>
    buildSpec(input({ config: config({ linux: { resources: r } } as Partial<ContainerConfig>), ...over })).linux.resources;

  it('nothing set, nothing written (but the device rules)', () => {
    assert.deepEqual(res({}), { devices: [{ allow: false, access: 'rwm' }] });
  });
  it('maps CPU and memory; swap equals the limit unless given', () => {
    const r = res({ cpuPeriod: 100000, cpuQuota: 50000, cpuShares: 512, cpusetCpus: '0-1', cpusetMems: '0', memoryLimitInBytes: 64 << 20 });
    assert.deepEqual(r.cpu, { shares: 512, quota: 50000, period: 100000, cpus: '0-1', mems: '0' });
    assert.deepEqual(r.memory, { limit: 64 << 20, swap: 64 << 20 });
    assert.deepEqual(res({ memoryLimitInBytes: 64 << 20, memorySwapLimitInBytes: 128 << 20 }).memory, { limit: 64 << 20, swap: 128 << 20 });
  });
  it('no swap without swap accounting', () => {
    assert.deepEqual(
      res({ memoryLimitInBytes: 64 << 20, memorySwapLimitInBytes: 128 << 20 }, { host: host({ cgroup: { swapAccounting: false } }) })
        .memory,
      { limit: 64 << 20 },
    );
  });
  it('hugepage limits only when runc can apply them', () => {
    const hp = [{ pageSize: '2MB', limit: 0 }];
    assert.equal(res({ hugepageLimits: hp }).hugepageLimits, undefined);
    assert.deepEqual(res({ hugepageLimits: hp }, { host: host({ cgroup: { hugetlb: true } }) }).hugepageLimits, hp);
  });
  it('unified only on cgroup v2', () => {
    assert.equal(res({ unified: { 'memory.high': '1000' } }).unified, undefined);
    assert.deepEqual(res({ unified: { 'memory.high': '1000' } }, { host: host({ cgroup: { cgroupV2: true } }) }).unified, {
      'memory.high': '1000',
    });
  });
});

describe('buildSpec: masked/readonly paths and annotations', () => {
  it('as sent (kubelet sends the defaults; none for procMount Unmasked), none when privileged', () => {
    const d = buildSpec(input());
    assert.deepEqual(d.linux.maskedPaths, [...DEFAULT_MASKED_PATHS]);
    assert.deepEqual(d.linux.readonlyPaths, [...DEFAULT_READONLY_PATHS]);
    const unmasked = buildSpec(input({ config: config({}, { maskedPaths: [], readonlyPaths: [] }) }));
    assert.deepEqual([unmasked.linux.maskedPaths, unmasked.linux.readonlyPaths], [[], []]);
    const c = buildSpec(input({ config: config({}, { maskedPaths: ['/proc/x'], readonlyPaths: ['/proc/y'] }) }));
    assert.deepEqual(c.linux.maskedPaths, ['/proc/x']);
    assert.deepEqual(c.linux.readonlyPaths, ['/proc/y']);
    const p = buildSpec(input({ config: config({}, { privileged: true, maskedPaths: ['/proc/x'] }), sandbox: sandbox({}, true) }));
    assert.deepEqual(p.linux.maskedPaths, []);
    assert.deepEqual(p.linux.readonlyPaths, []);
  });
  it('CRI annotations plus the io.kubernetes.cri keys', () => {
    const s = buildSpec(input({ config: config({ annotations: { 'a.b/c': 'd', [CRI_ANNOTATIONS.sandboxId]: 'spoofed' } }) }));
    assert.deepEqual(s.annotations, {
      'a.b/c': 'd',
      'io.kubernetes.cri.container-type': 'container',
      'io.kubernetes.cri.sandbox-id': 'sb1',
      'io.kubernetes.cri.sandbox-name': 'pod',
      'io.kubernetes.cri.sandbox-namespace': 'ns',
      'io.kubernetes.cri.sandbox-uid': 'uid-1',
      'io.kubernetes.cri.container-name': 'app',
      'io.kubernetes.cri.image-name': 'docker.io/library/busybox:1.36',
    });
  });
  it('seccomp: RuntimeDefault applies the default filter, Unconfined, unset and privileged none', () => {
    const s = buildSpec(input({ config: config({}, { seccomp: { type: 'RuntimeDefault', localhostRef: '' } }) }));
    assert.equal(s.linux.seccomp?.defaultAction, 'SCMP_ACT_ERRNO');
    assert.ok(s.linux.seccomp?.syscalls?.some((r) => r.names.includes('read') && r.action === 'SCMP_ACT_ALLOW'));
    assert.equal(buildSpec(input({ config: config({}, { seccomp: { type: 'Unconfined', localhostRef: '' } }) })).linux.seccomp, undefined);
    assert.equal(buildSpec(input({ config: config({}) })).linux.seccomp, undefined);
    const privileged = buildSpec(
      input({
        config: config({}, { privileged: true, seccomp: { type: 'RuntimeDefault', localhostRef: '' } }),
        sandbox: sandbox({}, true),
      }),
    );
    assert.equal(privileged.linux.seccomp, undefined);
  });
  it('the spec is plain JSON', () => {
    const s = buildSpec(input({ config: config({ mounts: [] }) }));
    assert.deepEqual(JSON.parse(JSON.stringify(s)), s);
  });
});
