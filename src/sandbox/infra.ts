import type { InfraProcess, SandboxRecord } from './types.js';

/** Starts and stops the process that holds a pod's PID namespace, when it needs one. */
export interface InfraRunner {
  start(record: SandboxRecord, signal: AbortSignal): Promise<InfraProcess>;
  stop(record: SandboxRecord): Promise<void>;
  /** Removes whatever `start` left (mount, snapshot, bundle), also after a start that failed halfway. */
  remove(record: SandboxRecord): Promise<void>;
  alive(record: SandboxRecord): Promise<boolean>;
  /** Calls `onExit` with the infra container id whenever an infra process exits (also for exits while no daemon ran). */
  watchExits(onExit: (infraId: string) => void): Promise<void>;
  /** Stops watching. */
  close(): void;
}
