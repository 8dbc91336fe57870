import { randomBytes } from 'node:crypto';
import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { alreadyExists, failedPrecondition, invalidArgument, notFound, SkiffError } from '../errors.js';
import type { ContainerEventBus } from '../events/container-events.js';
import { isMountPoint, mountOverlay, unmount } from '../host/mount.js';
import type { ImageService } from '../image/image-service.js';
import type { Logger } from '../log.js';
import { launchContainer, reopenLog } from '../runtime/conmon.js';
import { killAll, oomKillCount, removeCgroup } from '../runtime/cgroups.js';
import { ExitWatcher, oomKilled, readExitCode } from '../runtime/exit-watcher.js';
import { RuncClient } from '../runtime/runc.js';
import type { SandboxService } from '../sandbox/sandbox-service.js';
import type { SandboxRecord } from '../sandbox/types.js';
import type { OverlaySnapshotter } from '../snapshot/overlay-snapshotter.js';
import { writeJsonAtomic } from '../store/atomic-file.js';
import { KeyedMutex } from '../store/keyed-mutex.js';
import { filterById, RecordStore } from '../store/record-store.js';
import type { ContainerRecord, ContainerState } from './record.js';
import { buildSpec } from './spec/build-spec.js';
import { requiresHostPropagation } from './spec/mounts.js';
import { checkHostPropagation } from '../host/mount-propagation.js';
import { cgroupResources, type CgroupFeatures } from './spec/resources.js';
import { resolveUser } from './spec/users.js';
import type { ContainerConfig, ContainerResources } from './types.js';

export interface ContainerServiceOptions {
  stateDir: string;
  root: string;
  conmonPath: string;
  runtimes: ReadonlyMap<string, string>;
  sandboxes: SandboxService;
  images: ImageService;
  snapshots: OverlaySnapshotter;
  events: ContainerEventBus;
  log: Logger;
}

export interface ContainerFilter {
  id?: string;
  state?: ContainerState;
  sandboxId?: string;
  labels?: Record<string, string>;
}

export interface ExecResult {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
  timedOut: boolean;
}

/** This host: cgroup v1 (hybrid) with swap accounting, hugetlb out of runc's reach. */
const CGROUP_FEATURES: CgroupFeatures = detectCgroupFeatures();

function detectCgroupFeatures(): CgroupFeatures {
  const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
  return {
    cgroupV2: v2,
    swapAccounting: v2 ? true : existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes'),
    hugetlb: v2 || existsSync('/sys/fs/cgroup/hugetlb'),
  };
}

const nowNs = (): string => (BigInt(Date.now()) * 1_000_000n).toString();
/** Grace after SIGKILL before every process of the cgroup is killed by hand. */
const KILL_GRACE_MS = 2000;

/** Reads our own oom_score_adj: without CAP_SYS_RESOURCE nothing below it can be set. */
async function ownOomScoreAdj(): Promise<number> {
  return Number((await fs.readFile('/proc/self/oom_score_adj', 'utf8')).trim()) || 0;
}

/** Capability names in our bounding set (requested ones outside it would make runc fail). */
async function boundingCaps(): Promise<string[]> {
  const status = await fs.readFile('/proc/self/status', 'utf8');
  const hex = /CapBnd:\s*([0-9a-f]+)/.exec(status)?.[1] ?? '0';
  const mask = BigInt('0x' + hex);
  return CAP_NAMES.filter((_, i) => (mask >> BigInt(i)) & 1n);
}

const CAP_NAMES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID', 'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN', 'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER',
  'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT', 'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE', 'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL', 'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND', 'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

/**
 * Container lifecycle on runc under conmon. Records are written before each
 * step; exits are learned from conmon's exit files through one directory watch.
 */
export class ContainerService {
  private readonly records: RecordStore<ContainerRecord>;
  private readonly locks = new KeyedMutex();
  private readonly inflight = new Map<string, { fingerprint: string; promise: Promise<string> }>();
  private readonly exitDir: string;
  private readonly watcher: ExitWatcher;
  private readonly exitWaiters = new Map<string, (() => void)[]>();
  /** Exits being recorded (the OOM checks are async): one recording per exit. */
  private readonly exiting = new Set<string>();
  private readonly processSpecs = new Map<string, Record<string, unknown>>();
  private readonly runcs = new Map<string, RuncClient>();

  constructor(private readonly o: ContainerServiceOptions) {
    this.records = new RecordStore<ContainerRecord>(path.join(o.root, 'containers'));
    this.exitDir = path.join(o.stateDir, 'exits');
    this.watcher = new ExitWatcher(this.exitDir);
    this.watcher.on('exit', (id: string, code: number, at: Date) => void this.onExit(id, code, at));
  }

  runc(handler: string): RuncClient {
    let client = this.runcs.get(handler);
    if (!client) {
      const binary = this.o.runtimes.get(handler);
      if (!binary) throw invalidArgument(`runtime handler "${handler}" is not configured`);
      client = new RuncClient({ binary, root: path.join(this.o.stateDir, 'runtime', handler), log: this.o.log });
      this.runcs.set(handler, client);
    }
    return client;
  }

  async load(): Promise<void> {
    await fs.mkdir(this.exitDir, { recursive: true });
    await fs.mkdir(path.join(this.o.stateDir, 'sockets'), { recursive: true });
    await this.records.load();
  }

  get(id: string): ContainerRecord | undefined {
    return this.records.get(id);
  }

  resolve(idOrPrefix: string): ContainerRecord {
    return this.records.resolve(idOrPrefix, 'container', (r) => r.state !== 'creating');
  }

  list(filter: ContainerFilter = {}): ContainerRecord[] {
    let out = filterById(this.records.all().filter((r) => r.state !== 'creating'), filter.id);
    if (filter.state) out = out.filter((r) => r.state === filter.state);
    if (filter.sandboxId) out = out.filter((r) => r.sandboxId === filter.sandboxId || r.sandboxId.startsWith(filter.sandboxId!));
    if (filter.labels) {
      const want = Object.entries(filter.labels);
      out = out.filter((r) => want.every(([k, v]) => r.config.labels[k] === v));
    }
    return out;
  }

  create(sandboxId: string, config: ContainerConfig, signal: AbortSignal): Promise<string> {
    const sandbox = this.o.sandboxes.resolve(sandboxId);
    if (sandbox.state !== 'ready') throw failedPrecondition(`pod sandbox ${sandbox.id} is not ready`);
    const m = config.metadata;
    const name = `${m.name}_${sandbox.config.metadata.name}_${sandbox.config.metadata.namespace}_${sandbox.config.metadata.uid}_${m.attempt}`;
    const fingerprint = JSON.stringify({ sandbox: sandbox.id, config });
    const pending = this.inflight.get(name);
    if (pending) {
      if (pending.fingerprint === fingerprint) return pending.promise;
      throw alreadyExists(`container name "${name}" is being created with a different config`);
    }
    const existing = this.records.all().find((r) => r.name === name);
    if (existing) {
      if (existing.fingerprint === fingerprint) return Promise.resolve(existing.id);
      throw alreadyExists(`container name "${name}" is reserved by ${existing.id}`);
    }
    const promise = this.doCreate(name, fingerprint, sandbox, config, signal).finally(() => this.inflight.delete(name));
    this.inflight.set(name, { fingerprint, promise });
    return promise;
  }

  private async doCreate(name: string, fingerprint: string, sandbox: SandboxRecord, config: ContainerConfig, signal: AbortSignal): Promise<string> {
    const image = this.o.images.find(config.image);
    if (!image) throw notFound(`image "${config.image}" not found`);
    const top = image.layers[image.layers.length - 1];
    if (!top) throw failedPrecondition(`image ${image.id} has no layers`);
    const id = randomBytes(32).toString('hex');
    const bundle = path.join(this.o.stateDir, 'containers', id);
    const runtimeHandler = sandbox.runtimeHandler;
    const runtimePath = this.o.runtimes.get(runtimeHandler);
    if (!runtimePath) throw failedPrecondition(`runtime handler "${runtimeHandler}" of the pod is not available`);
    const record: ContainerRecord = {
      id,
      name,
      sandboxId: sandbox.id,
      config,
      fingerprint,
      state: 'creating',
      image: image.repoTags[0] ?? config.image,
      imageId: image.id,
      imageRef: image.repoDigests[0] ?? image.id,
      runtimeHandler,
      runtimePath,
      bundle,
      rootfs: path.join(bundle, 'rootfs'),
      logPath: config.logPath ? path.join(sandbox.config.logDirectory, config.logPath) : '',
      cgroupsPath: `${sandbox.cgroupParent === '/' ? '' : sandbox.cgroupParent}/${id}`,
      stopSignal: image.config.config?.StopSignal || 'SIGTERM',
      user: { uid: 0, gid: 0, additionalGids: [] },
      createdAt: nowNs(),
      startedAt: '0',
      finishedAt: '0',
      exitCode: 0,
      reason: '',
      message: '',
      pid: 0,
      conmonPid: 0,
    };
    const log = this.o.log.child({ container: id, name });
    await this.records.put(record); // intent: recovery can undo what follows
    try {
      await fs.mkdir(record.rootfs, { recursive: true, mode: 0o755 });
      const { options } = await this.o.snapshots.prepareActive(id, top.chainId);
      await mountOverlay(record.rootfs, options);
      signal.throwIfAborted();
      for (const need of requiresHostPropagation(config.mounts)) checkHostPropagation(need.path, need.mode);
      record.user = await resolveUser(record.rootfs, config, image.config.config?.User);
      const pidPath = this.pidNamespacePath(sandbox, config);
      const ns = config.linux.securityContext.namespaceOptions;
      const specConfig =
        ns.pid === 'POD' && pidPath === undefined
          ? { ...config, linux: { ...config.linux, securityContext: { ...config.linux.securityContext, namespaceOptions: { ...ns, pid: 'CONTAINER' as const } } } }
          : config;
      const spec = buildSpec({
        id,
        rootfs: record.rootfs,
        config: specConfig,
        image: image.config,
        sandbox,
        user: record.user,
        minOomScoreAdj: await ownOomScoreAdj(),
        boundingCaps: await boundingCaps(),
        cgroupV2: CGROUP_FEATURES.cgroupV2,
        swapAccounting: CGROUP_FEATURES.swapAccounting,
        hugetlb: CGROUP_FEATURES.hugetlb,
        ...(pidPath ? { pidNamespacePath: pidPath } : {}),
        ...(sandbox.hostsPath && existsSync(sandbox.hostsPath) ? { hostsPath: sandbox.hostsPath } : {}),
      });
      await writeJsonAtomic(path.join(bundle, 'config.json'), spec);
      record.state = 'created';
      await this.records.put(record);
      this.o.events.publish({ containerId: id, sandboxId: sandbox.id, type: 'created' });
      log.info('container created');
      return id;
    } catch (err) {
      await this.cleanupFiles(record).catch((e: unknown) => log.error({ err: e }, 'rollback failed'));
      await this.records.delete(id);
      throw err;
    }
  }

  private pidNamespacePath(sandbox: SandboxRecord, config: ContainerConfig): string | undefined {
    const mode = config.linux?.securityContext?.namespaceOptions?.pid ?? 'CONTAINER';
    if (mode === 'POD') {
      // A pod that does not share its PID namespace has none to join: the container gets its own.
      if (!sandbox.infra) {
        if (sandbox.config.namespaces.pid !== 'POD') return undefined;
        throw failedPrecondition(`pod ${sandbox.id} has no infra process holding its shared PID namespace`);
      }
      return `/proc/${sandbox.infra.pid}/ns/pid`;
    }
    if (mode === 'TARGET') {
      const targetId = config.linux?.securityContext?.namespaceOptions?.targetId ?? '';
      const target = this.records.get(targetId);
      if (!target || target.state !== 'running') throw failedPrecondition(`target container "${targetId}" is not running`);
      return `/proc/${target.pid}/ns/pid`;
    }
    return undefined;
  }

  async start(id: string): Promise<void> {
    const found = this.resolve(id);
    await this.locks.run(found.id, async () => {
      const record = this.records.get(found.id)!;
      if (record.state !== 'created') throw failedPrecondition(`container ${record.id} is ${record.state}, not created`);
      const log = this.o.log.child({ container: record.id });
      try {
        if (record.logPath) await fs.mkdir(path.dirname(record.logPath), { recursive: true });
        const launched = await launchContainer({
          conmonPath: this.o.conmonPath,
          id: record.id,
          name: record.name,
          bundle: record.bundle,
          runtimePath: record.runtimePath,
          runtimeRoot: path.join(this.o.stateDir, 'runtime', record.runtimeHandler),
          logPath: record.logPath || path.join(record.bundle, 'container.log'),
          exitDir: this.exitDir,
          socketDir: path.join(this.o.stateDir, 'sockets'),
          stdin: record.config.stdin,
          stdinOnce: record.config.stdinOnce,
          tty: record.config.tty,
          log,
        });
        record.pid = launched.pid;
        record.conmonPid = launched.conmonPid;
        const startedAt = nowNs(); // before runc start: a quick process may exit before it returns
        await this.runc(record.runtimeHandler).start(record.id, record.pid);
        record.state = 'running';
        record.startedAt = startedAt;
        await this.records.put(record);
        this.o.events.publish({ containerId: record.id, sandboxId: record.sandboxId, type: 'started' });
        log.info({ pid: record.pid }, 'container started');
        // An exit that raced the record write is caught here.
        const code = await readExitCode(this.exitDir, record.id);
        if (code !== undefined) await this.onExit(record.id, code, new Date());
      } catch (err) {
        // As containerd does: the container is left exited, with the reason.
        await this.runc(record.runtimeHandler).delete(record.id, { force: true }).catch(() => undefined);
        record.state = 'exited';
        record.exitCode = 128;
        record.reason = 'StartError';
        record.message = (err as Error).message;
        record.finishedAt = nowNs();
        if (record.startedAt === '0') record.startedAt = record.finishedAt;
        await this.records.put(record);
        this.o.events.publish({ containerId: record.id, sandboxId: record.sandboxId, type: 'stopped' });
        throw err instanceof SkiffError ? err : new SkiffError('Internal', `starting container ${record.id}: ${(err as Error).message}`);
      }
    });
  }

  /** conmon wrote an exit file: record the exit (once). */
  private async onExit(id: string, code: number, at: Date): Promise<void> {
    const record = this.records.get(id);
    if (!record || record.state !== 'running' || this.exiting.has(id)) return;
    this.exiting.add(id);
    // conmon's marker, or the memory cgroup's own counter (either may be missing alone).
    const oom = (await oomKilled(record.bundle).catch(() => false)) || (await oomKillCount(record.cgroupsPath).catch(() => 0)) > 0;
    this.exiting.delete(id);
    // Every field at once: a status read in between must not see an exit without its reason.
    const finished = BigInt(at.getTime()) * 1_000_000n;
    record.state = 'exited';
    record.exitCode = code;
    record.finishedAt = (finished > BigInt(record.startedAt) ? finished : BigInt(record.startedAt)).toString();
    record.reason = oom ? 'OOMKilled' : code === 0 ? 'Completed' : 'Error';
    await this.records.put(record);
    await this.runc(record.runtimeHandler).delete(record.id, { force: true }).catch(() => undefined);
    await removeCgroup(record.cgroupsPath).catch(() => undefined);
    this.o.events.publish({ containerId: id, sandboxId: record.sandboxId, type: 'stopped' });
    for (const wake of this.exitWaiters.get(id) ?? []) wake();
    this.exitWaiters.delete(id);
  }

  private waitExit(id: string, ms: number): Promise<boolean> {
    const record = this.records.get(id);
    if (!record || record.state !== 'running') return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        const list = this.exitWaiters.get(id) ?? [];
        this.exitWaiters.set(id, list.filter((w) => w !== wake));
        resolve(this.records.get(id)?.state !== 'running');
      }, ms);
      const wake = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.exitWaiters.set(id, [...(this.exitWaiters.get(id) ?? []), wake]);
    });
  }

  /** StopSignal, `timeoutSec` grace, SIGKILL, then every process of the cgroup. Returns once exited. */
  async stop(id: string, timeoutSec: number): Promise<void> {
    const found = this.records.get(id) ?? this.list({ id }).at(0);
    if (!found) return;
    if (found.state !== 'running') return;
    const runc = this.runc(found.runtimeHandler);
    const log = this.o.log.child({ container: found.id });
    if (timeoutSec > 0) {
      await runc.kill(found.id, found.stopSignal).catch((e: unknown) => log.debug({ err: (e as Error).message }, 'stop signal'));
      if (await this.waitExit(found.id, timeoutSec * 1000)) return;
    }
    await runc.kill(found.id, 'SIGKILL', { all: true }).catch((e: unknown) => log.debug({ err: (e as Error).message }, 'SIGKILL'));
    if (await this.waitExit(found.id, KILL_GRACE_MS)) return;
    log.warn('container survived SIGKILL through runc; killing its cgroup');
    await killAll(found.cgroupsPath, 'SIGKILL').catch(() => undefined);
    if (await this.waitExit(found.id, 10000)) return;
    // conmon is gone or wedged: record the exit ourselves so stop always stops.
    const code = await readExitCode(this.exitDir, found.id);
    await this.onExit(found.id, code ?? 137, new Date());
  }

  async remove(id: string): Promise<void> {
    const found = this.records.get(id) ?? this.list({ id }).at(0);
    if (!found) return;
    await this.stop(found.id, 0);
    await this.locks.run(found.id, async () => {
      const record = this.records.get(found.id);
      if (!record) return;
      await this.runc(record.runtimeHandler).delete(record.id, { force: true }).catch(() => undefined);
      await this.cleanupFiles(record);
      await this.records.delete(record.id);
      this.processSpecs.delete(record.id);
      this.o.events.publish({ containerId: record.id, sandboxId: record.sandboxId, type: 'deleted' });
    });
  }

  private async cleanupFiles(record: ContainerRecord): Promise<void> {
    await unmount(record.rootfs);
    await this.o.snapshots.removeActive(record.id);
    await removeCgroup(record.cgroupsPath).catch(() => undefined);
    await fs.rm(path.join(this.exitDir, record.id), { force: true });
    await fs.rm(path.join(this.o.stateDir, 'sockets', record.id), { recursive: true, force: true });
    if (!isMountPoint(record.rootfs)) await fs.rm(record.bundle, { recursive: true, force: true });
  }

  async stopAll(sandboxId: string): Promise<void> {
    await Promise.all(this.list({ sandboxId }).filter((r) => r.sandboxId === sandboxId).map((r) => this.stop(r.id, 0)));
  }

  async removeAll(sandboxId: string): Promise<void> {
    await Promise.all(this.records.all().filter((r) => r.sandboxId === sandboxId).map((r) => this.remove(r.id)));
  }

  async execSync(id: string, cmd: string[], timeoutSec: number, signal: AbortSignal): Promise<ExecResult> {
    const record = this.resolve(id);
    if (record.state !== 'running') throw failedPrecondition(`container ${record.id} is not running`);
    if (cmd.length === 0) throw invalidArgument('cmd is required');
    const processSpec = { ...(await this.processSpec(record)), args: cmd, terminal: false };
    return this.runc(record.runtimeHandler).exec(record.id, processSpec, {
      ...(timeoutSec > 0 ? { timeoutMs: timeoutSec * 1000 } : {}),
      signal,
      maxOutputBytes: 16 * 1024 * 1024,
    });
  }

  /** The container's own process spec (what an exec inherits), read from its bundle once. */
  private async processSpec(record: ContainerRecord): Promise<Record<string, unknown>> {
    let spec = this.processSpecs.get(record.id);
    if (!spec) {
      spec = (JSON.parse(await fs.readFile(path.join(record.bundle, 'config.json'), 'utf8')) as { process: Record<string, unknown> }).process;
      this.processSpecs.set(record.id, spec);
    }
    return spec;
  }

  async reopenLog(id: string): Promise<void> {
    const record = this.resolve(id);
    if (record.state !== 'running') throw failedPrecondition(`container ${record.id} is not running`);
    const before = await fs.stat(record.logPath).then((s) => s.ino, () => undefined);
    await reopenLog(record.bundle);
    // conmon reopens asynchronously: answer once the new file is there (kubelet checks at once).
    for (let i = 0; i < 200; i++) {
      const now = await fs.stat(record.logPath).then((s) => s.ino, () => undefined);
      if (now !== undefined && now !== before) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    // The same file reopened in place keeps its inode; only a missing file is a failure.
    if (before === undefined) throw new SkiffError('Internal', `conmon did not reopen ${record.logPath} within 2 s`);
  }

  async updateResources(id: string, resources: ContainerResources): Promise<void> {
    const record = this.resolve(id);
    const oci = cgroupResources(resources, CGROUP_FEATURES);
    await this.locks.run(record.id, async () => {
      if (record.state === 'running' || record.state === 'created') {
        if (record.state === 'running') await this.runc(record.runtimeHandler).update(record.id, oci);
      } else {
        throw failedPrecondition(`container ${record.id} is ${record.state}`);
      }
      record.config = { ...record.config, linux: { ...record.config.linux, resources } };
      await this.records.put(record);
      // A created container picks the new values up when it starts.
      const specFile = path.join(record.bundle, 'config.json');
      const spec = JSON.parse(await fs.readFile(specFile, 'utf8')) as { linux?: { resources?: object } };
      spec.linux = { ...spec.linux, resources: { ...spec.linux?.resources, ...oci } };
      await writeJsonAtomic(specFile, spec);
    });
  }

  /** Start-up reconciliation with conmon, runc and the exit files. */
  async recover(): Promise<void> {
    for (const record of this.records.all()) {
      const log = this.o.log.child({ container: record.id });
      if (record.state === 'creating') {
        log.warn('rolling back a container left half-created');
        await this.cleanupFiles(record).catch((e: unknown) => log.error({ err: e }, 'rollback failed'));
        await this.records.delete(record.id);
        continue;
      }
      if (record.state === 'created' && !isMountPoint(record.rootfs)) {
        // After a reboot (/run on disk keeps the bundle, not the mount): mount the rootfs again.
        const active = this.o.snapshots.getActive(record.id);
        if (active) {
          const { options } = await this.o.snapshots.prepareActive(record.id, active.parent);
          await fs.mkdir(record.rootfs, { recursive: true });
          await mountOverlay(record.rootfs, options).catch((e: unknown) => log.error({ err: (e as Error).message }, 'remounting rootfs failed'));
        }
      }
      if (record.state === 'running') {
        const code = await readExitCode(this.exitDir, record.id);
        if (code !== undefined) {
          await this.onExit(record.id, code, new Date());
          continue;
        }
        const state = await this.runc(record.runtimeHandler).state(record.id).catch(() => undefined);
        if (!state || state.status === 'stopped') {
          // Neither an exit file nor a live process: conmon died with it.
          record.state = 'exited';
          record.exitCode = 255;
          record.reason = 'Unknown';
          record.message = 'the container was gone when skiff restarted';
          record.finishedAt = nowNs();
          await this.records.put(record);
        }
      }
    }
    await this.watcher.start();
  }

  async close(): Promise<void> {
    this.watcher.stop();
  }
}
