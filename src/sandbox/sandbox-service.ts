import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { invalidArgument, notFound, SkiffError } from '../errors.js';
import type { HostMounts } from '../host/mount.js';
import { privateDir } from '../host/private-dir.js';
import type { Logger } from '../log.js';
import type { CniConfigWatcher } from '../network/cni/conf-dir.js';
import { type CniRuntime, setupLoopback } from '../network/cni/index.js';
import { hostVeth } from '../network/host-veth.js';
import type { HandlerFeatures } from '../runtime/handler-features.js';
import { apparmorFor, loadedProfiles } from '../security/apparmor.js';
import { checkSeccompProfile } from '../security/seccomp/seccomp-filter.js';
import { checkUserNamespace, podMappings } from '../security/user-namespace.js';
import { KeyedMutex } from '../store/keyed-mutex.js';
import { NameReservations } from '../store/name-reservations.js';
import { filterById, RecordStore } from '../store/record-store.js';
import { nowNs } from '../time.js';
import { bandwidthCapability } from './bandwidth.js';
import { missingCgroupLevels } from './cgroup-ownership.js';
import { cgroupfsParent } from './cgroup-parent.js';
import type { InfraRunner } from './infra.js';
import { checkHostname, sandboxName, validateMetadata } from './names.js';
import { orderIps, podInfo, renderHosts } from './pod-files.js';
import type { PodNamespaces } from './pod-namespaces.js';
import { SANDBOX_SCHEMA, withSandboxStatus } from './record.js';
import { renderResolvConf } from './resolv-conf.js';
import { planSysctls } from './sysctls.js';
import { PodTeardown } from './teardown.js';
import { SANDBOX_RECORD_VERSION, type SandboxConfig, type SandboxRecord, type SandboxState, type SandboxStatusFields } from './types.js';

/** The namespace pinning the service uses (pod-namespaces.ts; fakes in unit tests). */
export type NamespaceOps = Pick<PodNamespaces, 'pinPaths' | 'create' | 'release' | 'orphans' | 'alive'>;
/** The CNI calls the service makes (network/cni; fakes in unit tests). */
export type PodNetworkOps = Pick<CniRuntime, 'add' | 'del' | 'cachedSandboxes' | 'runStateless'>;

export interface SandboxServiceOptions {
  stateDir: string;
  root: string;
  runtimes: ReadonlyMap<string, string>;
  /** What each handler can apply (user namespaces); handlers missing here have no optional features. */
  handlerFeatures: ReadonlyMap<string, HandlerFeatures>;
  /** Whether the host has AppArmor (a pod's Localhost profile is refused without it). */
  apparmor: boolean;
  defaultRuntime: string;
  /** Run an infra process for every pod (containerd's way) instead of only when needed. */
  infraAlways: boolean;
  namespaces: NamespaceOps;
  cni: PodNetworkOps;
  cniConfig: Pick<CniConfigWatcher, 'current' | 'reload'>;
  infra: InfraRunner;
  mounts: HostMounts;
  log: Logger;
}

/**
 * The mappings of a pod with a user namespace of its own (already checked by
 * checkUserNamespace). Such a pod owns every namespace it has: host network,
 * IPC or PID would leave it holding none of the host's (kubelet refuses
 * those combinations too), and a privileged pod cannot be confined to one.
 */
function podUserNamespace(config: SandboxConfig): ReturnType<typeof podMappings> {
  const ns = config.namespaces;
  const mappings = podMappings(ns);
  if (!mappings) return undefined;
  const field = 'linux.security_context.namespace_options';
  for (const kind of ['network', 'ipc', 'pid'] as const)
    if (ns[kind] === 'NODE') throw invalidArgument(`${field}: a pod with its own user namespace cannot use the host's ${kind} namespace`);
  if (config.privileged) throw invalidArgument(`${field}: a privileged pod cannot have its own user namespace`);
  return mappings;
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
  private readonly names = new NameReservations('pod sandbox');
  private readonly teardown: PodTeardown;

  constructor(private readonly o: SandboxServiceOptions) {
    this.records = new RecordStore<SandboxRecord>(path.join(o.root, 'sandboxes'), {
      schema: SANDBOX_SCHEMA,
      onCorrupt: (file, err) => o.log.error({ file, err }, 'unreadable pod sandbox record moved aside'),
    });
    this.teardown = new PodTeardown({ ...o, records: this.records, needsInfra: (r) => this.needsInfra(r) });
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
    let out = filterById(
      this.records.all().filter((r) => r.status.state !== 'creating'),
      filter.id,
    );
    if (filter.state) out = out.filter((r) => r.status.state === filter.state);
    if (filter.labels) {
      const want = Object.entries(filter.labels);
      out = out.filter((r) => want.every(([k, v]) => r.config.labels[k] === v));
    }
    return out;
  }

  /** A retry with the same config gets the same pod (while it is not stopped). */
  run(config: SandboxConfig, signal: AbortSignal, log: Logger = this.o.log): Promise<string> {
    validateMetadata(config.metadata);
    checkSeccompProfile(config.seccomp);
    checkHostname(config.hostname);
    const handler = config.runtimeHandler || this.o.defaultRuntime;
    checkUserNamespace(
      config.namespaces.userNamespace,
      'linux.security_context.namespace_options.userns_options',
      handler,
      this.o.handlerFeatures.get(handler)?.userNamespaces ?? false,
    );
    apparmorFor(config.apparmor, config.privileged, { enabled: this.o.apparmor, loaded: () => loadedProfiles() });
    const name = sandboxName(config.metadata);
    const holder = this.records.all().find((r) => r.name === name);
    return this.names.reserve(
      name,
      fingerprint(config),
      holder && { id: holder.id, fingerprint: fingerprint(holder.config), reusable: holder.status.state !== 'notready' },
      () => this.create(name, config, signal, log),
    );
  }

  private runtimePath(handler: string): string {
    const name = handler || this.o.defaultRuntime;
    const p = this.o.runtimes.get(name);
    if (!p) throw invalidArgument(`runtime handler "${handler}" is not configured (have: ${[...this.o.runtimes.keys()].join(', ')})`);
    return p;
  }

  private async create(name: string, config: SandboxConfig, signal: AbortSignal, callLog: Logger): Promise<string> {
    this.runtimePath(config.runtimeHandler);
    const ns = config.namespaces;
    if (ns.network === 'CONTAINER' || ns.network === 'TARGET')
      throw invalidArgument(`network namespace mode ${ns.network} is not valid for a pod`);
    const hostNet = ns.network === 'NODE';
    const hostIpc = ns.ipc === 'NODE';
    const own = { net: !hostNet, uts: !hostNet, ipc: !hostIpc };
    const userns = podUserNamespace(config);
    const sysctls = planSysctls(config.sysctls, own);
    const cgroupParent = cgroupfsParent(config.cgroupParent);
    if (!hostNet && !this.o.cniConfig.current().ready) await this.o.cniConfig.reload(); // a config may have just arrived
    const network = hostNet ? undefined : this.o.cniConfig.current();
    if (network && !network.ready) throw new SkiffError('FailedPrecondition', `network is not ready: ${network.reason}`);
    const resolvConf = await renderResolvConf(config.dns);
    const bandwidth = bandwidthCapability(config.annotations);

    const id = randomBytes(32).toString('hex');
    const dir = path.join(this.o.stateDir, 'pods', id);
    let record: SandboxRecord = {
      version: SANDBOX_RECORD_VERSION,
      id,
      name,
      config,
      createdAt: nowNs(),
      runtimeHandler: config.runtimeHandler || this.o.defaultRuntime,
      dir,
      pins: this.o.namespaces.pinPaths(id, { ...own, user: userns !== undefined }),
      shmPath: hostIpc ? '/dev/shm' : path.join(dir, 'shm'),
      resolvConfPath: path.join(dir, 'resolv.conf'),
      hostnamePath: path.join(dir, 'hostname'),
      hostsPath: path.join(dir, 'hosts'),
      cgroupParent,
      // The shared default parent is Skiff's own: whichever pod goes last removes it.
      ownedCgroups: [...new Set([...missingCgroupLevels(cgroupParent), ...(config.cgroupParent === '' ? [cgroupParent] : [])])],
      status: { state: 'creating', ips: [], cniAttempted: false },
    };
    const log = callLog.child({ sandbox: id, pod: name });
    const setStatus = async (change: Partial<SandboxStatusFields>): Promise<void> => {
      record = await this.records.update(id, (r) => withSandboxStatus(r, change));
    };
    return this.locks.run(id, async () => {
      // Intent first: recovery can undo anything below from this record.
      await this.records.put(record);
      try {
        // The pod's files and shm: root's only, or also its own root's group when it has a user namespace.
        await privateDir(dir, userns?.gids.hostId);
        if (config.logDirectory) await fs.mkdir(config.logDirectory, { recursive: true, mode: 0o755 });
        await fs.writeFile(record.resolvConfPath, resolvConf, { mode: 0o644 });
        // No hostname asked (or host network): the node's, as containerd and CRI-O do.
        const hostname = hostNet || !config.hostname ? os.hostname() : config.hostname;
        await fs.writeFile(record.hostnamePath, hostname + '\n', { mode: 0o644 });
        if (!hostIpc) {
          await fs.mkdir(record.shmPath, { recursive: true });
          await this.o.mounts.mountTmpfs(record.shmPath, SHM_OPTIONS);
        }
        signal.throwIfAborted();
        await this.o.namespaces.create(record.pins, hostname, sysctls, userns);
        if (record.pins.net && network?.ready) {
          await setupLoopback(this.o.cni, { ...podInfo(record), ifName: 'lo' }, signal);
          await setStatus({ cniAttempted: true });
          const result = await this.o.cni.add(
            network.network,
            podInfo(record),
            {
              portMappings: config.portMappings
                .filter((p) => p.hostPort > 0)
                .map((p) => ({
                  hostPort: p.hostPort,
                  containerPort: p.containerPort,
                  protocol: p.protocol,
                  ...(p.hostIp ? { hostIP: p.hostIp } : {}),
                })),
              ...(config.dns ? { dns: { servers: config.dns.servers, searches: config.dns.searches, options: config.dns.options } } : {}),
              ...(bandwidth ? { bandwidth } : {}),
            },
            signal,
          );
          const veth = hostVeth(result.interfaces);
          await setStatus({
            ips: orderIps(result.ips.map((ip) => ip.address.split('/')[0] ?? ip.address)),
            ...(veth ? { hostVeth: veth } : {}),
          });
        }
        await fs.writeFile(record.hostsPath, renderHosts(hostNet ? undefined : record.status.ips[0], hostname), { mode: 0o644 });
        if (this.needsInfra(record)) await setStatus({ infra: await this.o.infra.start(record, signal) });
        await setStatus({ state: 'ready' });
        log.info({ ips: record.status.ips }, 'pod sandbox ready');
        return id;
      } catch (err) {
        log.warn({ err }, 'pod sandbox creation failed; rolling back');
        record = this.records.get(id) ?? record;
        await this.teardown.networkAndNamespaces(record, log).catch((e: unknown) => log.error({ err: e }, 'rollback failed'));
        await this.teardown.files(record).catch((e: unknown) => log.error({ err: e }, 'rollback failed'));
        await this.records.delete(id);
        throw err;
      }
    });
  }

  private needsInfra(record: SandboxRecord): boolean {
    return this.o.infraAlways || record.config.namespaces.pid === 'POD';
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
      if (record.status.state !== 'ready') throw new SkiffError('FailedPrecondition', `pod sandbox ${record.id} is not ready`);
      await this.records.update(record.id, (r) => withSandboxStatus(r, { podResources: resources }));
    });
  }

  /** Exact id, else a unique prefix, else undefined (stop and remove of an unknown pod succeed, as kubelet relies on). */
  find(idOrPrefix: string): SandboxRecord | undefined {
    return this.records.get(idOrPrefix) ?? this.list({ id: idOrPrefix }).at(0);
  }

  /** Network, namespaces and infra process down; the record stays, not ready. The pod's containers must be stopped first. */
  async stop(id: string, log: Logger = this.o.log): Promise<void> {
    const found = this.find(id);
    if (!found) return;
    await this.locks.run(found.id, async () => {
      const record = this.records.get(found.id);
      if (!record) return;
      const slog = log.child({ sandbox: record.id });
      await this.teardown.networkAndNamespaces(record, slog);
      await this.records.update(record.id, (r) => withSandboxStatus(r, { state: 'notready' }));
    });
  }

  /** Everything of the pod gone, record included. The pod's containers must be removed first. */
  async remove(id: string, log: Logger = this.o.log): Promise<void> {
    const found = this.find(id);
    if (!found) return;
    await this.locks.run(found.id, async () => {
      const record = this.records.get(found.id);
      if (!record) return;
      const slog = log.child({ sandbox: record.id });
      await this.teardown.networkAndNamespaces(record, slog);
      await this.teardown.files(this.records.get(record.id) ?? record);
      await this.records.delete(record.id);
      slog.info('pod sandbox removed');
    });
  }

  /**
   * Start-up reconciliation: half-created sandboxes are rolled back; ready ones
   * whose namespaces or infra process are gone become not ready; pins nobody owns go.
   */
  async recover(): Promise<void> {
    for (const record of this.records.all()) {
      const log = this.o.log.child({ sandbox: record.id });
      if (record.status.state === 'creating') {
        log.warn('rolling back a pod sandbox left half-created');
        await this.teardown.networkAndNamespaces(record, log).catch((e: unknown) => log.error({ err: e }, 'rollback failed'));
        await this.teardown.files(record).catch((e: unknown) => log.error({ err: e }, 'rollback failed'));
        await this.records.delete(record.id);
        continue;
      }
      if (record.status.state === 'ready') {
        const infraOk = !record.status.infra || (await this.o.infra.alive(record));
        if (!this.o.namespaces.alive(record.pins) || !infraOk) {
          log.warn('pod sandbox lost its namespaces or infra process; marking it not ready');
          await this.teardown.networkAndNamespaces(record, log).catch((e: unknown) => log.error({ err: e }, 'cleanup failed'));
          await this.records.update(record.id, (r) => withSandboxStatus(r, { state: 'notready' }));
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
      await this.o.cni
        .del(undefined, { sandboxId: id, podName: '', podNamespace: '', podUid: '', netnsPath: '' })
        .catch((err: unknown) => this.o.log.warn({ sandbox: id, err }, 'CNI DEL of an orphaned attachment failed'));
    }
    await this.o.infra.watchExits((infraId) => void this.infraExited(infraId));
  }

  /**
   * The infra process of a ready pod exited: the pod is not ready (its shared
   * PID namespace is gone), as kubelet must learn to recreate it. Its network
   * stays until StopPodSandbox tears it down.
   */
  private async infraExited(infraId: string): Promise<void> {
    const found = this.records.all().find((r) => r.status.infra?.containerId === infraId);
    if (!found) return;
    await this.locks.run(found.id, async () => {
      const record = this.records.get(found.id);
      if (record?.status.state !== 'ready' || record.status.infra?.containerId !== infraId) return;
      this.o.log.warn({ sandbox: record.id, infra: infraId }, 'infra process exited; pod sandbox is not ready');
      await this.records.update(record.id, (r) => withSandboxStatus(r, { state: 'notready' }));
    });
  }

  /** Stops watching infra exits. */
  close(): void {
    this.o.infra.close();
  }
}
