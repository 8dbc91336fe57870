import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { SkiffError } from '../../src/errors.js';
import type { ContainerConfig__Output } from '../../src/generated/runtime/v1/ContainerConfig.js';
import type { LinuxContainerResources__Output } from '../../src/generated/runtime/v1/LinuxContainerResources.js';
import type { LinuxContainerSecurityContext__Output } from '../../src/generated/runtime/v1/LinuxContainerSecurityContext.js';
import type { Mount__Output } from '../../src/generated/runtime/v1/Mount.js';
import { toContainerConfig, toProtoResources } from '../../src/server/convert/container-config.js';

// What proto-loader hands us with defaults: true, longs: String, enums: String.
function resources(over: Partial<LinuxContainerResources__Output> = {}): LinuxContainerResources__Output {
  return {
    cpuPeriod: '0',
    cpuQuota: '0',
    cpuShares: '0',
    memoryLimitInBytes: '0',
    oomScoreAdj: '0',
    cpusetCpus: '',
    cpusetMems: '',
    hugepageLimits: [],
    unified: {},
    memorySwapLimitInBytes: '0',
    ...over,
  };
}

function security(over: Partial<LinuxContainerSecurityContext__Output> = {}): LinuxContainerSecurityContext__Output {
  return {
    capabilities: null,
    privileged: false,
    namespaceOptions: null,
    selinuxOptions: null,
    runAsUser: null,
    runAsUsername: '',
    readonlyRootfs: false,
    supplementalGroups: [],
    apparmorProfile: '',
    seccompProfilePath: '',
    noNewPrivs: false,
    runAsGroup: null,
    maskedPaths: [],
    readonlyPaths: [],
    seccomp: null,
    apparmor: null,
    supplementalGroupsPolicy: 'Merge',
    ...over,
  };
}

function mount(over: Partial<Mount__Output> = {}): Mount__Output {
  return {
    containerPath: '/data',
    hostPath: '/srv/data',
    readonly: false,
    selinuxRelabel: false,
    propagation: 'PROPAGATION_PRIVATE',
    uidMappings: [],
    gidMappings: [],
    recursiveReadOnly: false,
    image: null,
    imageSubPath: '',
    ...over,
  };
}

function proto(over: Partial<ContainerConfig__Output> = {}): ContainerConfig__Output {
  return {
    metadata: { name: 'app', attempt: 2 },
    image: { image: 'busybox:1.36', annotations: {}, userSpecifiedImage: '', runtimeHandler: '', imageRef: '' },
    command: [],
    args: [],
    workingDir: '',
    envs: [],
    mounts: [],
    devices: [],
    labels: {},
    annotations: {},
    logPath: '',
    stdin: false,
    stdinOnce: false,
    tty: false,
    linux: null,
    windows: null,
    CDIDevices: [],
    stopSignal: 'RUNTIME_DEFAULT',
    ...over,
  };
}

const invalid = (fn: () => unknown, text: string) =>
  assert.throws(fn, (e: unknown) => e instanceof SkiffError && e.kind === 'InvalidArgument' && e.message.includes(text));

describe('toContainerConfig', () => {
  it('requires the config and a name', () => {
    invalid(() => toContainerConfig(null), 'config');
    invalid(() => toContainerConfig(proto({ metadata: null })), 'metadata.name');
    invalid(() => toContainerConfig(proto({ metadata: { name: '', attempt: 0 } })), 'metadata.name');
  });

  it('maps the plain fields, envs from bytes', () => {
    const c = toContainerConfig(
      proto({
        command: ['/bin/sh'],
        args: ['-c', 'x'],
        workingDir: '/w',
        envs: [{ key: 'A', value: Buffer.from('é=1') }],
        labels: { l: '1' },
        annotations: { a: '2' },
        logPath: 'app/2.log',
        stdin: true,
        stdinOnce: true,
        tty: true,
        devices: [{ containerPath: '/dev/x', hostPath: '/dev/null', permissions: 'rw' }],
      }),
    );
    assert.deepEqual(c.metadata, { name: 'app', attempt: 2 });
    assert.equal(c.image, 'busybox:1.36');
    assert.deepEqual([c.command, c.args, c.workingDir], [['/bin/sh'], ['-c', 'x'], '/w']);
    assert.deepEqual(c.envs, [{ key: 'A', value: 'é=1' }]);
    assert.deepEqual(
      [c.labels, c.annotations, c.logPath, c.stdin, c.stdinOnce, c.tty],
      [{ l: '1' }, { a: '2' }, 'app/2.log', true, true, true],
    );
    assert.deepEqual(c.devices, [{ containerPath: '/dev/x', hostPath: '/dev/null', permissions: 'rw' }]);
  });

  it('defaults when linux is absent', () => {
    const c = toContainerConfig(proto());
    assert.deepEqual(c.linux.securityContext.namespaceOptions, { network: 'POD', pid: 'POD', ipc: 'POD', targetId: '' });
    assert.equal(c.linux.securityContext.runAsUser, undefined);
    assert.equal(c.linux.resources.memoryLimitInBytes, 0);
    assert.deepEqual(c.linux.securityContext.capabilities, { add: [], drop: [], addAmbient: [] });
  });

  it('maps mounts and their propagation', () => {
    const c = toContainerConfig(
      proto({
        mounts: [
          mount({ containerPath: '/p' }),
          mount({ containerPath: '/s', propagation: 'PROPAGATION_HOST_TO_CONTAINER', readonly: true }),
          mount({ containerPath: '/b', propagation: 'PROPAGATION_BIDIRECTIONAL', selinuxRelabel: true, recursiveReadOnly: true }),
        ],
      }),
    );
    assert.deepEqual(
      c.mounts.map((m) => [m.containerPath, m.propagation, m.readonly, m.selinuxRelabel, m.recursiveReadOnly]),
      [
        ['/p', 'private', false, false, false],
        ['/s', 'hostToContainer', true, false, false],
        ['/b', 'bidirectional', false, true, true],
      ],
    );
    // Mappings are kept for CreateContainer to judge against the pod's user namespace.
    const idmapped = toContainerConfig(proto({ mounts: [mount({ uidMappings: [{ hostId: 1, containerId: 0, length: 1 }] })] }));
    assert.deepEqual(idmapped.mounts[0]?.idmap, { uids: [{ containerId: 0, hostId: 1, length: 1 }], gids: [] });
  });

  it('maps the security context', () => {
    const c = toContainerConfig(
      proto({
        linux: {
          resources: null,
          securityContext: security({
            capabilities: { addCapabilities: ['NET_ADMIN'], dropCapabilities: ['ALL'], addAmbientCapabilities: ['NET_RAW'] },
            privileged: true,
            namespaceOptions: { network: 'NODE', pid: 'TARGET', ipc: 'CONTAINER', targetId: 'c9', usernsOptions: null },
            runAsUser: { value: '0' },
            runAsGroup: { value: '3000' },
            runAsUsername: 'app',
            readonlyRootfs: true,
            supplementalGroups: ['5', '6'],
            noNewPrivs: true,
            maskedPaths: ['/m'],
            readonlyPaths: ['/r'],
            seccomp: { profileType: 'Localhost', localhostRef: '/p.json' },
            apparmorProfile: 'runtime/default',
          }),
        },
      }),
    );
    const sc = c.linux.securityContext;
    assert.deepEqual(sc.capabilities, { add: ['NET_ADMIN'], drop: ['ALL'], addAmbient: ['NET_RAW'] });
    assert.deepEqual(sc.namespaceOptions, { network: 'NODE', pid: 'TARGET', ipc: 'CONTAINER', targetId: 'c9' });
    assert.deepEqual(
      [sc.privileged, sc.runAsUser, sc.runAsGroup, sc.runAsUsername, sc.readonlyRootfs, sc.noNewPrivs],
      [true, 0, 3000, 'app', true, true],
    );
    assert.deepEqual(sc.supplementalGroups, [5, 6]);
    assert.deepEqual([sc.maskedPaths, sc.readonlyPaths], [['/m'], ['/r']]);
    assert.deepEqual(sc.seccomp, { type: 'Localhost', localhostRef: '/p.json' });
    assert.deepEqual(sc.apparmor, { type: 'RuntimeDefault', localhostRef: '' });
  });

  it('reads the deprecated seccomp path field', () => {
    const sc = (p: string) =>
      toContainerConfig(proto({ linux: { resources: null, securityContext: security({ seccompProfilePath: p }) } })).linux.securityContext
        .seccomp;
    assert.deepEqual(sc('runtime/default'), { type: 'RuntimeDefault', localhostRef: '' });
    assert.deepEqual(sc('unconfined'), { type: 'Unconfined', localhostRef: '' });
    assert.deepEqual(sc('localhost/prof.json'), { type: 'Localhost', localhostRef: 'prof.json' });
    assert.equal(sc(''), undefined);
    invalid(() => sc('bogus'), 'bogus');
  });

  it('converts int64 strings and back', () => {
    const r = resources({
      cpuPeriod: '100000',
      cpuQuota: '-1',
      cpuShares: '1024',
      memoryLimitInBytes: '134217728',
      oomScoreAdj: '-998',
      cpusetCpus: '0',
      cpusetMems: '0',
      hugepageLimits: [{ pageSize: '2MB', limit: '0' }],
      unified: { 'memory.high': '1' },
      memorySwapLimitInBytes: '268435456',
    });
    const c = toContainerConfig(proto({ linux: { resources: r, securityContext: null } }));
    assert.deepEqual(c.linux.resources, {
      cpuPeriod: 100000,
      cpuQuota: -1,
      cpuShares: 1024,
      memoryLimitInBytes: 134217728,
      oomScoreAdj: -998,
      cpusetCpus: '0',
      cpusetMems: '0',
      hugepageLimits: [{ pageSize: '2MB', limit: 0 }],
      unified: { 'memory.high': '1' },
      memorySwapLimitInBytes: 268435456,
    });
    assert.deepEqual(toProtoResources(c.linux.resources), r);
    invalid(
      () =>
        toContainerConfig(proto({ linux: { resources: resources({ memoryLimitInBytes: '9223372036854775807' }), securityContext: null } })),
      'memory_limit_in_bytes',
    );
  });
});
