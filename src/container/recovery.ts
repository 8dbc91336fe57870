// Start-up reconciliation of container records with the monitor, the runtime
// and the exit files: half-created containers are undone, created ones get
// their rootfs back if the mount is gone, running ones that exited meanwhile
// get their exit code (or Unknown when nothing is left to ask).
import type { Logger } from '../log.js';
import { nowNs } from '../time.js';
import type { ContainerRecords } from './container-records.js';
import type { ContainerDeps } from './deps.js';
import type { ExitTracker } from './exits.js';
import { bundleRefOf } from './record.js';

export async function recoverContainers(
  records: ContainerRecords,
  exits: ExitTracker,
  deps: ContainerDeps,
  baseLog: Logger,
): Promise<void> {
  for (const record of records.all()) {
    const log = baseLog.child({ container: record.id });
    const ref = bundleRefOf(record);
    const state = record.status.state;
    if (state === 'creating') {
      log.warn('rolling back a container left half-created');
      await deps.bundles.remove(ref).catch((err: unknown) => log.error({ err }, 'rollback failed'));
      await records.delete(record.id);
      continue;
    }
    if (state === 'created' && !deps.bundles.isMounted(ref)) {
      await deps.bundles.remountRootfs(ref).catch((err: unknown) => log.error({ err }, 'remounting rootfs failed'));
    }
    if (state === 'running') {
      const code = await exits.exitCodeOnDisk(record.id);
      if (code !== undefined) {
        await exits.record(record.id, code, new Date());
        continue;
      }
      const st = await deps.runtimes
        .get(record.runtimeHandler)
        .state(record.id)
        .catch((err: unknown) => {
          log.warn({ err }, 'runtime state unreadable');
          return undefined;
        });
      if (!st || st.status === 'stopped') {
        // Neither an exit file nor a live process: the monitor died with it.
        await records.setStatus(record.id, {
          state: 'exited',
          exitCode: 255,
          reason: 'Unknown',
          message: 'the container was gone when skiff restarted',
          finishedAt: nowNs(),
        });
      }
    }
  }
  await exits.start();
}
