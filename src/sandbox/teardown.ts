import { promises as fs } from 'node:fs';

import type { HostMounts } from '../host/mount.js';
import type { Logger } from '../log.js';
import type { RecordStore } from '../store/record-store.js';
import { removeEmptyCgroups } from './cgroup-ownership.js';
import type { InfraRunner } from './infra.js';
import { podInfo } from './pod-files.js';
import { withSandboxStatus } from './record.js';
import type { NamespaceOps, PodNetworkOps } from './sandbox-service.js';
import type { SandboxRecord } from './types.js';

/** Taking a pod down, in two halves: what runs (stop) and what stays on disk (remove). */
export class PodTeardown {
  constructor(
    private readonly o: {
      namespaces: NamespaceOps;
      cni: PodNetworkOps;
      infra: InfraRunner;
      mounts: HostMounts;
      records: RecordStore<SandboxRecord>;
      needsInfra: (record: SandboxRecord) => boolean;
    },
  ) {}

  /**
   * Infra process, network and namespaces down; files stay. Safe to repeat.
   * Every step is tried even when an earlier one fails; the first error is thrown at the end.
   */
  async networkAndNamespaces(record: SandboxRecord, log: Logger): Promise<void> {
    const errors: unknown[] = [];
    const step = async (what: string, fn: () => Promise<void>): Promise<void> => {
      try {
        await fn();
      } catch (err) {
        log.warn({ err }, `${what} failed`);
        errors.push(err);
      }
    };
    if (record.status.infra) await step('stopping the infra container', () => this.o.infra.stop(record));
    if (record.status.cniAttempted) {
      // DEL always runs, with the cached ADD result, even after a failed ADD.
      await step('CNI DEL', async () => {
        await this.o.cni.del(undefined, podInfo(record));
        if (this.o.records.get(record.id)) await this.o.records.update(record.id, (r) => withSandboxStatus(r, { cniAttempted: false }));
      });
    }
    await step('releasing namespaces', () => this.o.namespaces.release(record.pins));
    if (errors.length) throw errors[0];
    log.debug('pod network and namespaces released');
  }

  /** The infra bundle, owned cgroup levels, the shm mount and the pod's directory. */
  async files(record: SandboxRecord): Promise<void> {
    // Also after a start that failed before the record learnt of the infra container.
    if (record.status.infra || this.o.needsInfra(record)) await this.o.infra.remove(record);
    await removeEmptyCgroups([...record.ownedCgroups]);
    const ownShm = record.shmPath !== '/dev/shm';
    if (ownShm) await this.o.mounts.unmount(record.shmPath);
    // Never delete through a tmpfs still mounted (its files are in memory, not ours to walk).
    if (!ownShm || !this.o.mounts.isMountPoint(record.shmPath)) await fs.rm(record.dir, { recursive: true, force: true });
  }
}
