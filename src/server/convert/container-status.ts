// CRI Container messages (generated proto types) <-> the container domain's records.
import { processGroups } from '../../container/oci-spec/build-spec.js';
import type { ContainerRecord, ContainerState } from '../../container/record.js';
import type { Container } from '../../generated/runtime/v1/Container.js';
import type { ContainerStatus } from '../../generated/runtime/v1/ContainerStatus.js';
import type { ImageSpec } from '../../generated/runtime/v1/ImageSpec.js';
import { TO_PROTO_PROPAGATION } from './common.js';
import { toProtoResources } from './container-config.js';

export const STATES: Record<ContainerState, 'CONTAINER_CREATED' | 'CONTAINER_RUNNING' | 'CONTAINER_EXITED' | 'CONTAINER_UNKNOWN'> = {
  creating: 'CONTAINER_UNKNOWN',
  created: 'CONTAINER_CREATED',
  running: 'CONTAINER_RUNNING',
  exited: 'CONTAINER_EXITED',
  unknown: 'CONTAINER_UNKNOWN',
};
export const FROM_PROTO_STATE: Record<string, ContainerState> = {
  CONTAINER_CREATED: 'created',
  CONTAINER_RUNNING: 'running',
  CONTAINER_EXITED: 'exited',
  CONTAINER_UNKNOWN: 'unknown',
};

/** The container's ImageSpec as kubelet sent it, optionally renamed. */
function imageSpec(r: ContainerRecord, image = r.config.image): ImageSpec {
  const c = r.config;
  return { image, annotations: c.imageAnnotations, userSpecifiedImage: c.userSpecifiedImage, runtimeHandler: c.imageRuntimeHandler };
}

/**
 * A list item. image_ref is the image id here, as the CRI asks of a list and
 * as kubelet's image garbage collector compares it with ListImages ids (when
 * image_id is empty, i.e. older runtimes); image_id says the same for newer
 * kubelets. ContainerStatus gives the repo digest as image_ref instead.
 */
export function toContainer(r: ContainerRecord): Container {
  return {
    id: r.id,
    podSandboxId: r.sandboxId,
    metadata: r.config.metadata,
    image: imageSpec(r),
    imageRef: r.imageId,
    imageId: r.imageId,
    state: STATES[r.status.state],
    createdAt: r.createdAt,
    labels: r.config.labels,
    annotations: r.config.annotations,
  };
}

export function toContainerStatus(r: ContainerRecord): ContainerStatus {
  return {
    id: r.id,
    metadata: r.config.metadata,
    state: STATES[r.status.state],
    createdAt: r.createdAt,
    startedAt: r.status.startedAt,
    finishedAt: r.status.finishedAt,
    exitCode: r.status.exitCode,
    image: imageSpec(r, r.image),
    imageRef: r.imageRef,
    imageId: r.imageId,
    reason: r.status.reason,
    message: r.status.message,
    labels: r.config.labels,
    annotations: r.config.annotations,
    mounts: r.config.mounts.map((m) => ({
      containerPath: m.containerPath,
      hostPath: m.hostPath,
      readonly: m.readonly,
      selinuxRelabel: m.selinuxRelabel,
      propagation: TO_PROTO_PROPAGATION[m.propagation],
      recursiveReadOnly: m.recursiveReadOnly,
    })),
    logPath: r.logPath,
    resources: { linux: toProtoResources(r.status.resources) },
    user: {
      linux: {
        uid: String(r.status.user.uid),
        gid: String(r.status.user.gid),
        supplementalGroups: processGroups(r.status.user).map(String),
      },
    },
  };
}

export const EVENT_TYPES = {
  created: 'CONTAINER_CREATED_EVENT',
  started: 'CONTAINER_STARTED_EVENT',
  stopped: 'CONTAINER_STOPPED_EVENT',
  deleted: 'CONTAINER_DELETED_EVENT',
} as const;
