import type { ContainerConfig } from './types.js';

export type ContainerState = 'creating' | 'created' | 'running' | 'exited' | 'unknown';

/** What Skiff records about a container; one crash-safe file per container. */
export interface ContainerRecord {
  id: string;
  /** <container>_<pod>_<namespace>_<uid>_<attempt>: retries are recognised by it. */
  name: string;
  sandboxId: string;
  config: ContainerConfig;
  /** Fingerprint of the create request, to tell a retry from a conflict. */
  fingerprint: string;
  state: ContainerState;
  /**
   * What ContainerStatus names the image by: its first tag when the container
   * was created (kubelet creates by id), else the reference as sent. Then its
   * id, and the repo digest it came from.
   */
  image: string;
  imageId: string;
  imageRef: string;
  runtimeHandler: string;
  runtimePath: string;
  bundle: string;
  rootfs: string;
  /** Absolute path of the CRI log. */
  logPath: string;
  cgroupsPath: string;
  stopSignal: string;
  user: { uid: number; gid: number; additionalGids: number[] };
  /** Nanosecond timestamps as decimal strings ('0' when not yet). */
  createdAt: string;
  startedAt: string;
  finishedAt: string;
  exitCode: number;
  reason: string;
  message: string;
  pid: number;
  conmonPid: number;
}
