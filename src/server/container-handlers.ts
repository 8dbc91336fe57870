import type { ContainerRecord } from '../container/record.js';
import { SkiffError } from '../errors.js';
import type { ContainerEventResponse } from '../generated/runtime/v1/ContainerEventResponse.js';
import type { ContainerFilter__Output } from '../generated/runtime/v1/ContainerFilter.js';
import type { ListContainersResponse } from '../generated/runtime/v1/ListContainersResponse.js';
import type { RuntimeServiceHandlers } from '../generated/runtime/v1/RuntimeService.js';
import type { Logger } from '../log.js';
import type { CriBackend } from './backend.js';
import {
  EVENT_TYPES,
  FROM_PROTO_STATE,
  requireId,
  toContainer,
  toContainerConfig,
  toContainerResources,
  toContainerStatus,
  toSandboxStatus,
} from './convert/index.js';
import { ListEncoder } from './encoded.js';
import { listStream, serverStream, unary } from './instrument.js';
import { loadCriProto } from './proto.js';

export function containerHandlers(
  log: Logger,
  { containers, sandboxes, pods, events, streaming }: Pick<CriBackend, 'containers' | 'sandboxes' | 'pods' | 'events' | 'streaming'>,
): Pick<
  RuntimeServiceHandlers,
  | 'CreateContainer'
  | 'StartContainer'
  | 'StopContainer'
  | 'RemoveContainer'
  | 'ListContainers'
  | 'ContainerStatus'
  | 'Exec'
  | 'Attach'
  | 'ExecSync'
  | 'ReopenContainerLog'
  | 'UpdateContainerResources'
  | 'GetContainerEvents'
  | 'StreamContainers'
> {
  const listContainers = (req: { filter: ContainerFilter__Output | null }): ContainerRecord[] => {
    const f = req.filter;
    const state = f?.state ? FROM_PROTO_STATE[f.state.state] : undefined;
    return containers.list({
      ...(f?.id ? { id: f.id } : {}),
      ...(state ? { state } : {}),
      ...(f?.podSandboxId ? { sandboxId: f.podSandboxId } : {}),
      ...(f && Object.keys(f.labelSelector).length ? { labels: f.labelSelector } : {}),
    });
  };
  const runningContainer = (id: string): ContainerRecord => {
    const record = containers.resolve(requireId(id, 'container_id'));
    if (record.status.state !== 'running') throw new SkiffError('FailedPrecondition', `container ${record.id} is not running`);
    return record;
  };
  const listEncoder = new ListEncoder<ContainerRecord>(
    loadCriProto().runtime.v1.RuntimeService.service.ListContainers.responseSerialize,
    'containers',
    (r) => r.id,
    (r) => r.status.state,
    toContainer,
  );
  return {
    CreateContainer: unary(log, 'CreateContainer', async (req, ctx) => ({
      containerId: await pods.createContainer(
        requireId(req.podSandboxId, 'pod_sandbox_id'),
        toContainerConfig(req.config),
        ctx.signal,
        ctx.log,
      ),
    })),

    StartContainer: unary(log, 'StartContainer', async (req, ctx) => {
      await containers.start(requireId(req.containerId, 'container_id'), ctx.log);
      return {};
    }),

    StopContainer: unary(log, 'StopContainer', async (req, ctx) => {
      await containers.stop(requireId(req.containerId, 'container_id'), Number(req.timeout), ctx.log);
      return {};
    }),

    RemoveContainer: unary(log, 'RemoveContainer', async (req, ctx) => {
      await containers.remove(requireId(req.containerId, 'container_id'), ctx.log);
      return {};
    }),

    ListContainers: unary(log, 'ListContainers', (req) => listEncoder.encode(listContainers(req)) as ListContainersResponse),
    StreamContainers: listStream(log, 'StreamContainers', 'containers', (req) => listContainers(req).map(toContainer)),

    ContainerStatus: unary(log, 'ContainerStatus', async (req) => {
      const r = containers.resolve(requireId(req.containerId, 'container_id'));
      const info: Record<string, string> = {};
      if (req.verbose) info['info'] = JSON.stringify(await containers.verboseInfo(r));
      return { status: toContainerStatus(r), info };
    }),

    Exec: unary(log, 'Exec', (req) => {
      const record = runningContainer(req.containerId);
      if (req.cmd.length === 0) throw new SkiffError('InvalidArgument', 'cmd is required');
      checkStdio(req);
      const { stdin, stdout, stderr, tty } = req;
      return { url: streaming.exec({ containerId: record.id, cmd: req.cmd, stdin, stdout, stderr, tty }) };
    }),

    Attach: unary(log, 'Attach', (req) => {
      const record = runningContainer(req.containerId);
      checkStdio(req);
      if (req.stdin && !record.config.stdin)
        throw new SkiffError('InvalidArgument', `stdin: container ${record.id} was created without stdin; nothing can be written to it`);
      // The container's own terminal decides the streams, not the request.
      const tty = record.config.tty;
      const { stdin, stdout } = req;
      return { url: streaming.attach({ containerId: record.id, stdin, stdout, stderr: req.stderr && !tty, tty }) };
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

/** The stdio rules Exec and Attach share. */
function checkStdio(req: { stdin: boolean; stdout: boolean; stderr: boolean; tty: boolean }): void {
  if (req.tty && req.stderr) throw new SkiffError('InvalidArgument', 'tty and stderr cannot both be set: a terminal has one output stream');
  if (!req.stdin && !req.stdout && !req.stderr) throw new SkiffError('InvalidArgument', 'one of stdin, stdout and stderr must be set');
}
