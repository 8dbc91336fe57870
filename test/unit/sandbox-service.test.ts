// The sandbox service's rules with fakes for namespaces, CNI, the infra
// runner and mounts: retries, conflicts, rollback of a failed start at each
// step, stop/remove order, and recovery of half-created and broken pods.
import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, it } from 'node:test';

import { SkiffError } from '../../src/errors.js';
import type { CniNetworkConfig } from '../../src/network/cni/conf-dir.js';
import type { CniAddResult, CniPodInfo } from '../../src/network/cni/types.js';
import type { InfraRunner } from '../../src/sandbox/infra.js';
import { type NamespaceOps, type PodNetworkOps, SandboxService } from '../../src/sandbox/sandbox-service.js';
import type { InfraProcess, NamespacePins, SandboxConfig, SandboxRecord } from '../../src/sandbox/types.js';
import { FakeMounts, silentLog } from '../support/fakes.js';

const NETWORK: CniNetworkConfig = {
  file: '/fake/10-net.conflist',
  name: 'fakenet',
  cniVersion: '1.0.0',
  plugins: [{ type: 'bridge' }],
  raw: {},
};

class FakeNamespaces implements NamespaceOps {
  readonly live = new Set<string>();
  failCreate: Error | undefined;
  constructor(private readonly dir: string) {}
  pinPaths(id: string, want: { net: boolean; uts: boolean; ipc: boolean }): NamespacePins {
    const p = (k: string): string => path.join(this.dir, `${id}.${k}`);
    return { ...(want.net ? { net: p('net') } : {}), ...(want.uts ? { uts: p('uts') } : {}), ...(want.ipc ? { ipc: p('ipc') } : {}) };
  }
  async create(pins: NamespacePins): Promise<void> {
    if (this.failCreate) throw this.failCreate;
    for (const f of Object.values(pins) as string[]) this.live.add(f);
  }
  async release(pins: NamespacePins): Promise<void> {
    for (const f of Object.values(pins) as string[]) this.live.delete(f);
  }
  async orphans(known: Set<string>): Promise<string[]> {
    return [...this.live].filter((f) => !known.has(path.basename(f).split('.')[0]!));
  }
  alive(pins: NamespacePins): boolean {
    return (Object.values(pins) as string[]).every((f) => this.live.has(f));
  }
}

class FakeCni implements PodNetworkOps {
  readonly attached = new Set<string>();
  readonly calls: string[] = [];
  failAdd: Error | undefined;
  async add(_n: CniNetworkConfig, pod: CniPodInfo): Promise<CniAddResult> {
    this.calls.push(`ADD ${pod.sandboxId}`);
    this.attached.add(pod.sandboxId); // a failed ADD may still have allocated: DEL must follow
    if (this.failAdd) throw this.failAdd;
    return {
      cniVersion: '1.0.0',
      interfaces: [{ name: 'veth1' }, { name: 'eth0', sandbox: pod.netnsPath }],
      ips: [{ address: 'fd00::5/64' }, { address: '10.88.0.5/16' }] as CniAddResult['ips'],
      raw: {},
    };
  }
  async del(_n: CniNetworkConfig | undefined, pod: CniPodInfo): Promise<void> {
    this.calls.push(`DEL ${pod.sandboxId}`);
    this.attached.delete(pod.sandboxId);
  }
  async cachedSandboxes(): Promise<string[]> {
    return [...this.attached];
  }
  async runStateless(): Promise<CniAddResult | undefined> {
    return undefined;
  }
}

class FakeInfra implements InfraRunner {
  readonly running = new Set<string>();
  readonly removed: string[] = [];
  failStart: Error | undefined;
  async start(r: SandboxRecord): Promise<InfraProcess> {
    if (this.failStart) throw this.failStart;
    this.running.add(r.id);
    return { containerId: r.id, pid: 77, conmonPid: 78 };
  }
  async stop(r: SandboxRecord): Promise<void> {
    this.running.delete(r.id);
  }
  async remove(r: SandboxRecord): Promise<void> {
    this.removed.push(r.id);
  }
  async alive(r: SandboxRecord): Promise<boolean> {
    return this.running.has(r.id);
  }
  onExit: ((id: string) => void) | undefined;
  async watchExits(onExit: (id: string) => void): Promise<void> {
    this.onExit = onExit;
  }
  close(): void {
    this.onExit = undefined;
  }
}

let dir = '';
let ns: FakeNamespaces;
let cni: FakeCni;
let infra: FakeInfra;
let mounts: FakeMounts;
let svc: SandboxService;
let seq = 0;
const signal = new AbortController().signal;

function make(): SandboxService {
  return new SandboxService({
    stateDir: path.join(dir, 'state'),
    root: path.join(dir, 'root'),
    runtimes: new Map([['runc', '/fake/runc']]),
    handlerFeatures: new Map([['runc', { recursiveReadOnlyMounts: true, userNamespaces: false, notes: [] }]]),
    apparmor: false,
    defaultRuntime: 'runc',
    infraAlways: false,
    namespaces: ns,
    cni,
    cniConfig: { current: () => ({ ready: true, network: NETWORK }), reload: async () => {} },
    infra,
    mounts,
    log: silentLog(),
  });
}

function pod(over: Partial<SandboxConfig> = {}): SandboxConfig {
  seq++;
  return {
    metadata: { name: `p${seq}`, uid: `u${seq}`, namespace: 'ns', attempt: 0 },
    hostname: `h${seq}`,
    logDirectory: path.join(dir, 'logs'),
    dns: { servers: ['10.0.0.10'], searches: ['svc.local'], options: [] },
    portMappings: [],
    labels: { app: 'x' },
    annotations: {},
    // A cgroup path no host has: the service's cgroup clean-up finds nothing to remove.
    cgroupParent: `/skiff-unit-${process.pid}`,
    sysctls: {},
    namespaces: { network: 'POD', pid: 'CONTAINER', ipc: 'POD', targetId: '' },
    privileged: false,
    runtimeHandler: '',
    ...over,
  };
}

const kind = (k: string) => (err: unknown) => err instanceof SkiffError && err.kind === k;

beforeEach(async () => {
  dir = mkdtempSync(path.join(os.tmpdir(), 'skiff-ssvc-'));
  ns = new FakeNamespaces(path.join(dir, 'ns'));
  cni = new FakeCni();
  infra = new FakeInfra();
  mounts = new FakeMounts();
  svc = make();
  await svc.load();
  await svc.recover();
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

describe('SandboxService: run', () => {
  it('pins namespaces, attaches the network (IPv4 first), writes pod files, ready', async () => {
    const id = await svc.run(pod(), signal);
    const r = svc.get(id)!;
    assert.equal(r.status.state, 'ready');
    assert.deepEqual(r.status.ips, ['10.88.0.5', 'fd00::5']);
    assert.equal(r.status.cniAttempted, true);
    assert.ok(ns.alive(r.pins) && r.pins.net && r.pins.uts && r.pins.ipc);
    assert.ok(mounts.isMountPoint(r.shmPath));
    assert.match(readFileSync(r.resolvConfPath, 'utf8'), /nameserver 10\.0\.0\.10/);
    assert.match(readFileSync(r.hostsPath, 'utf8'), new RegExp(`10\\.88\\.0\\.5\\t${r.config.hostname}`));
    assert.equal(r.status.infra, undefined, 'no shared PID namespace, no infra process');
    assert.equal(r.version, 1);
  });

  it('a retry gets the same pod, a different config under the same name ALREADY_EXISTS, a stopped pod frees nothing', async () => {
    const c = pod();
    const [a, b] = await Promise.all([svc.run(c, signal), svc.run(c, signal)]);
    assert.equal(a, b);
    assert.equal(await svc.run(c, signal), a);
    assert.equal(cni.calls.filter((x) => x.startsWith('ADD')).length, 1);
    assert.throws(() => svc.run({ ...c, hostname: 'other' }, signal), kind('AlreadyExists'));
    await svc.stop(a);
    assert.throws(() => svc.run(c, signal), kind('AlreadyExists'), 'a not-ready pod still holds its name until removed');
    await svc.remove(a);
    assert.notEqual(await svc.run(c, signal), a);
  });

  it('starts an infra process for a shared PID namespace', async () => {
    const id = await svc.run(pod({ namespaces: { network: 'POD', pid: 'POD', ipc: 'POD', targetId: '' } }), signal);
    assert.deepEqual(svc.get(id)!.status.infra, { containerId: id, pid: 77, conmonPid: 78 });
  });

  for (const [step, fail] of [
    ['namespaces', () => (ns.failCreate = new Error('unshare failed'))],
    ['CNI ADD', () => (cni.failAdd = new Error('bridge failed'))],
    ['infra start', () => (infra.failStart = new Error('pause failed'))],
  ] as const) {
    it(`a failure at ${step} rolls back everything: no record, pins, attachment, mount or files`, async () => {
      fail();
      await assert.rejects(svc.run(pod({ namespaces: { network: 'POD', pid: 'POD', ipc: 'POD', targetId: '' } }), signal), /failed/);
      assert.equal(svc.list().length, 0);
      assert.equal(ns.live.size, 0);
      assert.equal(cni.attached.size, 0);
      assert.equal(mounts.mounted.size, 0);
      assert.deepEqual(readdirSync(path.join(dir, 'root', 'sandboxes')), []);
      assert.equal(existsSync(path.join(dir, 'state', 'pods')) ? readdirSync(path.join(dir, 'state', 'pods')).length : 0, 0);
      // The infra runner is asked to remove what a half-done start left.
      assert.equal(infra.removed.length, 1);
    });
  }

  it('refuses bad requests before doing anything', async () => {
    assert.throws(() => svc.run(pod({ metadata: { name: '', uid: 'u', namespace: 'n', attempt: 0 } }), signal), kind('InvalidArgument'));
    await assert.rejects(svc.run(pod({ runtimeHandler: 'nope' }), signal), kind('InvalidArgument'));
    await assert.rejects(
      svc.run(pod({ namespaces: { network: 'CONTAINER', pid: 'POD', ipc: 'POD', targetId: '' } }), signal),
      kind('InvalidArgument'),
    );
    assert.equal(cni.calls.length, 0);
  });
});

describe('SandboxService: stop, remove, recovery', () => {
  it('stop releases network and namespaces and keeps the record; remove deletes everything; both repeat', async () => {
    const id = await svc.run(pod({ namespaces: { network: 'POD', pid: 'POD', ipc: 'POD', targetId: '' } }), signal);
    const r = svc.get(id)!;
    await svc.stop(id);
    await svc.stop(id);
    assert.equal(svc.get(id)!.status.state, 'notready');
    assert.equal(cni.attached.size, 0);
    assert.equal(ns.live.size, 0);
    assert.equal(infra.running.size, 0);
    await svc.remove(id);
    await svc.remove(id);
    await svc.stop('unknown');
    assert.equal(svc.get(id), undefined);
    assert.equal(existsSync(r.dir), false);
    assert.equal(mounts.isMountPoint(r.shmPath), false);
  });

  it('recovery rolls back a half-created pod, marks one that lost its namespaces not ready, and releases orphans', async () => {
    const healthy = await svc.run(pod(), signal);
    const broken = await svc.run(pod(), signal);
    const half = await svc.run(pod(), signal);
    // Half-created: as a crash right after CNI ADD leaves it.
    const file = path.join(dir, 'root', 'sandboxes', `${half}.json`);
    const rec = JSON.parse(readFileSync(file, 'utf8')) as SandboxRecord;
    writeFileSync(file, JSON.stringify({ ...rec, status: { ...rec.status, state: 'creating' } }));
    ns.live.delete(svc.get(broken)!.pins.net!);
    // An attachment and a pin whose record never made it to disk.
    cni.attached.add('ghost');
    ns.live.add(path.join(dir, 'ns', 'ghost.net'));
    svc = make();
    await svc.load();
    await svc.recover();
    assert.equal(svc.get(healthy)!.status.state, 'ready');
    assert.equal(svc.get(broken)!.status.state, 'notready');
    assert.equal(svc.get(half), undefined);
    assert.deepEqual([...cni.attached], [healthy]);
    assert.ok([...ns.live].every((f) => path.basename(f).startsWith(healthy)));
  });

  it('recovery reads records written before versions existed', async () => {
    const id = await svc.run(pod(), signal);
    const file = path.join(dir, 'root', 'sandboxes', `${id}.json`);
    const { version: _v, status, hostsPath: _h, ...meta } = JSON.parse(readFileSync(file, 'utf8')) as SandboxRecord;
    writeFileSync(file, JSON.stringify({ ...meta, ...status }));
    svc = make();
    await svc.load();
    await svc.recover();
    const r = svc.get(id)!;
    assert.equal(r.status.state, 'ready');
    assert.deepEqual(r.status.ips, ['10.88.0.5', 'fd00::5']);
    assert.equal(r.hostsPath, '');
  });
});
