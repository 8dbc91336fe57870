import type { Logger } from '../log.js';
import { type InterfaceCounters, podSideCounters } from '../network/host-veth.js';
import type { SandboxService } from '../sandbox/sandbox-service.js';
import type { OverlaySnapshotter } from '../snapshot/overlay-snapshotter.js';
import { type CgroupStats, readCgroupStats } from '../stats/cgroup-stats.js';
import { CpuRateTracker } from '../stats/cpu-rate.js';
import { UsageCache } from '../stats/dir-usage.js';
import { nowNsBig } from '../time.js';
import type { ContainerService } from './container-service.js';
import type { ContainerRecord } from './record.js';

export interface ContainerUsage {
  record: ContainerRecord;
  cgroup: CgroupStats | undefined;
  nanoCores: number | undefined;
  writable: { bytes: number; inodes: number; timestampNs: bigint } | undefined;
}

export interface SandboxUsage {
  sandboxId: string;
  timestampNs: bigint;
  cpuNs: bigint;
  nanoCores: number | undefined;
  memory: { usageBytes: number; workingSetBytes: number; rssBytes: number; pageFaults: number; majorPageFaults: number };
  processes: number;
  network: InterfaceCounters | undefined;
  containers: ContainerUsage[];
}

/**
 * Resource usage of containers and pods from their cgroups and writable
 * layers. Cgroup reads are cheap and done per call; layer walks are cached.
 */
export class ContainerStats {
  private readonly rates = new CpuRateTracker();
  private readonly layers = new UsageCache({ ttlMs: 10_000 });

  constructor(
    private readonly containers: ContainerService,
    private readonly sandboxes: SandboxService,
    private readonly snapshots: OverlaySnapshotter,
    private readonly log: Logger,
  ) {}

  async container(record: ContainerRecord): Promise<ContainerUsage> {
    const cgroup = record.status.state === 'running' ? await readCgroupStats(record.cgroupsPath).catch(() => undefined) : undefined;
    const nanoCores = cgroup ? this.rates.sample(record.id, cgroup.cpu.usageCoreNanoSeconds, cgroup.timestampNs) : undefined;
    const active = this.snapshots.getActive(record.id);
    let writable: ContainerUsage['writable'];
    if (active) {
      const usage = await this.layers.get(this.snapshots.upperDir(active)).catch((err: unknown) => {
        this.log.debug({ err }, 'writable layer usage');
        return undefined;
      });
      if (usage) writable = { ...usage, timestampNs: nowNsBig() };
    }
    return { record, cgroup, nanoCores, writable };
  }

  async containersOf(filter: Parameters<ContainerService['list']>[0]): Promise<ContainerUsage[]> {
    const records = this.containers.list(filter).filter((r) => r.status.state === 'running');
    return Promise.all(records.map((r) => this.container(r)));
  }

  /** A pod's usage: the sum of its running containers (pinned pods have no pod-level process). */
  async sandbox(sandboxId: string): Promise<SandboxUsage> {
    const containers = (await this.containersOf({ sandboxId })).filter((c) => c.record.sandboxId === sandboxId);
    const sum = (f: (s: CgroupStats) => number): number => containers.reduce((n, c) => n + (c.cgroup ? f(c.cgroup) : 0), 0);
    const cpuNs = containers.reduce((n, c) => n + (c.cgroup?.cpu.usageCoreNanoSeconds ?? 0n), 0n);
    const timestampNs = nowNsBig();
    const veth = this.sandboxes.get(sandboxId)?.status.hostVeth;
    return {
      sandboxId,
      timestampNs,
      cpuNs,
      nanoCores: this.rates.sample(`pod:${sandboxId}`, cpuNs, timestampNs),
      memory: {
        usageBytes: sum((s) => s.memory.usageBytes),
        workingSetBytes: sum((s) => s.memory.workingSetBytes),
        rssBytes: sum((s) => s.memory.rssBytes),
        pageFaults: sum((s) => s.memory.pageFaults),
        majorPageFaults: sum((s) => s.memory.majorPageFaults),
      },
      processes: sum((s) => s.pids?.current ?? 0),
      network: veth ? await podSideCounters(veth) : undefined,
      containers,
    };
  }

  forget(id: string): void {
    this.rates.forget(id);
  }

  sandboxIds(filter: { id?: string; labels?: Record<string, string> }): string[] {
    return this.sandboxes.list({ ...filter, state: 'ready' }).map((s) => s.id);
  }
}
