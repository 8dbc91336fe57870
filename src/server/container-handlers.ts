import type { RuntimeServiceHandlers } from '../generated/runtime/v1/RuntimeService.js';
import type { ContainerStatus } from '../generated/runtime/v1/ContainerStatus.js';
import type { Container } from '../generated/runtime/v1/Container.js';
import type { ImageSpec } from '../generated/runtime/v1/ImageSpec.js';
import type { ContainerEventResponse } from '../generated/runtime/v1/ContainerEventResponse.js';
import type { ContainerService } from '../container/container-service.js';
import type { ContainerRecord, ContainerState } from '../container/record.js';
import type { MountPropagation } from '../container/types.js';
import { invalidArgument, SkiffError } from '../errors.js';
import type { ContainerEventBus } from '../events/container-events.js';
import type { Logger } from '../log.js';
import type { SandboxService } from '../sandbox/sandbox-service.js';
import { toContainerConfig, toContainerResources, toProtoResources } from './container-config.js';
import { ListEncoder } from './encoded.js';
import { listStream, serverStream, unary } from './instrument.js';
import { loadCriProto } from './proto.js';
import type { ListContainersResponse } from '../generated/runtime/v1/ListContainersResponse.js';
import type { ContainerFilter__Output } from '../generated/runtime/v1/ContainerFilter.js';
import { toSandboxStatus } from './sandbox-handlers.js';

const STATES: Record<ContainerState, 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN'> = {
  creating: 'CONTAINER_UNKNOWN',
  created: 'CONTAINER_CREATED',
  running: 'CONTAINER_RUNNING',
  exited: 'CONTAINER_EXITED',
  unknown: 'CONTAINER_UNKNOWN',
};
const FROM_PROTO_STATE: Record<string, ContainerState> = {
  CONTAINER_CREATED: 'created',
  CONTAINER_RUNNING: 'running',
  CONTAINER_EXITED: 'exited',
  CONTAINER_UNKNOWN: 'unknown',
};
const PROPAGATION: Record<MountPropagation, 'PROPAGATION_PRIVATE' | 'PROPAGATION_HOST_TO_CONTAINER' | 'PROPAGATION_BIDIRECTIONAL'> = {
  private: 'PROPAGATION_PRIVATE',
  hostToContainer: 'PROPAGATION_HOST_TO_CONTAINER',
  bidirectional: 'PROPAGATION_BIDIRECTIONAL',
};

function requireId(id: string | undefined, field: string): string {
  if (!id) throw invalidArgument(`${field} is required`);
  return id;
}

/** The container's ImageSpec as kubelet sent it, optionally renamed. */
function imageSpec(r: ContainerRecord, image = r.config.image): ImageSpec {
  const c = r.config;
  // Records written before these fields existed lack them.
  return { image, annotations: c.imageAnnotations ?? {}, userSpecifiedImage: c.userSpecifiedImage ?? '', runtimeHandler: c.imageRuntimeHandler ?? '' };
}

/**
 * A list item. image_ref is the image id here, as the CRI asks of a list and
 * as kubelet's image garbage collector compares it with ListImages ids (when
 * image_id is empty, i.e. older runtimes); image_id says the same for newer
 * kubelets. ContainerStatus gives the repo digest as image_ref instead.
 */
function toContainer(r: ContainerRecord): Container {
  return {
    id: r.id,
    podSandboxId: r.sandboxId,
    metadata: r.config.metadata,
    image: imageSpec(r),
    imageRef: r.imageId,
    imageId: r.imageId,
    state: STATES[r.state],
    createdAt: r.createdAt,
    labels: r.config.labels,
    annotations: r.config.annotations,
  };
}

export function toContainerStatus(r: ContainerRecord): ContainerStatus {
  return {
    id: r.id,
    metadata: r.config.metadata,
    state: STATES[r.state],
    createdAt: r.createdAt,
    startedAt: r.startedAt,
    finishedAt: r.finishedAt,
    exitCode: r.exitCode,
    image: imageSpec(r, r.image),
    imageRef: r.imageRef,
    imageId: r.imageId,
    reason: r.reason,
    message: r.message,
    labels: r.config.labels,
    annotations: r.config.annotations,
    mounts: r.config.mounts.map((m) => ({
      containerPath: m.containerPath,
      hostPath: m.hostPath,
      readonly: m.readonly,
      selinuxRelabel: m.selinuxRelabel,
      propagation: PROPAGATION[m.propagation],
      recursiveReadOnly: m.recursiveReadOnly,
    })),
    logPath: r.logPath,
    resources: { linux: toProtoResources(r.config.linux.resources) },
    user: { linux: { uid: String(r.user.uid), gid: String(r.user.gid), supplementalGroups: r.user.additionalGids.map(String) } },
  };
}

const EVENT_TYPES = {
  created: 'CONTAINER_CREATED_EVENT',
  started: 'CONTAINER_STARTED_EVENT',
  stopped: 'CONTAINER_STOPPED_EVENT',
  deleted: 'CONTAINER_DELETED_EVENT',
} as const;

export function containerHandlers(
  log: Logger,
  containers: ContainerService,
  sandboxes: SandboxService,
  events: ContainerEventBus,
): Pick<
  RuntimeServiceHandlers,
  | 'CreateContainer'
  | 'StartContainer'
  | 'StopContainer'
  | 'RemoveContainer'
  | 'ListContainers'
  | 'ContainerStatus'
  | 'ExecSync'
  | 'ReopenContainerLog'
  | 'UpdateContainerResources'
  | 'GetContainerEvents'
  | 'StreamContainers'
> {
  const listContainers = (req: { filter: ContainerFilter__Output | null }): ContainerRecord[] => {
    const f = req.filter;
    const state = f?.state ? FROM_PROTO_STATE[f.state.state] : undefined;
    return containers
      .list({
        ...(f?.id ? { id: f.id } : {}),
        ...(state ? { state } : {}),
        ...(f?.podSandboxId ? { sandboxId: f.podSandboxId } : {}),
        ...(f && Object.keys(f.labelSelector).length ? { labels: f.labelSelector } : {}),
      });
  };
  const listEncoder = new ListEncoder<ContainerRecord>(
    loadCriProto().runtime.v1.RuntimeService.service.ListContainers.responseSerialize,
    'containers',
    (r) => r.id,
    (r) => r.state,
    toContainer,
  );
  return {
    CreateContainer: unary(log, 'CreateContainer', async (req, ctx) => ({
      containerId: await containers.create(requireId(req.podSandboxId, 'pod_sandbox_id'), toContainerConfig(req.config), ctx.signal),
    })),

    StartContainer: unary(log, 'StartContainer', async (req) => {
      await containers.start(requireId(req.containerId, 'container_id'));
      return {};
    }),

    StopContainer: unary(log, 'StopContainer', async (req) => {
      await containers.stop(requireId(req.containerId, 'container_id'), Number(req.timeout));
      return {};
    }),

    RemoveContainer: unary(log, 'RemoveContainer', async (req) => {
      await containers.remove(requireId(req.containerId, 'container_id'));
      return {};
    }),

    ListContainers: unary(log, 'ListContainers', (req) => listEncoder.encode(listContainers(req)) as ListContainersResponse),
    StreamContainers: listStream(log, 'StreamContainers', 'containers', (req) => listContainers(req).map(toContainer)),

    ContainerStatus: unary(log, 'ContainerStatus', async (req) => {
      const r = containers.resolve(requireId(req.containerId, 'container_id'));
      const info: Record<string, string> = {};
      if (req.verbose) {
        const spec = await import('node:fs/promises').then((fs) => fs.readFile(`${r.bundle}/config.json`, 'utf8')).catch(() => 'null');
        info['info'] = JSON.stringify({ pid: r.pid, conmonPid: r.conmonPid, sandboxId: r.sandboxId, runtimeHandler: r.runtimeHandler, bundle: r.bundle, cgroupsPath: r.cgroupsPath, runtimeSpec: JSON.parse(spec) as unknown });
      }
      return { status: toContainerStatus(r), info };
    }),

    ExecSync: unary(log, 'ExecSync', async (req, ctx) => {
      const res = await containers.execSync(requireId(req.containerId, 'container_id'), req.cmd, Number(req.timeout), ctx.signal);
      if (res.timedOut) {
        // kubelet's probe semantics: a timeout is an error it reports as such.
        throw new SkiffError('DeadlineExceeded', `command ${JSON.stringify(req.cmd)} timed out after ${req.timeout} s; it was killed`);
      }
      return { stdout: res.stdout, stderr: res.stderr, exitCode: res.exitCode };
    }),

    ReopenContainerLog: unary(log, 'ReopenContainerLog', async (req) => {
      await containers.reopenLog(requireId(req.containerId, 'container_id'));
      return {};
    }),

    UpdateContainerResources: unary(log, 'UpdateContainerResources', async (req) => {
      const resources = toContainerResources(req.linux);
      await containers.updateResources(requireId(req.containerId, 'container_id'), resources);
      return {};
    }),

    GetContainerEvents: serverStream(log, 'GetContainerEvents', async (_req, write, ctx) => {
      for await (const e of events.subscribe(ctx.signal)) {
        const sandbox = sandboxes.get(e.sandboxId);
        const c = containers.get(e.containerId);
        const message: ContainerEventResponse = {
          containerId: e.containerId,
          containerEventType: EVENT_TYPES[e.type],
          createdAt: e.createdAt.toString(),
          ...(sandbox ? { podSandboxStatus: toSandboxStatus(sandbox) } : {}),
          containersStatuses: c ? [toContainerStatus(c)] : [],
        };
        write(message);
      }
    }),
  };
}
