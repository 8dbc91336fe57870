import type { RecordSchema } from '../store/record-store.js';
import type { BundleRef } from './bundle.js';
import type { ContainerConfig, ContainerResources } from './types.js';

export type ContainerState = 'creating' | 'created' | 'running' | 'exited' | 'unknown';

export interface ContainerUser {
  readonly uid: number;
  readonly gid: number;
  readonly additionalGids: readonly number[];
}

/** What changes over a container's life; replaced as a whole (RecordStore.update). */
export interface ContainerStatusFields {
  readonly state: ContainerState;
  /** Resolved from the image's passwd/group once the rootfs is mounted. */
  readonly user: ContainerUser;
  /** The limits in force: the config's, then whatever UpdateContainerResources set. */
  readonly resources: ContainerResources;
  /** Nanosecond timestamps as decimal strings ('0' when not yet). */
  readonly startedAt: string;
  readonly finishedAt: string;
  readonly exitCode: number;
  readonly reason: string;
  readonly message: string;
  readonly pid: number;
  readonly conmonPid: number;
}

export const CONTAINER_RECORD_VERSION = 1;

/** What Skiff records about a container; one crash-safe file per container. Fixed at create, apart from `status`. */
export interface ContainerRecord {
  readonly version: typeof CONTAINER_RECORD_VERSION;
  readonly id: string;
  /** <container>_<pod>_<namespace>_<uid>_<attempt>: retries are recognised by it. */
  readonly name: string;
  readonly sandboxId: string;
  /** The create request as sent. */
  readonly config: ContainerConfig;
  /** Fingerprint of the create request, to tell a retry from a conflict. */
  readonly fingerprint: string;
  /**
   * What ContainerStatus names the image by: its first tag when the container
   * was created (kubelet creates by id), else the reference as sent. Then its
   * id, and the repo digest it came from.
   */
  readonly image: string;
  readonly imageId: string;
  readonly imageRef: string;
  readonly runtimeHandler: string;
  readonly runtimePath: string;
  readonly bundle: string;
  readonly rootfs: string;
  /** Absolute path of the CRI log ('' when kubelet asked for none). */
  readonly logPath: string;
  readonly cgroupsPath: string;
  readonly stopSignal: string;
  /** Nanoseconds since the epoch, as a decimal string. */
  readonly createdAt: string;
  readonly status: ContainerStatusFields;
}

type Raw = Record<string, unknown>;

/**
 * Version 0 (no version field) kept status and metadata side by side, the
 * current resources inside config, and lacked the ImageSpec extras.
 */
function fromV0(raw: Raw): ContainerRecord {
  const config = raw['config'] as ContainerConfig;
  const fullConfig: ContainerConfig = {
    ...config,
    userSpecifiedImage: config.userSpecifiedImage ?? '',
    imageAnnotations: config.imageAnnotations ?? {},
    imageRuntimeHandler: config.imageRuntimeHandler ?? '',
  };
  const str = (k: string, dflt = ''): string => (typeof raw[k] === 'string' ? raw[k] : dflt);
  const num = (k: string): number => (typeof raw[k] === 'number' ? raw[k] : 0);
  return {
    version: CONTAINER_RECORD_VERSION,
    id: str('id'),
    name: str('name'),
    sandboxId: str('sandboxId'),
    config: fullConfig,
    fingerprint: str('fingerprint'),
    image: str('image', config.image),
    imageId: str('imageId'),
    imageRef: str('imageRef'),
    runtimeHandler: str('runtimeHandler'),
    runtimePath: str('runtimePath'),
    bundle: str('bundle'),
    rootfs: str('rootfs'),
    logPath: str('logPath'),
    cgroupsPath: str('cgroupsPath'),
    stopSignal: str('stopSignal', 'SIGTERM'),
    createdAt: str('createdAt', '0'),
    status: {
      state: str('state', 'unknown') as ContainerState,
      user: (raw['user'] as ContainerUser | undefined) ?? { uid: 0, gid: 0, additionalGids: [] },
      resources: config.linux.resources,
      startedAt: str('startedAt', '0'),
      finishedAt: str('finishedAt', '0'),
      exitCode: num('exitCode'),
      reason: str('reason'),
      message: str('message'),
      pid: num('pid'),
      conmonPid: num('conmonPid'),
    },
  };
}

export const CONTAINER_SCHEMA: RecordSchema<ContainerRecord> = {
  kind: 'container',
  version: CONTAINER_RECORD_VERSION,
  migrate(raw) {
    const record = raw['version'] === undefined ? fromV0(raw) : (raw as unknown as ContainerRecord);
    if (typeof record.id !== 'string' || record.id === '' || typeof record.status !== 'object') throw new Error('not a container record');
    return record;
  },
};

/** A copy of the record with some status fields replaced. */
export function withStatus(record: ContainerRecord, change: Partial<ContainerStatusFields>): ContainerRecord {
  return { ...record, status: { ...record.status, ...change } };
}

/** The bundle a container's record points at (its snapshot is keyed by its id). */
export function bundleRefOf(record: ContainerRecord): BundleRef {
  return { id: record.id, dir: record.bundle, snapshotKey: record.id, cgroupsPath: record.cgroupsPath };
}
