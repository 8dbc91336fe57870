// The container service's lifecycle rules, with fakes for the runtime, the
// monitor, cgroups, mounts and snapshots: name reservation and retries,
// rollback, start errors, exits, the stop ladder, removal and recovery.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { baseContainerConfig } from '../../src/container/base-config.js';
import { Bundles } from '../../src/container/bundle.js';
import { ContainerService } from '../../src/container/container-service.js';
import type { ContainerConfig } from '../../src/container/types.js';
import { SkiffError } from '../../src/errors.js';
import { ContainerEventBus, type ContainerEventType } from '../../src/events/container-events.js';
import type { ImageRecord } from '../../src/image/image-store.js';
import type { SandboxRecord } from '../../src/sandbox/types.js';
import { FakeCgroups, FakeMonitor, FakeMounts, FakeRuntime, FakeSnapshots, silentLog } from '../support/fakes.js';

const IMAGE: ImageRecord = {
  version: 1,
  id: 'sha256:' + 'a'.repeat(64),
  repoTags: ['docker.io/library/busybox:1.36'],
  repoDigests: ['docker.io/library/busybox@sha256:' + 'b'.repeat(64)],
  manifestDigest: 'sha256:' + 'b'.repeat(64),
  configDigest: 'sha256:' + 'a'.repeat(64),
  layers: [{ digest: 'sha256:c', mediaType: 'x', size: 1, diffId: 'sha256:d', chainId: 'sha256:chain' }],
  size: 1,
  config: { rootfs: { type: 'layers', diff_ids: [] }, config: { Cmd: ['sh'], StopSignal: 'SIGTERM' } },
  pulledAt: '',
};

function sandbox(dir: string, over: Partial<SandboxRecord['status']> = {}): SandboxRecord {
  return {
    version: 1,
    id: 'sb1',
    name: 'pod_ns_uid_0',
    config: {
      metadata: { name: 'pod', uid: 'uid', namespace: 'ns', attempt: 0 },
      hostname: 'h',
      logDirectory: path.join(dir, 'logs'),
      dns: undefined,
      portMappings: [],
      labels: {},
      annotations: {},
      cgroupParent: '',
      sysctls: {},
      namespaces: { network: 'POD', pid: 'CONTAINER', ipc: 'POD', targetId: '' },
      privileged: false,
      runtimeHandler: '',
    },
    createdAt: '0',
    runtimeHandler: 'runc',
    dir: path.join(dir, 'pod'),
    pins: {},
    shmPath: '/dev/shm',
    resolvConfPath: path.join(dir, 'resolv.conf'),
    hostnamePath: path.join(dir, 'hostname'),
    hostsPath: '',
    cgroupParent: '/kubepods/pod1',
    ownedCgroups: [],
    status: { state: 'ready', ips: [], cniAttempted: false, ...over },
  };
}

function config(name = 'app', over: Partial<ContainerConfig> = {}): ContainerConfig {
  return { ...baseContainerConfig(name, IMAGE.id), logPath: `${name}/0.log`, ...over };
}

interface World {
  dir: string;
  service: ContainerService;
  runtime: FakeRuntime;
  monitor: FakeMonitor;
  cgroups: FakeCgroups;
  mounts: FakeMounts;
  snapshots: FakeSnapshots;
  events: ContainerEventType[];
  sb: SandboxRecord;
  /** A new service over the same state, as after a daemon restart. */
  restart(): Promise<ContainerService>;
}

let w: World;
const signal = new AbortController().signal;

async function world(): Promise<World> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'skiff-csvc-'));
  const exitDir = path.join(dir, 'state', 'exits');
  const runtime = new FakeRuntime(exitDir);
  const monitor = new FakeMonitor(runtime);
  const cgroups = new FakeCgroups();
  const mounts = new FakeMounts();
  const snapshots = new FakeSnapshots();
  const bus = new ContainerEventBus();
  const events: ContainerEventType[] = [];
  const ac = new AbortController();
  void (async () => {
    for await (const e of bus.subscribe(ac.signal)) events.push(e.type);
  })().catch(() => {});
  const make = async (): Promise<ContainerService> => {
    const socketDir = path.join(dir, 'state', 'sockets');
    const s = new ContainerService({
      stateDir: path.join(dir, 'state'),
      root: path.join(dir, 'root'),
      runtimes: runtime,
      monitor,
      bundles: new Bundles({
        snapshots,
        mounts,
        userns: { idmap: () => Promise.reject(new Error('no idmap in unit tests')) },
        cgroups,
        exitDir,
        socketDir,
      }),
      cgroups,
      images: { find: (ref) => (ref === IMAGE.id || IMAGE.repoTags.includes(ref) ? IMAGE : undefined) },
      events: bus,
      host: {
        cgroup: { cgroupV2: false, swapAccounting: true, hugetlb: false },
        boundingCaps: ['CAP_CHOWN', 'CAP_KILL'],
        ownOomScoreAdj: 0,
        apparmor: false,
        selinux: false,
      },
      exitDir,
      socketDir,
      log: silentLog(),
      stopTimings: { killGraceMs: 200, cgroupKillGraceMs: 200 },
    });
    await s.load();
    await s.recover();
    return s;
  };
  const service = await make();
  const world: World = {
    dir,
    service,
    runtime,
    monitor,
    cgroups,
    mounts,
    snapshots,
    events,
    sb: sandbox(dir),
    restart: async () => {
      world.service.close();
      world.service = await make();
      return world.service;
    },
  };
  afterEachCleanup.push(() => {
    ac.abort();
    world.service.close();
    rmSync(dir, { recursive: true, force: true });
  });
  return world;
}

const afterEachCleanup: (() => void)[] = [];
beforeEach(async () => {
  w = await world();
});
afterEach(() => {
  for (const f of afterEachCleanup.splice(0)) f();
});

const kind = (k: string) => (err: unknown) => err instanceof SkiffError && err.kind === k;

async function waitFor(what: string, cond: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) assert.fail(`timed out waiting for ${what}`);
    await sleep(5);
  }
}

async function running(name = 'app'): Promise<string> {
  const id = await w.service.create(w.sb, config(name), signal);
  await w.service.start(id);
  return id;
}

describe('ContainerService: create', () => {
  it('writes the record, mounts the rootfs and writes the bundle spec', async () => {
    const id = await w.service.create(w.sb, config(), signal);
    const r = w.service.get(id)!;
    assert.equal(r.status.state, 'created');
    assert.equal(r.version, 1);
    assert.equal(r.cgroupsPath, `/kubepods/pod1/${id}`);
    assert.equal(r.logPath, path.join(w.dir, 'logs', 'app/0.log'));
    assert.equal(r.image, IMAGE.repoTags[0]);
    assert.ok(w.mounts.isMountPoint(r.rootfs));
    assert.equal(w.snapshots.active.get(id), 'sha256:chain');
    const spec = JSON.parse(readFileSync(path.join(r.bundle, 'config.json'), 'utf8')) as {
      linux: { cgroupsPath: string };
      process: { capabilities: { bounding: string[] } };
    };
    assert.equal(spec.linux.cgroupsPath, r.cgroupsPath);
    // Cut down to the host's bounding set.
    assert.deepEqual(spec.process.capabilities.bounding.sort(), ['CAP_CHOWN', 'CAP_KILL']);
    assert.ok(existsSync(path.join(w.dir, 'root', 'containers', `${id}.json`)));
    assert.deepEqual(w.events, ['created']);
  });

  it('answers a retry in flight and a finished retry with the same id, a conflicting config with ALREADY_EXISTS', async () => {
    const [a, b] = await Promise.all([w.service.create(w.sb, config(), signal), w.service.create(w.sb, config(), signal)]);
    assert.equal(a, b);
    assert.equal(await w.service.create(w.sb, config(), signal), a);
    assert.equal(w.service.list().length, 1);
    assert.throws(() => w.service.create(w.sb, config('app', { args: ['other'] }), signal), kind('AlreadyExists'));
    // Removed, the name is free again.
    await w.service.remove(a);
    const c = await w.service.create(w.sb, config('app', { args: ['other'] }), signal);
    assert.notEqual(c, a);
  });

  it('refuses a pod that is not ready and an unknown image, leaving nothing', async () => {
    assert.throws(() => w.service.create(sandbox(w.dir, { state: 'notready' }), config(), signal), kind('FailedPrecondition'));
    await assert.rejects(w.service.create(w.sb, config('x', { image: 'nope' }), signal), kind('NotFound'));
    assert.equal(w.service.list().length, 0);
  });

  it('rolls back everything when a step fails', async () => {
    w.mounts.failOverlay = new Error('mount: boom');
    await assert.rejects(w.service.create(w.sb, config(), signal), /boom/);
    assert.equal(w.service.list().length, 0);
    assert.equal(w.snapshots.active.size, 0);
    assert.deepEqual(readdir(path.join(w.dir, 'root', 'containers')), []);
    assert.deepEqual(readdir(path.join(w.dir, 'state', 'containers')), []);
  });

  it('refuses PID namespace TARGET when the target is not running', async () => {
    const c = config('t');
    const withTarget = {
      ...c,
      linux: {
        ...c.linux,
        securityContext: {
          ...c.linux.securityContext,
          namespaceOptions: { ...c.linux.securityContext.namespaceOptions, pid: 'TARGET' as const, targetId: 'nope' },
        },
      },
    };
    await assert.rejects(w.service.create(w.sb, withTarget, signal), kind('FailedPrecondition'));
    assert.equal(w.snapshots.active.size, 0);
  });
});

function readdir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

describe('ContainerService: start and exits', () => {
  it('starts under the monitor and records pid and start time', async () => {
    const id = await running();
    const r = w.service.get(id)!;
    assert.equal(r.status.state, 'running');
    assert.ok(r.status.pid > 0 && r.status.conmonPid > 0);
    assert.notEqual(r.status.startedAt, '0');
    assert.equal(w.monitor.launched[0]?.logPath, r.logPath);
    assert.deepEqual(w.events, ['created', 'started']);
    await assert.rejects(w.service.start(id), kind('FailedPrecondition'));
  });

  it('leaves a container that fails to start exited with StartError', async () => {
    const id = await w.service.create(w.sb, config(), signal);
    w.runtime.failStart = new SkiffError('Internal', 'exec format error');
    await assert.rejects(w.service.start(id), /exec format error/);
    const s = w.service.get(id)!.status;
    assert.equal(s.state, 'exited');
    assert.equal(s.reason, 'StartError');
    assert.equal(s.exitCode, 128);
    assert.match(s.message, /exec format error/);
    assert.ok(w.runtime.calls.includes(`delete ${id}`));
  });

  it('records an exit from the exit file once: code, reason, runtime state and cgroup cleaned', async () => {
    const id = await running();
    w.runtime.exit(id, 3);
    await waitFor('exit', () => w.service.get(id)?.status.state === 'exited');
    const r = w.service.get(id)!;
    assert.equal(r.status.exitCode, 3);
    assert.equal(r.status.reason, 'Error');
    assert.ok(BigInt(r.status.finishedAt) >= BigInt(r.status.startedAt));
    await waitFor('cleanup', () => w.cgroups.removed.includes(r.cgroupsPath));
    assert.ok(w.runtime.calls.includes(`delete ${id}`));
    assert.deepEqual(
      w.events.filter((e) => e === 'stopped'),
      ['stopped'],
    );
  });

  it('says OOMKilled when the memory cgroup counted a kill', async () => {
    const id = await running();
    w.cgroups.oomKillCount = 1;
    w.runtime.exit(id, 137);
    await waitFor('exit', () => w.service.get(id)?.status.state === 'exited');
    assert.equal(w.service.get(id)!.status.reason, 'OOMKilled');
  });

  it('says Completed for exit code 0', async () => {
    const id = await running();
    w.runtime.exit(id, 0);
    await waitFor('exit', () => w.service.get(id)?.status.state === 'exited');
    assert.equal(w.service.get(id)!.status.reason, 'Completed');
  });
});

describe('ContainerService: the stop ladder', () => {
  it('a container that honours its stop signal gets nothing more', async () => {
    const id = await running();
    await w.service.stop(id, 5);
    assert.equal(w.service.get(id)!.status.exitCode, 143);
    assert.deepEqual(
      w.runtime.calls.filter((c) => c.startsWith('kill')),
      [`kill ${id} SIGTERM`],
    );
  });

  it('ignoring the stop signal: SIGKILL to every process after the timeout', async () => {
    const id = await running();
    w.runtime.reactions = { SIGKILL: { exit: 137 } };
    const t0 = Date.now();
    await w.service.stop(id, 1);
    assert.ok(Date.now() - t0 >= 900, 'waited for the grace period');
    assert.deepEqual(
      w.runtime.calls.filter((c) => c.startsWith('kill')),
      [`kill ${id} SIGTERM`, `kill ${id} SIGKILL all`],
    );
    assert.equal(w.service.get(id)!.status.exitCode, 137);
    assert.deepEqual(w.cgroups.killed, []);
  });

  it('timeout 0 goes straight to SIGKILL', async () => {
    const id = await running();
    await w.service.stop(id, 0);
    assert.deepEqual(
      w.runtime.calls.filter((c) => c.startsWith('kill')),
      [`kill ${id} SIGKILL all`],
    );
  });

  it('surviving SIGKILL: the cgroup is killed by hand', async () => {
    const id = await running();
    w.runtime.reactions = {};
    w.cgroups.onKillAll = () => w.runtime.exit(id, 137);
    await w.service.stop(id, 0);
    assert.deepEqual(w.cgroups.killed, [w.service.get(id)!.cgroupsPath]);
    assert.equal(w.service.get(id)!.status.state, 'exited');
  });

  it('a wedged monitor: stop still returns, with the exit recorded as 137', async () => {
    const id = await running();
    w.runtime.reactions = {};
    await w.service.stop(id, 0);
    const s = w.service.get(id)!.status;
    assert.equal(s.state, 'exited');
    assert.equal(s.exitCode, 137);
  });

  it('stopping an unknown or exited container succeeds', async () => {
    await w.service.stop('nope', 10);
    const id = await running();
    await w.service.stop(id, 0);
    const calls = w.runtime.calls.length;
    await w.service.stop(id, 0);
    assert.equal(w.runtime.calls.length, calls);
  });
});

describe('ContainerService: remove, exec, logs, resources', () => {
  it('remove stops, then deletes bundle, snapshot, record; twice is fine', async () => {
    const id = await running();
    const r = w.service.get(id)!;
    await w.service.remove(id);
    await w.service.remove(id);
    assert.equal(w.service.get(id), undefined);
    assert.equal(existsSync(r.bundle), false);
    assert.equal(w.mounts.isMountPoint(r.rootfs), false);
    assert.equal(w.snapshots.active.has(id), false);
    assert.equal(existsSync(path.join(w.dir, 'root', 'containers', `${id}.json`)), false);
    assert.equal(w.events.at(-1), 'deleted');
  });

  it('removes every container of a pod', async () => {
    await running('a');
    await running('b');
    const other = { ...w.sb, id: 'sb2', config: { ...w.sb.config, metadata: { ...w.sb.config.metadata, uid: 'other' } } };
    const keep = await w.service.create(other, config('c'), signal);
    await w.service.removeAll('sb1');
    assert.deepEqual(
      w.service.list().map((r) => r.id),
      [keep],
    );
  });

  it("ExecSync runs with the container's process spec and the given command; refuses a stopped container", async () => {
    const id = await running();
    const res = await w.service.execSync(id, ['echo', 'hi'], 1, signal);
    assert.equal(res.stdout.toString(), 'out');
    const spec = w.runtime.lastExecSpec as { args: string[]; terminal: boolean; user: { uid: number } };
    assert.deepEqual(spec.args, ['echo', 'hi']);
    assert.equal(spec.terminal, false);
    assert.equal(spec.user.uid, 0);
    await assert.rejects(w.service.execSync(id, [], 1, signal), kind('InvalidArgument'));
    await w.service.stop(id, 0);
    await assert.rejects(w.service.execSync(id, ['true'], 1, signal), kind('FailedPrecondition'));
  });

  it('ReopenContainerLog asks the monitor and waits for the new file', async () => {
    const id = await running();
    const log = w.service.get(id)!.logPath;
    const { mkdirSync, renameSync } = await import('node:fs');
    mkdirSync(path.dirname(log), { recursive: true });
    writeFileSync(log, 'old');
    const done = w.service.reopenLog(id);
    renameSync(log, log + '.1');
    writeFileSync(log, '');
    await done;
    assert.deepEqual(w.monitor.reopened, [w.service.get(id)!.bundle]);
  });

  it('UpdateContainerResources: applied to a running container, written to the spec, kept in the status', async () => {
    const id = await running();
    const resources = { ...config().linux.resources, cpuShares: 256, memoryLimitInBytes: 64 << 20 };
    await w.service.updateResources(id, resources);
    assert.ok(w.runtime.calls.includes(`update ${id}`));
    const r = w.service.get(id)!;
    assert.equal(r.status.resources.cpuShares, 256);
    assert.equal(r.config.linux.resources.cpuShares, 0, 'the request as created stays');
    const spec = JSON.parse(readFileSync(path.join(r.bundle, 'config.json'), 'utf8')) as {
      linux: { resources: { memory: { limit: number } } };
    };
    assert.equal(spec.linux.resources.memory.limit, 64 << 20);
    await w.service.stop(id, 0);
    await assert.rejects(w.service.updateResources(id, resources), kind('FailedPrecondition'));
  });
});

describe('ContainerService: recovery after a restart', () => {
  it('keeps running containers, records exits that happened while down, and says Unknown when nothing is left', async () => {
    const alive = await running('alive');
    const exited = await running('exited');
    const vanished = await running('vanished');
    w.service.close();
    w.runtime.exit(exited, 7);
    w.runtime.states.delete(vanished); // no exit file, no runtime state: the monitor died with it
    const s = await w.restart();
    assert.equal(s.get(alive)!.status.state, 'running');
    assert.equal(s.get(exited)!.status.exitCode, 7);
    assert.equal(s.get(exited)!.status.state, 'exited');
    assert.equal(s.get(vanished)!.status.reason, 'Unknown');
    assert.equal(s.get(vanished)!.status.exitCode, 255);
    // Exits keep being watched after recovery.
    w.runtime.exit(alive, 0);
    await waitFor('exit after restart', () => s.get(alive)?.status.state === 'exited');
  });

  it('rolls back a container left half-created and remounts a created one whose mount is gone', async () => {
    const created = await w.service.create(w.sb, config('created'), signal);
    const rootfs = w.service.get(created)!.rootfs;
    w.mounts.mounted.delete(rootfs); // as after a reboot
    // A half-created record, as a crash between the intent and the spec leaves it.
    const half = {
      ...w.service.get(created)!,
      id: 'f'.repeat(64),
      name: 'half',
      status: { ...w.service.get(created)!.status, state: 'creating' as const },
    };
    writeFileSync(
      path.join(w.dir, 'root', 'containers', `${half.id}.json`),
      JSON.stringify({ ...half, bundle: path.join(w.dir, 'state', 'containers', half.id) }),
    );
    w.snapshots.active.set(half.id, 'sha256:chain');
    const s = await w.restart();
    assert.equal(s.get(half.id), undefined);
    assert.equal(w.snapshots.active.has(half.id), false);
    assert.ok(w.mounts.isMountPoint(rootfs));
    assert.equal(s.get(created)!.status.state, 'created');
  });

  it('reads records written before versions existed (v0) and rewrites them', async () => {
    const id = await running();
    const file = path.join(w.dir, 'root', 'containers', `${id}.json`);
    const v1 = JSON.parse(readFileSync(file, 'utf8')) as Record<string, unknown> & {
      status: Record<string, unknown>;
      config: Record<string, unknown>;
    };
    const { status, version: _v, ...meta } = v1;
    const { resources: _r, ...statusFields } = status;
    const { userSpecifiedImage: _u, imageAnnotations: _a, imageRuntimeHandler: _h, ...oldConfig } = meta.config;
    writeFileSync(file, JSON.stringify({ ...meta, config: oldConfig, ...statusFields }));
    const s = await w.restart();
    const r = s.get(id)!;
    assert.equal(r.version, 1);
    assert.equal(r.status.state, 'running');
    assert.equal(r.status.pid, (status as { pid: number }).pid);
    assert.equal(r.config.userSpecifiedImage, '');
    assert.deepEqual(r.status.resources, r.config.linux.resources);
    assert.equal((JSON.parse(readFileSync(file, 'utf8')) as { version: number }).version, 1);
  });

  it('moves an unreadable record aside and starts anyway', async () => {
    const id = await running();
    writeFileSync(path.join(w.dir, 'root', 'containers', 'broken.json'), '{not json');
    const s = await w.restart();
    assert.ok(s.get(id));
    assert.equal(readdirSync(path.join(w.dir, 'root', 'containers.corrupt')).length, 1);
  });
});
