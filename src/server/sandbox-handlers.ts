import type { RuntimeServiceHandlers } from '../generated/runtime/v1/RuntimeService.js';
import type { PodSandboxConfig__Output } from '../generated/runtime/v1/PodSandboxConfig.js';
import type { PodSandboxStatus } from '../generated/runtime/v1/PodSandboxStatus.js';
import type { PodSandbox } from '../generated/runtime/v1/PodSandbox.js';
import { invalidArgument } from '../errors.js';
import type { Logger } from '../log.js';
import type { SandboxService } from '../sandbox/sandbox-service.js';
import type { NamespaceMode, SandboxConfig, SandboxRecord } from '../sandbox/types.js';
import { ListEncoder } from './encoded.js';
import { listStream, unary } from './instrument.js';
import { loadCriProto } from './proto.js';
import type { ListPodSandboxResponse } from '../generated/runtime/v1/ListPodSandboxResponse.js';
import type { PodSandboxFilter__Output } from '../generated/runtime/v1/PodSandboxFilter.js';

const PROTOCOLS = { TCP: 'tcp', UDP: 'udp', SCTP: 'sctp' } as const;

function requireId(id: string | undefined, field: string): string {
  if (!id) throw invalidArgument(`${field} is required`);
  return id;
}

/** CRI PodSandboxConfig → the domain's SandboxConfig. */
export function toSandboxConfig(c: PodSandboxConfig__Output | null, runtimeHandler: string): SandboxConfig {
  if (!c) throw invalidArgument('config is required');
  const m = c.metadata;
  const sc = c.linux?.securityContext;
  const ns = sc?.namespaceOptions;
  const dns = c.dnsConfig;
  return {
    metadata: { name: m?.name ?? '', uid: m?.uid ?? '', namespace: m?.namespace ?? '', attempt: m?.attempt ?? 0 },
    hostname: c.hostname,
    logDirectory: c.logDirectory,
    dns: dns ? { servers: dns.servers, searches: dns.searches, options: dns.options } : undefined,
    portMappings: c.portMappings.map((p) => ({ protocol: PROTOCOLS[p.protocol as keyof typeof PROTOCOLS] ?? 'tcp', containerPort: p.containerPort, hostPort: p.hostPort, hostIp: p.hostIp })),
    labels: c.labels,
    annotations: c.annotations,
    cgroupParent: c.linux?.cgroupParent ?? '',
    sysctls: c.linux?.sysctls ?? {},
    namespaces: {
      network: (ns?.network ?? 'POD') as NamespaceMode,
      pid: (ns?.pid ?? 'POD') as NamespaceMode,
      ipc: (ns?.ipc ?? 'POD') as NamespaceMode,
      targetId: ns?.targetId ?? '',
    },
    privileged: sc?.privileged ?? false,
    runtimeHandler,
  };
}

const stateOf = (r: SandboxRecord): 'SANDBOX_READY' | 'SANDBOX_NOTREADY' => (r.state === 'ready' ? 'SANDBOX_READY' : 'SANDBOX_NOTREADY');

function toPodSandbox(r: SandboxRecord): PodSandbox {
  return { id: r.id, metadata: r.config.metadata, state: stateOf(r), createdAt: r.createdAt, labels: r.config.labels, annotations: r.config.annotations, runtimeHandler: r.runtimeHandler };
}

export function toSandboxStatus(r: SandboxRecord): PodSandboxStatus {
  const [ip, ...more] = r.state === 'ready' ? r.ips : [];
  const ns = r.config.namespaces;
  return {
    id: r.id,
    metadata: r.config.metadata,
    state: stateOf(r),
    createdAt: r.createdAt,
    network: { ip: ip ?? '', additionalIps: more.map((a) => ({ ip: a })) },
    linux: { namespaces: { options: { network: ns.network, pid: ns.pid, ipc: ns.ipc, targetId: ns.targetId } } },
    labels: r.config.labels,
    annotations: r.config.annotations,
    runtimeHandler: r.runtimeHandler,
  };
}

function sandboxLister(sandboxes: SandboxService) {
  return (req: { filter: PodSandboxFilter__Output | null }): SandboxRecord[] => {
    const f = req.filter;
    const state = f?.state ? (f.state.state === 'SANDBOX_READY' ? 'ready' : 'notready') : undefined;
    const items = sandboxes.list({
      ...(f?.id ? { id: f.id } : {}),
      ...(state ? { state } : {}),
      ...(f && Object.keys(f.labelSelector).length ? { labels: f.labelSelector } : {}),
    });
    return items;
  };
}

export function sandboxHandlers(
  log: Logger,
  sandboxes: SandboxService,
): Pick<RuntimeServiceHandlers, 'RunPodSandbox' | 'StopPodSandbox' | 'RemovePodSandbox' | 'PodSandboxStatus' | 'ListPodSandbox' | 'UpdatePodSandboxResources' | 'StreamPodSandboxes'> {
  const listSandboxes = sandboxLister(sandboxes);
  const listEncoder = new ListEncoder<SandboxRecord>(
    loadCriProto().runtime.v1.RuntimeService.service.ListPodSandbox.responseSerialize,
    'items',
    (r) => r.id,
    stateOf,
    toPodSandbox,
  );
  return {
    UpdatePodSandboxResources: unary(log, 'UpdatePodSandboxResources', async (req) => {
      await sandboxes.updateResources(requireId(req.podSandboxId, 'pod_sandbox_id'), { overhead: req.overhead, resources: req.resources });
      return {};
    }),

    RunPodSandbox: unary(log, 'RunPodSandbox', async (req, ctx) => ({
      podSandboxId: await sandboxes.run(toSandboxConfig(req.config, req.runtimeHandler), ctx.signal),
    })),

    StopPodSandbox: unary(log, 'StopPodSandbox', async (req) => {
      await sandboxes.stop(requireId(req.podSandboxId, 'pod_sandbox_id'));
      return {};
    }),

    RemovePodSandbox: unary(log, 'RemovePodSandbox', async (req) => {
      await sandboxes.remove(requireId(req.podSandboxId, 'pod_sandbox_id'));
      return {};
    }),

    PodSandboxStatus: unary(log, 'PodSandboxStatus', (req) => {
      const r = sandboxes.resolve(requireId(req.podSandboxId, 'pod_sandbox_id'));
      const info: Record<string, string> = {};
      if (req.verbose) {
        info['info'] = JSON.stringify({
          pid: r.infra?.pid ?? 0,
          netnsPath: r.pins.net ?? '',
          pins: r.pins,
          cgroupParent: r.cgroupParent,
          resolvConfPath: r.resolvConfPath,
          hostnamePath: r.hostnamePath,
          shmPath: r.shmPath,
          infraContainer: r.infra ?? null,
          podResources: r.podResources ?? null,
          config: r.config,
        });
      }
      return { status: toSandboxStatus(r), info, containersStatuses: [], timestamp: (BigInt(Date.now()) * 1_000_000n).toString() };
    }),

    ListPodSandbox: unary(log, 'ListPodSandbox', (req) => listEncoder.encode(listSandboxes(req)) as ListPodSandboxResponse),
    StreamPodSandboxes: listStream(log, 'StreamPodSandboxes', 'podSandboxes', (req) => listSandboxes(req).map(toPodSandbox)),
  };
}
