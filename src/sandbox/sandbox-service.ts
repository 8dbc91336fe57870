import { randomBytes } from 'node:crypto';
import os from 'node:os';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { alreadyExists, invalidArgument, notFound, SkiffError } from '../errors.js';
import { isMountPoint, mountTmpfs, unmount } from '../host/mount.js';
import type { Logger } from '../log.js';
import type { CniConfigWatcher } from '../network/cni/conf-dir.js';
import { setupLoopback, type CniRuntime } from '../network/cni/index.js';
import { KeyedMutex } from '../store/keyed-mutex.js';
import { filterById, RecordStore } from '../store/record-store.js';
import { cgroupfsParent } from './cgroup-parent.js';
import { missingCgroupLevels, removeEmptyCgroups } from './cgroup-ownership.js';
import { sandboxName, validateMetadata } from './names.js';
import type { PodNamespaces } from './pod-namespaces.js';
import { renderResolvConf } from './resolv-conf.js';
import { planSysctls } from './sysctls.js';
import { bandwidthCapability } from './bandwidth.js';
import { hostVeth } from '../network/host-veth.js';
import type { SandboxConfig, SandboxRecord, SandboxState } from './types.js';

/** What the container side does for a sandbox being stopped or removed. */
export interface SandboxContainers {
  stopAll(sandboxId: string): Promise<void>;
  removeAll(sandboxId: string): Promise<void>;
}

/** Starts and stops the process that holds a pod's PID namespace, when it needs one. */
export interface InfraRunner {
  start(record: SandboxRecord, signal: AbortSignal): Promise<SandboxRecord['infra']>;
  stop(record: SandboxRecord): Promise<void>;
  remove(record: SandboxRecord): Promise<void>;
  alive(record: SandboxRecord): Promise<boolean>;
}

export interface SandboxServiceOptions {
  stateDir: string;
  root: string;
  runtimes: ReadonlyMap<string, string>;
  defaultRuntime: string;
  /** Run an infra process for every pod (containerd's way) instead of only when needed. */
  infraAlways: boolean;
  namespaces: PodNamespaces;
  cni: CniRuntime;
  cniConfig: CniConfigWatcher;
  log: Logger;
}

export interface SandboxFilter {
  id?: string;
  state?: SandboxState;
  labels?: Record<string, string>;
}

const SHM_OPTIONS = 'mode=1777,size=65536k,nosuid,nodev,noexec';

function fingerprint(config: SandboxConfig): string {
  return JSON.stringify(config);
}

/**
 * Pod sandbox lifecycle. Every step is recorded before it is taken, so a crash
 * at any point can be finished or undone by `recover`.
 */
export class SandboxService {
  private readonly records: RecordStore<SandboxRecord>;
  private readonly locks = new KeyedMutex();
  /** Runs in flight by name: a kubelet retry waits for the same result. */
  private readonly inflight = new Map<string, { fingerprint: string; promise: Promise<string> }>();
  containers: SandboxContainers = { stopAll: async () => {}, removeAll: async () => {} };
  infra: InfraRunner | undefined;

  constructor(private readonly o: SandboxServiceOptions) {
    this.records = new RecordStore<SandboxRecord>(path.join(o.root, 'sandboxes'));
  }

  async load(): Promise<void> {
    await this.records.load();
  }

  get(id: string): SandboxRecord | undefined {
    return this.records.get(id);
  }

  /** Exact id or unique prefix; NotFound otherwise. */
  resolve(idOrPrefix: string): SandboxRecord {
    return this.records.resolve(idOrPrefix, 'pod sandbox');
  }

  list(filter: SandboxFilter = {}): SandboxRecord[] {
    let out = filterById(this.records.all().filter((r) => r.state !== 'creating'), filter.id);
    if (filter.state) out = out.filter((r) => r.state === filter.state);
    if (filter.labels) {
      const want = Object.entries(filter.labels);
      out = out.filter((r) => want.every(([k, v]) => r.config.labels[k] === v));
    }
    return out;
  }

  run(config: SandboxConfig, signal: AbortSignal): Promise<string> {
    validateMetadata(config.metadata);
    const name = sandboxName(config.metadata);
    const fp = fingerprint(config);
    const pending = this.inflight.get(name);
    if (pending) {
      if (pending.fingerprint === fp) return pending.promise;
      throw alreadyExists(`pod sandbox name "${name}" is being created with a different config`);
    }
    const existing = this.records.all().find((r) => r.name === name);
    if (existing) {
      if (existing.state !== 'notready' && fingerprint(existing.config) === fp) return Promise.resolve(existing.id);
      throw alreadyExists(`pod sandbox name "${name}" is reserved by ${existing.id}`);
    }
    const promise = this.create(name, config, signal).finally(() => this.inflight.delete(name));
    this.inflight.set(name, { fingerprint: fp, promise });
    return promise;
  }

  private runtimePath(handler: string): string {
    const name = handler || this.o.defaultRuntime;
    const p = this.o.runtimes.get(name);
    if (!p) throw invalidArgument(`runtime handler "${handler}" is not configured (have: ${[...this.o.runtimes.keys()].join(', ')})`);
    return p;
  }

  private async create(name: string, config: SandboxConfig, signal: AbortSignal): Promise<string> {
    this.runtimePath(config.runtimeHandler);
    const ns = config.namespaces;
    if (ns.network === 'CONTAINER' || ns.network === 'TARGET') throw invalidArgument(`network namespace mode ${ns.network} is not valid for a pod`);
    const hostNet = ns.network === 'NODE';
    const hostIpc = ns.ipc === 'NODE';
    const own = { net: !hostNet, uts: !hostNet, ipc: !hostIpc };
    const sysctls = planSysctls(config.sysctls, own);
    const cgroupParent = cgroupfsParent(config.cgroupParent);
    if (!hostNet && !this.o.cniConfig.current().ready) await this.o.cniConfig.reload(); // a config may have just arrived
    const network = hostNet ? undefined : this.o.cniConfig.current();
    if (network && !network.ready) throw new SkiffError('FailedPrecondition', `network is not ready: ${network.reason}`);
    const resolvConf = await renderResolvConf(config.dns);
    const bandwidth = bandwidthCapability(config.annotations);

    const id = randomBytes(32).toString('hex');
    const dir = path.join(this.o.stateDir, 'pods', id);
    const record: SandboxRecord = {
      id,
      name,
      config,
      state: 'creating',
      createdAt: (BigInt(Date.now()) * 1_000_000n).toString(),
      runtimeHandler: config.runtimeHandler || this.o.defaultRuntime,
      dir,
      pins: this.o.namespaces.pinPaths(id, own),
      shmPath: hostIpc ? '/dev/shm' : path.join(dir, 'shm'),
      resolvConfPath: path.join(dir, 'resolv.conf'),
      hostnamePath: path.join(dir, 'hostname'),
      hostsPath: path.join(dir, 'hosts'),
      cgroupParent,
      // The shared default parent is Skiff's own: whichever pod goes last removes it.
      ownedCgroups: [...new Set([...missingCgroupLevels(cgroupParent), ...(config.cgroupParent === '' ? [cgroupParent] : [])])],
      ips: [],
      cniAttempted: false,
    };
    const log = this.o.log.child({ sandbox: id, pod: name });
    return this.locks.run(id, async () => {
      // Intent first: recovery can undo anything below from this record.
      await this.records.put(record);
      try {
        await fs.mkdir(dir, { recursive: true, mode: 0o755 });
        if (config.logDirectory) await fs.mkdir(config.logDirectory, { recursive: true, mode: 0o755 });
        await fs.writeFile(record.resolvConfPath, resolvConf, { mode: 0o644 });
        // No hostname asked (or host network): the node's, as containerd and CRI-O do.
        const hostname = hostNet || !config.hostname ? os.hostname() : config.hostname;
        await fs.writeFile(record.hostnamePath, hostname + '\n', { mode: 0o644 });
        if (!hostIpc) {
          await fs.mkdir(record.shmPath, { recursive: true });
          await mountTmpfs(record.shmPath, SHM_OPTIONS);
        }
        signal.throwIfAborted();
        await this.o.namespaces.create(record.pins, hostname, sysctls);
        if (record.pins.net && network?.ready) {
          await setupLoopback(this.o.cni, { ...this.podInfo(record), ifName: 'lo' }, signal);
          record.cniAttempted = true;
          await this.records.put(record);
          const result = await this.o.cni.add(network.network, this.podInfo(record), {
            portMappings: config.portMappings.filter((p) => p.hostPort > 0).map((p) => ({ hostPort: p.hostPort, containerPort: p.containerPort, protocol: p.protocol, ...(p.hostIp ? { hostIP: p.hostIp } : {}) })),
            ...(config.dns ? { dns: { servers: config.dns.servers, searches: config.dns.searches, options: config.dns.options } } : {}),
            ...(bandwidth ? { bandwidth } : {}),
          }, signal);
          record.ips = orderIps(result.ips.map((ip) => ip.address.split('/')[0]!));
          const veth = hostVeth(result.interfaces);
          if (veth) record.hostVeth = veth;
        }
        await fs.writeFile(record.hostsPath!, renderHosts(hostNet ? undefined : record.ips[0], hostname), { mode: 0o644 });
        if (this.needsInfra(record)) {
          if (!this.infra) throw new SkiffError('FailedPrecondition', 'this pod needs an infra container, which is not available');
          const infra = await this.infra.start(record, signal);
          if (infra) record.infra = infra;
        }
        record.state = 'ready';
        await this.records.put(record);
        log.info({ ips: record.ips }, 'pod sandbox ready');
        return id;
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'pod sandbox creation failed; rolling back');
        await this.teardown(record, log).catch((e: unknown) => log.error({ err: e }, 'rollback failed'));
        await this.removeFiles(record).catch((e: unknown) => log.error({ err: e }, 'rollback failed'));
        await this.records.delete(id);
        throw err;
      }
    });
  }

  needsInfra(record: SandboxRecord): boolean {
    return this.o.infraAlways || record.config.namespaces.pid === 'POD';
  }

  private podInfo(record: SandboxRecord): { sandboxId: string; podName: string; podNamespace: string; podUid: string; netnsPath: string } {
    return {
      sandboxId: record.id,
      podName: record.config.metadata.name,
      podNamespace: record.config.metadata.namespace,
      podUid: record.config.metadata.uid,
      netnsPath: record.pins.net ?? '',
    };
  }

  /**
   * Infra process, network and namespaces down; files stay. Safe to repeat.
   * Every step is tried even when an earlier one fails; the first error is thrown at the end.
   */
  private async teardown(record: SandboxRecord, log: Logger): Promise<void> {
    const errors: unknown[] = [];
    const step = async (what: string, fn: () => Promise<void>): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        log.warn({ err: (err as Error).message }, `${what} failed`);
        errors.push(err);
      }
    };
    if (record.infra && this.infra) await step('stopping the infra container', () => this.infra!.stop(record));
    if (record.cniAttempted) {
      // DEL always runs, with the cached ADD result, even after a failed ADD.
      await step('CNI DEL', async () => {
        await this.o.cni.del(undefined, this.podInfo(record));
        record.cniAttempted = false;
      });
    }
    await step('releasing namespaces', () => this.o.namespaces.release(record.pins));
    if (errors.length) throw errors[0];
    log.debug('pod network and namespaces released');
  }

  private async removeFiles(record: SandboxRecord): Promise<void> {
    if (record.infra && this.infra) await this.infra.remove(record);
    await removeEmptyCgroups(record.ownedCgroups ?? []);
    const ownShm = record.shmPath !== '/dev/shm';
    if (ownShm) await unmount(record.shmPath);
    // Never delete through a tmpfs still mounted (its files are in memory, not ours to walk).
    if (!ownShm || !isMountPoint(record.shmPath)) await fs.rm(record.dir, { recursive: true, force: true });
  }

  /**
   * Records the pod-level resources kubelet computed (overhead + total). Pod
   * cgroups belong to kubelet with cgroupfs; containers carry their own limits.
   */
  async updateResources(id: string, resources: { overhead: unknown; resources: unknown }): Promise<void> {
    const found = this.resolve(id);
    await this.locks.run(found.id, async () => {
      const record = this.records.get(found.id);
      if (!record) throw notFound(`pod sandbox "${id}" not found`);
      if (record.state !== 'ready') throw new SkiffError('FailedPrecondition', `pod sandbox ${record.id} is not ready`);
      record.podResources = resources;
      await this.records.put(record);
    });
  }

  async stop(id: string): Promise<void> {
    const found = this.records.get(id) ?? this.list({ id }).at(0);
    if (!found) return; // kubelet relies on stop of an unknown pod succeeding
    await this.locks.run(found.id, async () => {
      const record = this.records.get(found.id);
      if (!record) return;
      await this.containers.stopAll(record.id);
      await this.teardown(record, this.o.log.child({ sandbox: record.id }));
      record.state = 'notready';
      await this.records.put(record);
    });
  }

  async remove(id: string): Promise<void> {
    const found = this.records.get(id) ?? this.list({ id }).at(0);
    if (!found) return;
    await this.locks.run(found.id, async () => {
      const record = this.records.get(found.id);
      if (!record) return;
      const log = this.o.log.child({ sandbox: record.id });
      await this.containers.stopAll(record.id);
      await this.containers.removeAll(record.id);
      await this.teardown(record, log);
      await this.removeFiles(record);
      await this.records.delete(record.id);
      log.info('pod sandbox removed');
    });
  }

  /**
   * Start-up reconciliation: half-created sandboxes are rolled back; ready ones
   * whose namespaces or infra process are gone become not ready; pins nobody owns go.
   */
  async recover(): Promise<void> {
    for (const record of this.records.all()) {
      const log = this.o.log.child({ sandbox: record.id });
      if (record.state === 'creating') {
        log.warn('rolling back a pod sandbox left half-created');
        await this.teardown(record, log).catch((e: unknown) => log.error({ err: e }, 'rollback failed'));
        await this.removeFiles(record).catch((e: unknown) => log.error({ err: e }, 'rollback failed'));
        await this.records.delete(record.id);
        continue;
      }
      if (record.state === 'ready') {
        const infraOk = !record.infra || !this.infra || (await this.infra.alive(record));
        if (!this.o.namespaces.alive(record.pins) || !infraOk) {
          log.warn('pod sandbox lost its namespaces or infra process; marking it not ready');
          await this.teardown(record, log).catch((e: unknown) => log.error({ err: e }, 'cleanup failed'));
          record.state = 'notready';
          await this.records.put(record);
        }
      }
    }
    const known = new Set(this.records.all().map((r) => r.id));
    for (const file of await this.o.namespaces.orphans(known)) {
      await this.o.namespaces.release({ net: file });
    }
    // CNI attachments whose sandbox record is gone (a crash between ADD and the record): DEL them.
    for (const id of await this.o.cni.cachedSandboxes()) {
      if (known.has(id)) continue;
      await this.o.cni.del(undefined, { sandboxId: id, podName: '', podNamespace: '', podUid: '', netnsPath: '' }).catch((e: unknown) =>
        this.o.log.warn({ sandbox: id, err: (e as Error).message }, 'CNI DEL of an orphaned attachment failed'),
      );
    }
  }
}

/** The pod's /etc/hosts, for clients that do not mount kubelet's own. */
function renderHosts(ip: string | undefined, hostname: string): string {
  const lines = ['127.0.0.1\tlocalhost', '::1\tlocalhost ip6-localhost ip6-loopback', 'fe00::0\tip6-localnet', 'ff00::0\tip6-mcastprefix', 'ff02::1\tip6-allnodes', 'ff02::2\tip6-allrouters'];
  if (ip) lines.push(`${ip}\t${hostname}`);
  return lines.join('\n') + '\n';
}

/** IPv4 first: kubelet takes the first IP as the pod's primary one. */
function orderIps(ips: string[]): string[] {
  return [...ips.filter((i) => !i.includes(':')), ...ips.filter((i) => i.includes(':'))];
}
