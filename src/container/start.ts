// StartContainer: conmon runs `runtime create`, then the container is released
// from its exec fifo (or `runtime start`). A start that fails leaves the
// container exited with reason StartError, as containerd does.
import { promises as fs } from 'node:fs';
import path from 'node:path';

import { failedPrecondition, SkiffError } from '../errors.js';
import type { Logger } from '../log.js';
import { nowNs } from '../time.js';
import type { ContainerRecords } from './container-records.js';
import type { ContainerDeps } from './deps.js';
import type { ExitTracker } from './exits.js';
import type { ContainerRecord } from './record.js';

/** Starts a `created` container; the caller holds the container's lock. */
export async function startContainer(
  records: ContainerRecords,
  exits: ExitTracker,
  deps: ContainerDeps,
  record: ContainerRecord,
  callLog: Logger,
): Promise<void> {
  if (record.status.state !== 'created') throw failedPrecondition(`container ${record.id} is ${record.status.state}, not created`);
  const log = callLog.child({ container: record.id });
  const runtime = deps.runtimes.get(record.runtimeHandler);
  let launched: { pid: number; conmonPid: number } | undefined;
  try {
    if (record.logPath) await fs.mkdir(path.dirname(record.logPath), { recursive: true });
    launched = await deps.monitor.launch({
      id: record.id,
      name: record.name,
      bundle: record.bundle,
      runtimePath: record.runtimePath,
      runtimeRoot: runtime.root,
      logPath: record.logPath || path.join(record.bundle, 'container.log'),
      exitDir: deps.exitDir,
      socketDir: deps.socketDir,
      stdin: record.config.stdin,
      stdinOnce: record.config.stdinOnce,
      tty: record.config.tty,
      log,
    });
    const startedAt = nowNs(); // before the start: a quick process may exit before it returns
    await runtime.start(record.id, launched.pid);
    await records.setStatus(record.id, { state: 'running', startedAt, pid: launched.pid, conmonPid: launched.conmonPid });
  } catch (err) {
    await runtime.delete(record.id, { force: true }).catch((e: unknown) => log.debug({ err: e }, 'runtime delete after a failed start'));
    const finishedAt = nowNs();
    await records.setStatus(record.id, {
      state: 'exited',
      exitCode: 128,
      reason: 'StartError',
      message: (err as Error).message,
      finishedAt,
      startedAt: finishedAt,
      ...(launched ? { pid: launched.pid, conmonPid: launched.conmonPid } : {}),
    });
    deps.events.publish({ containerId: record.id, sandboxId: record.sandboxId, type: 'stopped' });
    throw err instanceof SkiffError
      ? err
      : new SkiffError('Internal', `starting container ${record.id}: ${(err as Error).message}`, { cause: err });
  }
  deps.events.publish({ containerId: record.id, sandboxId: record.sandboxId, type: 'started' });
  log.info({ pid: launched.pid }, 'container started');
  // An exit that raced the record write is caught here.
  const code = await exits.exitCodeOnDisk(record.id);
  if (code !== undefined) await exits.record(record.id, code, new Date());
}
