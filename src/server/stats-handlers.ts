import type { ContainerService } from '../container/container-service.js';
import type { ContainerStats, ContainerUsage, SandboxUsage } from '../container/container-stats.js';
import { invalidArgument } from '../errors.js';
import type { ContainerStats as ProtoContainerStats } from '../generated/runtime/v1/ContainerStats.js';
import type { ContainerStatsFilter__Output } from '../generated/runtime/v1/ContainerStatsFilter.js';
import type { PodSandboxStats } from '../generated/runtime/v1/PodSandboxStats.js';
import type { PodSandboxStatsFilter__Output } from '../generated/runtime/v1/PodSandboxStatsFilter.js';
import type { RuntimeServiceHandlers } from '../generated/runtime/v1/RuntimeService.js';
import type { Logger } from '../log.js';
import type { SandboxService } from '../sandbox/sandbox-service.js';
import { nowNsBig } from '../time.js';
import { listStream, unary } from './instrument.js';

const u64 = (v: number | bigint): { value: string } => ({ value: String(v) });

function toContainerStats(c: ContainerUsage, mountpoint: string): ProtoContainerStats {
  const r = c.record;
  const ts = String(c.cgroup?.timestampNs ?? nowNsBig());
  return {
    attributes: { id: r.id, metadata: r.config.metadata, labels: r.config.labels, annotations: r.config.annotations },
    cpu: c.cgroup
      ? {
          timestamp: ts,
          usageCoreNanoSeconds: u64(c.cgroup.cpu.usageCoreNanoSeconds),
          ...(c.nanoCores !== undefined ? { usageNanoCores: u64(Math.round(c.nanoCores)) } : {}),
        }
      : { timestamp: ts },
    memory: c.cgroup
      ? {
          timestamp: ts,
          workingSetBytes: u64(c.cgroup.memory.workingSetBytes),
          usageBytes: u64(c.cgroup.memory.usageBytes),
          rssBytes: u64(c.cgroup.memory.rssBytes),
          pageFaults: u64(c.cgroup.memory.pageFaults),
          majorPageFaults: u64(c.cgroup.memory.majorPageFaults),
          ...(c.cgroup.memory.availableBytes !== undefined ? { availableBytes: u64(c.cgroup.memory.availableBytes) } : {}),
        }
      : { timestamp: ts },
    ...(c.writable
      ? {
          writableLayer: {
            timestamp: String(c.writable.timestampNs),
            fsId: { mountpoint },
            usedBytes: u64(c.writable.bytes),
            inodesUsed: u64(c.writable.inodes),
          },
        }
      : {}),
  };
}

function toPodStats(s: SandboxUsage, sandboxes: SandboxService, mountpoint: string): PodSandboxStats {
  const r = sandboxes.get(s.sandboxId);
  const ts = String(s.timestampNs);
  return {
    attributes: {
      id: s.sandboxId,
      metadata: r?.config.metadata ?? null,
      labels: r?.config.labels ?? {},
      annotations: r?.config.annotations ?? {},
    },
    linux: {
      cpu: {
        timestamp: ts,
        usageCoreNanoSeconds: u64(s.cpuNs),
        ...(s.nanoCores !== undefined ? { usageNanoCores: u64(Math.round(s.nanoCores)) } : {}),
      },
      memory: {
        timestamp: ts,
        workingSetBytes: u64(s.memory.workingSetBytes),
        usageBytes: u64(s.memory.usageBytes),
        rssBytes: u64(s.memory.rssBytes),
        pageFaults: u64(s.memory.pageFaults),
        majorPageFaults: u64(s.memory.majorPageFaults),
      },
      process: { timestamp: ts, processCount: u64(s.processes) },
      ...(s.network
        ? (() => {
            const eth0 = {
              name: 'eth0',
              rxBytes: u64(s.network.rxBytes),
              rxErrors: u64(s.network.rxErrors),
              txBytes: u64(s.network.txBytes),
              txErrors: u64(s.network.txErrors),
            };
            return { network: { timestamp: ts, defaultInterface: eth0, interfaces: [eth0] } };
          })()
        : {}),
      containers: s.containers.map((c) => toContainerStats(c, mountpoint)),
    },
  };
}

export function statsHandlers(
  log: Logger,
  stats: ContainerStats,
  containers: ContainerService,
  sandboxes: SandboxService,
  mountpoint: () => string,
): Pick<
  RuntimeServiceHandlers,
  | 'ContainerStats'
  | 'ListContainerStats'
  | 'PodSandboxStats'
  | 'ListPodSandboxStats'
  | 'StreamContainerStats'
  | 'StreamPodSandboxStats'
  | 'ListMetricDescriptors'
  | 'ListPodSandboxMetrics'
  | 'StreamPodSandboxMetrics'
> {
  const listContainerStats = async (req: { filter: ContainerStatsFilter__Output | null }): Promise<ProtoContainerStats[]> => {
    const f = req.filter;
    const usage = await stats.containersOf({
      ...(f?.id ? { id: f.id } : {}),
      ...(f?.podSandboxId ? { sandboxId: f.podSandboxId } : {}),
      ...(f && Object.keys(f.labelSelector).length ? { labels: f.labelSelector } : {}),
    });
    return usage.map((c) => toContainerStats(c, mountpoint()));
  };
  const listPodStats = async (req: { filter: PodSandboxStatsFilter__Output | null }): Promise<PodSandboxStats[]> => {
    const f = req.filter;
    const ids = stats.sandboxIds({
      ...(f?.id ? { id: f.id } : {}),
      ...(f && Object.keys(f.labelSelector).length ? { labels: f.labelSelector } : {}),
    });
    const all = await Promise.all(ids.map((id) => stats.sandbox(id)));
    return all.map((s) => toPodStats(s, sandboxes, mountpoint()));
  };
  return {
    ListMetricDescriptors: unary(log, 'ListMetricDescriptors', () => ({ descriptors: [] })),
    // No metric descriptors are exported yet: kubelet then uses the stats RPCs alone.
    ListPodSandboxMetrics: unary(log, 'ListPodSandboxMetrics', () => ({ podMetrics: [] })),
    StreamPodSandboxMetrics: listStream(log, 'StreamPodSandboxMetrics', 'podSandboxMetrics', () => []),
    ContainerStats: unary(log, 'ContainerStats', async (req) => {
      if (!req.containerId) throw invalidArgument('container_id is required');
      return { stats: toContainerStats(await stats.container(containers.resolve(req.containerId)), mountpoint()) };
    }),
    ListContainerStats: unary(log, 'ListContainerStats', async (req) => ({ stats: await listContainerStats(req) })),
    StreamContainerStats: listStream(log, 'StreamContainerStats', 'containerStats', listContainerStats),
    PodSandboxStats: unary(log, 'PodSandboxStats', async (req) => {
      if (!req.podSandboxId) throw invalidArgument('pod_sandbox_id is required');
      const r = sandboxes.resolve(req.podSandboxId);
      return { stats: toPodStats(await stats.sandbox(r.id), sandboxes, mountpoint()) };
    }),
    ListPodSandboxStats: unary(log, 'ListPodSandboxStats', async (req) => ({ stats: await listPodStats(req) })),
    StreamPodSandboxStats: listStream(log, 'StreamPodSandboxStats', 'podSandboxStats', listPodStats),
  };
}
