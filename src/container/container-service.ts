// Container lifecycle on an OCI runtime under a per-container monitor. This
// class holds the shared state (records, locks, name reservations) and hands
// each operation to the module that does it: create.ts, start.ts,
// stop-ladder.ts, exits.ts, exec-sync.ts, recovery.ts.
import { promises as fs } from 'node:fs';

import { failedPrecondition, SkiffError } from '../errors.js';
import type { Logger } from '../log.js';
import type { ExecResult } from '../runtime/runc.js';
import type { SandboxRecord } from '../sandbox/types.js';
import { KeyedMutex } from '../store/keyed-mutex.js';
import { NameReservations } from '../store/name-reservations.js';
import type { OutputSinks, StreamTarget } from '../streaming/stream-session.js';
import { type ContainerFilter, ContainerRecords } from './container-records.js';
import { containerName, createContainer, createFingerprint } from './create.js';
import type { ContainerDeps } from './deps.js';
import { ExecSync } from './exec-sync.js';
import { ExitTracker } from './exits.js';
import { cgroupResources } from './oci-spec/resources.js';
import { bundleRefOf, type ContainerRecord } from './record.js';
import { recoverContainers } from './recovery.js';
import { startContainer } from './start.js';
import { stopContainer } from './stop-ladder.js';
import { execsRoot, type ExecStreamRequest, StreamTargets } from './stream-targets.js';
import type { ContainerConfig, ContainerResources } from './types.js';

export type { ContainerFilter } from './container-records.js';

/** What ContainerStatus(verbose) adds: where the container lives and its runtime spec. */
export interface ContainerVerboseInfo {
  pid: number;
  conmonPid: number;
  sandboxId: string;
  runtimeHandler: string;
  bundle: string;
  cgroupsPath: string;
  runtimeSpec: unknown;
}

export class ContainerService {
  private readonly records: ContainerRecords;
  private readonly locks = new KeyedMutex();
  private readonly names = new NameReservations('container');
  private readonly exits: ExitTracker;
  private readonly execs: ExecSync;
  private readonly streams: StreamTargets;

  constructor(private readonly deps: ContainerDeps) {
    this.records = new ContainerRecords(deps.root, (file, err) => deps.log.error({ file, err }, 'unreadable container record moved aside'));
    this.exits = new ExitTracker(this.records, deps);
    this.execs = new ExecSync(deps);
    this.streams = new StreamTargets(deps, this.execs);
  }

  async load(): Promise<void> {
    await fs.mkdir(this.deps.exitDir, { recursive: true });
    await fs.mkdir(this.deps.socketDir, { recursive: true });
    await this.records.load();
  }

  get(id: string): ContainerRecord | undefined {
    return this.records.get(id);
  }

  resolve(idOrPrefix: string): ContainerRecord {
    return this.records.resolve(idOrPrefix);
  }

  list(filter: ContainerFilter = {}): ContainerRecord[] {
    return this.records.list(filter);
  }

  /** A retry with the same request gets the same container; the sandbox must be ready. */
  create(sandbox: SandboxRecord, config: ContainerConfig, signal: AbortSignal, log: Logger = this.deps.log): Promise<string> {
    if (sandbox.status.state !== 'ready') throw failedPrecondition(`pod sandbox ${sandbox.id} is not ready`);
    const name = containerName(sandbox, config);
    const fingerprint = createFingerprint(sandbox, config);
    const holder = this.records.byName(name);
    return this.names.reserve(name, fingerprint, holder && { id: holder.id, fingerprint: holder.fingerprint, reusable: true }, () =>
      createContainer(this.records, this.deps, name, sandbox, config, signal, log),
    );
  }

  async start(id: string, log: Logger = this.deps.log): Promise<void> {
    const found = this.resolve(id);
    await this.locks.run(found.id, async () => {
      const record = this.records.get(found.id);
      if (!record) throw failedPrecondition(`container ${found.id} was removed`);
      await startContainer(this.records, this.exits, this.deps, record, log);
    });
  }

  /** The stop signal, `timeoutSec` grace, SIGKILL, then every process of the cgroup. Returns once exited. */
  stop(id: string, timeoutSec: number, log: Logger = this.deps.log): Promise<void> {
    return stopContainer(this.records, this.exits, this.deps, id, timeoutSec, log, this.deps.stopTimings);
  }

  async remove(id: string, log: Logger = this.deps.log): Promise<void> {
    const found = this.records.find(id);
    if (!found) return;
    await this.stop(found.id, 0, log);
    await this.locks.run(found.id, async () => {
      const record = this.records.get(found.id);
      if (!record) return;
      await this.deps.runtimes
        .get(record.runtimeHandler)
        .delete(record.id, { force: true })
        .catch((err: unknown) => log.debug({ err, container: record.id }, 'runtime delete'));
      await this.deps.bundles.remove(bundleRefOf(record));
      await this.records.delete(record.id);
      this.execs.forget(record.id);
      this.deps.events.publish({ containerId: record.id, sandboxId: record.sandboxId, type: 'deleted' });
    });
  }

  async stopAll(sandboxId: string, log: Logger = this.deps.log): Promise<void> {
    await Promise.all(
      this.records
        .all()
        .filter((r) => r.sandboxId === sandboxId)
        .map((r) => this.stop(r.id, 0, log)),
    );
  }

  async removeAll(sandboxId: string, log: Logger = this.deps.log): Promise<void> {
    await Promise.all(
      this.records
        .all()
        .filter((r) => r.sandboxId === sandboxId)
        .map((r) => this.remove(r.id, log)),
    );
  }

  execSync(id: string, cmd: string[], timeoutSec: number, signal: AbortSignal): Promise<ExecResult> {
    return this.execs.run(this.resolve(id), cmd, timeoutSec, signal);
  }

  /** Starts a streamed exec in the running container (the streaming server's Exec). */
  openExec(id: string, req: ExecStreamRequest, sinks: OutputSinks): Promise<StreamTarget> {
    return this.streams.exec(this.resolve(id), req, sinks);
  }

  /** Connects to the running container's own stdio (the streaming server's Attach). */
  openAttach(id: string, req: { stdin: boolean; size?: { width: number; height: number } }, sinks: OutputSinks): Promise<StreamTarget> {
    return this.streams.attach(this.resolve(id), req, sinks);
  }

  async reopenLog(id: string): Promise<void> {
    const record = this.resolve(id);
    if (record.status.state !== 'running') throw failedPrecondition(`container ${record.id} is not running`);
    const inode = (): Promise<number | undefined> =>
      fs.stat(record.logPath).then(
        (s) => s.ino,
        () => undefined,
      );
    const before = await inode();
    await this.deps.monitor.reopenLog(record.bundle);
    // The monitor reopens asynchronously: answer once the new file is there (kubelet checks at once).
    for (let i = 0; i < 200; i++) {
      const now = await inode();
      if (now !== undefined && now !== before) return;
      await new Promise((r) => setTimeout(r, 10));
    }
    // The same file reopened in place keeps its inode; only a missing file is a failure.
    if (before === undefined) throw new SkiffError('Internal', `the monitor did not reopen ${record.logPath} within 2 s`);
  }

  async updateResources(id: string, resources: ContainerResources): Promise<void> {
    const found = this.resolve(id);
    const oci = cgroupResources(resources, this.deps.host.cgroup);
    await this.locks.run(found.id, async () => {
      const record = this.records.get(found.id);
      const state = record?.status.state;
      if (!record || (state !== 'running' && state !== 'created'))
        throw failedPrecondition(`container ${found.id} is ${state ?? 'removed'}`);
      if (state === 'running') await this.deps.runtimes.get(record.runtimeHandler).update(record.id, oci);
      await this.records.setStatus(record.id, { resources });
      // A created container picks the new values up when it starts.
      const ref = bundleRefOf(record);
      const spec = await this.deps.bundles.readSpec(ref);
      await this.deps.bundles.writeSpec(ref, { ...spec, linux: { ...spec.linux, resources: { ...spec.linux.resources, ...oci } } });
    });
  }

  /** The bundle's view of the container, for verbose status. */
  async verboseInfo(record: ContainerRecord): Promise<ContainerVerboseInfo> {
    const runtimeSpec = await this.deps.bundles.readSpec(bundleRefOf(record)).catch(() => null);
    const { pid, conmonPid } = record.status;
    return {
      pid,
      conmonPid,
      sandboxId: record.sandboxId,
      runtimeHandler: record.runtimeHandler,
      bundle: record.bundle,
      cgroupsPath: record.cgroupsPath,
      runtimeSpec,
    };
  }

  /** Start-up reconciliation; then exits are watched. */
  async recover(): Promise<void> {
    // Execs of an earlier run have lost their clients: end them before anything else looks at the containers.
    await this.deps.monitor
      .reapExecs(execsRoot(this.deps.stateDir), this.deps.socketDir, this.deps.log)
      .catch((err: unknown) => this.deps.log.warn({ err }, 'cleaning up execs of an earlier run'));
    await recoverContainers(this.records, this.exits, this.deps, this.deps.log);
  }

  close(): void {
    this.exits.stop();
  }
}
