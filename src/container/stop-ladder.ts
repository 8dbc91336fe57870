// "Stop always stops": the stop signal, the grace period, SIGKILL through the
// runtime, then every process of the cgroup by hand, and finally the exit
// recorded by us if the monitor is gone or wedged.
import type { Logger } from '../log.js';
import type { ContainerRecords } from './container-records.js';
import type { ContainerDeps } from './deps.js';
import type { ExitTracker } from './exits.js';

/** Grace after SIGKILL before every process of the cgroup is killed by hand. */
export const KILL_GRACE_MS = 2000;
/** Grace after the cgroup kill before the exit is recorded without the monitor. */
export const CGROUP_KILL_GRACE_MS = 10_000;

export interface StopTimings {
  killGraceMs: number;
  cgroupKillGraceMs: number;
}

const DEFAULT_STOP_TIMINGS: StopTimings = { killGraceMs: KILL_GRACE_MS, cgroupKillGraceMs: CGROUP_KILL_GRACE_MS };

/** Returns once the container is no longer running. Not running (or unknown) is success. */
export async function stopContainer(
  records: ContainerRecords,
  exits: ExitTracker,
  deps: Pick<ContainerDeps, 'runtimes' | 'cgroups'>,
  id: string,
  timeoutSec: number,
  log: Logger,
  timings: StopTimings = DEFAULT_STOP_TIMINGS,
): Promise<void> {
  const found = records.find(id);
  if (!found || found.status.state !== 'running') return;
  const runtime = deps.runtimes.get(found.runtimeHandler);
  const clog = log.child({ container: found.id });
  if (timeoutSec > 0) {
    await runtime.kill(found.id, found.stopSignal).catch((err: unknown) => clog.debug({ err }, 'stop signal'));
    if (await exits.wait(found.id, timeoutSec * 1000)) return;
  }
  await runtime.kill(found.id, 'SIGKILL', { all: true }).catch((err: unknown) => clog.debug({ err }, 'SIGKILL'));
  if (await exits.wait(found.id, timings.killGraceMs)) return;
  clog.warn('container survived SIGKILL through the runtime; killing its cgroup');
  await deps.cgroups.killAll(found.cgroupsPath).catch((err: unknown) => clog.warn({ err }, 'cgroup kill'));
  if (await exits.wait(found.id, timings.cgroupKillGraceMs)) return;
  // The monitor is gone or wedged: record the exit ourselves so stop always stops.
  const code = await exits.exitCodeOnDisk(found.id);
  await exits.record(found.id, code ?? 137, new Date());
}
