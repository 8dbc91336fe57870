// Exit bookkeeping: conmon writes an exit file when a container's init exits;
// this turns it into the record's exited state (once), cleans the runtime
// state and cgroup, and wakes whoever waits for that exit.
import { ExitWatcher, oomKilled, readExitCode } from '../runtime/exit-watcher.js';
import { dateNs } from '../time.js';
import type { ContainerRecords } from './container-records.js';
import type { ContainerDeps } from './deps.js';

export class ExitTracker {
  private readonly watcher: ExitWatcher;
  private readonly waiters = new Map<string, (() => void)[]>();
  /** Exits being recorded (the OOM checks are async): one recording per exit. */
  private readonly recording = new Set<string>();

  constructor(
    private readonly records: ContainerRecords,
    private readonly deps: Pick<ContainerDeps, 'exitDir' | 'runtimes' | 'cgroups' | 'events' | 'log'>,
  ) {
    this.watcher = new ExitWatcher(deps.exitDir, { log: deps.log });
    this.watcher.on('exit', (id, code, at) => void this.record(id, code, at));
  }

  /** Starts watching; exits that happened while no daemon ran are reported now. */
  start(): Promise<void> {
    return this.watcher.start();
  }

  stop(): void {
    this.watcher.stop();
  }

  /** The exit code conmon left for the container, if it has exited. */
  exitCodeOnDisk(id: string): Promise<number | undefined> {
    return readExitCode(this.deps.exitDir, id);
  }

  /** Records the exit of a running container (once), then wakes its waiters. */
  async record(id: string, code: number, at: Date): Promise<void> {
    const current = this.records.get(id);
    if (!current || current.status.state !== 'running' || this.recording.has(id)) return;
    this.recording.add(id);
    let oom: boolean;
    try {
      // conmon's marker, or the memory cgroup's own counter (either may be missing alone).
      oom =
        (await oomKilled(current.bundle).catch(() => false)) || (await this.deps.cgroups.oomKills(current.cgroupsPath).catch(() => 0)) > 0;
      // Every field at once: a status read in between must not see an exit without its reason.
      const finished = dateNs(at);
      const started = BigInt(current.status.startedAt);
      await this.records.setStatus(id, {
        state: 'exited',
        exitCode: code,
        finishedAt: (finished > started ? finished : started).toString(),
        reason: oom ? 'OOMKilled' : code === 0 ? 'Completed' : 'Error',
      });
    } finally {
      this.recording.delete(id);
    }
    const log = this.deps.log.child({ container: id });
    await this.deps.runtimes
      .get(current.runtimeHandler)
      .delete(id, { force: true })
      .catch((err: unknown) => log.debug({ err }, 'runtime delete after exit'));
    await this.deps.cgroups.remove(current.cgroupsPath).catch((err: unknown) => log.debug({ err }, 'cgroup removal after exit'));
    this.deps.events.publish({ containerId: id, sandboxId: current.sandboxId, type: 'stopped' });
    for (const wake of this.waiters.get(id) ?? []) wake();
    this.waiters.delete(id);
  }

  /** Resolves true once the container is no longer running, false when `ms` passed first. */
  wait(id: string, ms: number): Promise<boolean> {
    const record = this.records.get(id);
    if (!record || record.status.state !== 'running') return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiters.set(
          id,
          (this.waiters.get(id) ?? []).filter((w) => w !== wake),
        );
        resolve(this.records.get(id)?.status.state !== 'running');
      }, ms);
      const wake = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      this.waiters.set(id, [...(this.waiters.get(id) ?? []), wake]);
    });
  }
}
