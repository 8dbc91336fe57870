import { SkiffError } from '../errors.js';
import type { ListPodSandboxResponse } from '../generated/runtime/v1/ListPodSandboxResponse.js';
import type { PodSandboxFilter__Output } from '../generated/runtime/v1/PodSandboxFilter.js';
import type { RuntimeServiceHandlers } from '../generated/runtime/v1/RuntimeService.js';
import type { Logger } from '../log.js';
import type { SandboxService } from '../sandbox/sandbox-service.js';
import type { SandboxRecord } from '../sandbox/types.js';
import { nowNs } from '../time.js';
import type { CriBackend } from './backend.js';
import { requireId, stateOf, toPodSandbox, toSandboxConfig, toSandboxStatus } from './convert/index.js';
import { ListEncoder } from './encoded.js';
import { listStream, unary } from './instrument.js';
import { loadCriProto } from './proto.js';

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
  { sandboxes, pods, streaming }: Pick<CriBackend, 'sandboxes' | 'pods' | 'streaming'>,
): Pick<
  RuntimeServiceHandlers,
  | 'RunPodSandbox'
  | 'StopPodSandbox'
  | 'RemovePodSandbox'
  | 'PodSandboxStatus'
  | 'ListPodSandbox'
  | 'UpdatePodSandboxResources'
  | 'StreamPodSandboxes'
  | 'PortForward'
> {
  const listSandboxes = sandboxLister(sandboxes);
  const listEncoder = new ListEncoder<SandboxRecord>(
    loadCriProto().runtime.v1.RuntimeService.service.ListPodSandbox.responseSerialize,
    'items',
    (r) => r.id,
    stateOf,
    toPodSandbox,
  );
  return {
    PortForward: unary(log, 'PortForward', (req) => {
      const record = sandboxes.resolve(requireId(req.podSandboxId, 'pod_sandbox_id'));
      if (record.status.state !== 'ready') throw new SkiffError('FailedPrecondition', `pod sandbox ${record.id} is not ready`);
      const bad = req.port.find((p) => !Number.isInteger(p) || p < 1 || p > 65535);
      if (bad !== undefined) throw new SkiffError('InvalidArgument', `port: ${bad} is not a port (1-65535)`);
      return { url: streaming.portForward({ podId: record.id, ports: req.port }) };
    }),

    UpdatePodSandboxResources: unary(log, 'UpdatePodSandboxResources', async (req) => {
      await sandboxes.updateResources(requireId(req.podSandboxId, 'pod_sandbox_id'), { overhead: req.overhead, resources: req.resources });
      return {};
    }),

    RunPodSandbox: unary(log, 'RunPodSandbox', async (req, ctx) => ({
      podSandboxId: await pods.runPod(toSandboxConfig(req.config, req.runtimeHandler), ctx.signal, ctx.log),
    })),

    StopPodSandbox: unary(log, 'StopPodSandbox', async (req, ctx) => {
      await pods.stopPod(requireId(req.podSandboxId, 'pod_sandbox_id'), ctx.log);
      return {};
    }),

    RemovePodSandbox: unary(log, 'RemovePodSandbox', async (req, ctx) => {
      await pods.removePod(requireId(req.podSandboxId, 'pod_sandbox_id'), ctx.log);
      return {};
    }),

    PodSandboxStatus: unary(log, 'PodSandboxStatus', (req) => {
      const r = sandboxes.resolve(requireId(req.podSandboxId, 'pod_sandbox_id'));
      const info: Record<string, string> = {};
      if (req.verbose) {
        info['info'] = JSON.stringify({
          pid: r.status.infra?.pid ?? 0,
          netnsPath: r.pins.net ?? '',
          pins: r.pins,
          cgroupParent: r.cgroupParent,
          resolvConfPath: r.resolvConfPath,
          hostnamePath: r.hostnamePath,
          shmPath: r.shmPath,
          infraContainer: r.status.infra ?? null,
          podResources: r.status.podResources ?? null,
          config: r.config,
        });
      }
      return { status: toSandboxStatus(r), info, containersStatuses: [], timestamp: nowNs() };
    }),

    ListPodSandbox: unary(log, 'ListPodSandbox', (req) => listEncoder.encode(listSandboxes(req)) as ListPodSandboxResponse),
    StreamPodSandboxes: listStream(log, 'StreamPodSandboxes', 'podSandboxes', (req) => listSandboxes(req).map(toPodSandbox)),
  };
}
