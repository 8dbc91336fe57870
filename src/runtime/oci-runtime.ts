// The seams between the lifecycle services and the programs that run
// containers. The services see only these interfaces, so their rules can be
// tested with fakes; runc.ts, conmon.ts and cgroups.ts are the real ones.
import type { Logger } from '../log.js';
import type { AttachConnection, OutputSink } from './attach-socket.js';
import type { LaunchOptions, LaunchResult } from './conmon.js';
import type { ConmonExecOptions, MonitoredExec } from './conmon-exec.js';
import type { HandlerFeatures } from './handler-features.js';
import type { AttachedExec, ExecOptions, ExecResult, RuncState } from './runc.js';

/** An OCI runtime's command line for one --root (runc, crun). */
export interface OciRuntime {
  readonly binary: string;
  readonly root: string;
  /** Undefined when the runtime does not know the container. */
  state(id: string): Promise<RuncState | undefined>;
  start(id: string, initPid?: number): Promise<void>;
  kill(id: string, signal: string | number, opts?: { all?: boolean }): Promise<void>;
  /** Idempotent: an unknown container counts as deleted. */
  delete(id: string, opts?: { force?: boolean }): Promise<void>;
  exec(id: string, processSpec: object, opts?: ExecOptions): Promise<ExecResult>;
  /** Starts a process with piped stdio for streaming (Exec). */
  execAttached(id: string, processSpec: object): Promise<AttachedExec>;
  update(id: string, resources: object): Promise<void>;
}

/** The runtime clients by handler name (RuntimeClass). */
export interface RuntimeProvider {
  /** INVALID_ARGUMENT when the handler is not configured. */
  get(handler: string): OciRuntime;
  /** What the handler can apply (see handler-features.ts); INVALID_ARGUMENT when not configured. */
  features(handler: string): HandlerFeatures;
}

/** The per-container monitor (conmon) that keeps stdio, logs and the exit code. */
export interface ContainerMonitor {
  launch(opts: Omit<LaunchOptions, 'conmonPath'>): Promise<LaunchResult>;
  /** Makes the monitor close and reopen the container's log file. */
  reopenLog(bundle: string): Promise<void>;
  /** Resizes the container's terminal (width and height in cells). */
  resize(bundle: string, width: number, height: number): Promise<void>;
  /** Connects to the container's stdio (its attach socket). */
  attach(containerId: string, socketDir: string, sink: OutputSink): Promise<AttachConnection>;
  /** Runs a streamed exec under the monitor (how a tty exec runs). */
  exec(opts: Omit<ConmonExecOptions, 'conmonPath'>): Promise<MonitoredExec>;
  /** At start-up: ends the monitored execs under `execsRoot` an earlier run left (their clients are gone). */
  reapExecs(execsRoot: string, socketDir: string, log: Logger): Promise<number>;
}

/** cgroup operations on a container's cgroupsPath. */
export interface CgroupOps {
  /** SIGKILLs every process left in the cgroup. */
  killAll(cgroupsPath: string): Promise<void>;
  /** Removes the cgroup (absent is fine). */
  remove(cgroupsPath: string): Promise<void>;
  /** The memory controller's OOM kill count (0 when unknown). */
  oomKills(cgroupsPath: string): Promise<number>;
}
