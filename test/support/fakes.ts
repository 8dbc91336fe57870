// In-memory stand-ins for the programs behind the lifecycle services' seams
// (runtime, monitor, cgroups, mounts, snapshots), so the services' rules run
// at unit-test speed. Exits are real files in a temp exit dir, as conmon writes them.
import { writeFileSync } from 'node:fs';
import path from 'node:path';

import pino from 'pino';

import type { SnapshotOps } from '../../src/container/bundle.js';
import { SkiffError } from '../../src/errors.js';
import type { HostMounts } from '../../src/host/mount.js';
import type { Logger } from '../../src/log.js';
import type { AttachConnection } from '../../src/runtime/attach-socket.js';
import type { LaunchOptions, LaunchResult } from '../../src/runtime/conmon.js';
import type { MonitoredExec } from '../../src/runtime/conmon-exec.js';
import type { HandlerFeatures } from '../../src/runtime/handler-features.js';
import type { CgroupOps, ContainerMonitor, OciRuntime, RuntimeProvider } from '../../src/runtime/oci-runtime.js';
import type { AttachedExec, ExecOptions, ExecResult, RuncState } from '../../src/runtime/runc.js';

export const silentLog = (): Logger => pino({ level: 'silent' });

/** How the fake container reacts to a signal: exit with a code (after a delay), or ignore it. */
export type SignalReaction = { exit: number; afterMs?: number } | 'ignore';

export class FakeRuntime implements OciRuntime, RuntimeProvider {
  readonly binary = '/fake/runc';
  readonly root = '/fake/root';
  readonly calls: string[] = [];
  readonly states = new Map<string, RuncState['status']>();
  /** Reaction per signal name; unlisted signals are ignored. */
  reactions: Record<string, SignalReaction> = { SIGTERM: { exit: 143 }, SIGKILL: { exit: 137 } };
  failStart: Error | undefined;
  execResult: ExecResult = { exitCode: 0, stdout: Buffer.from('out'), stderr: Buffer.alloc(0), timedOut: false, truncated: false };
  lastExecSpec: object | undefined;

  constructor(private readonly exitDir: string) {}

  get(): OciRuntime {
    return this;
  }

  featureSet: HandlerFeatures = { recursiveReadOnlyMounts: true, userNamespaces: false, notes: [] };
  features(): HandlerFeatures {
    return this.featureSet;
  }

  /** Writes the exit file as conmon would. */
  exit(id: string, code: number): void {
    this.states.set(id, 'stopped');
    writeFileSync(path.join(this.exitDir, id), String(code));
  }

  async state(id: string): Promise<RuncState | undefined> {
    this.calls.push(`state ${id}`);
    const status = this.states.get(id);
    return status ? { id, pid: status === 'running' ? 4242 : 0, status, bundle: '', rootfs: '', created: '', annotations: {} } : undefined;
  }

  async start(id: string): Promise<void> {
    this.calls.push(`start ${id}`);
    if (this.failStart) throw this.failStart;
    this.states.set(id, 'running');
  }

  async kill(id: string, signal: string | number, opts: { all?: boolean } = {}): Promise<void> {
    this.calls.push(`kill ${id} ${signal}${opts.all ? ' all' : ''}`);
    const reaction = this.reactions[String(signal)] ?? 'ignore';
    if (reaction === 'ignore') return;
    setTimeout(() => this.exit(id, reaction.exit), reaction.afterMs ?? 5);
  }

  async delete(id: string): Promise<void> {
    this.calls.push(`delete ${id}`);
    this.states.delete(id);
  }

  async exec(id: string, processSpec: object, _opts?: ExecOptions): Promise<ExecResult> {
    this.calls.push(`exec ${id}`);
    this.lastExecSpec = processSpec;
    return this.execResult;
  }

  async execAttached(id: string): Promise<AttachedExec> {
    this.calls.push(`execAttached ${id}`);
    throw new Error('the fake runtime streams nothing');
  }

  async update(id: string): Promise<void> {
    this.calls.push(`update ${id}`);
  }
}

export class FakeMonitor implements ContainerMonitor {
  readonly launched: Omit<LaunchOptions, 'conmonPath'>[] = [];
  readonly reopened: string[] = [];
  readonly resized: { bundle: string; width: number; height: number }[] = [];
  failLaunch: Error | undefined;
  private nextPid = 1000;

  constructor(private readonly runtime: FakeRuntime) {}

  async launch(opts: Omit<LaunchOptions, 'conmonPath'>): Promise<LaunchResult> {
    if (this.failLaunch) throw this.failLaunch;
    this.launched.push(opts);
    this.runtime.states.set(opts.id, 'created');
    return { pid: this.nextPid++, conmonPid: this.nextPid++ };
  }

  async reopenLog(bundle: string): Promise<void> {
    this.reopened.push(bundle);
  }

  async resize(bundle: string, width: number, height: number): Promise<void> {
    this.resized.push({ bundle, width, height });
  }

  // Streams are covered end to end (test/e2e/streaming.test.ts), not with fakes.
  async attach(): Promise<AttachConnection> {
    throw new SkiffError('Unimplemented', 'FakeMonitor does not attach');
  }

  async exec(): Promise<MonitoredExec> {
    throw new SkiffError('Unimplemented', 'FakeMonitor does not exec');
  }

  readonly reaped: string[] = [];
  async reapExecs(execsRoot: string): Promise<number> {
    this.reaped.push(execsRoot);
    return 0;
  }
}

export class FakeCgroups implements CgroupOps {
  readonly killed: string[] = [];
  readonly removed: string[] = [];
  oomKillCount = 0;
  /** Called on killAll: a cgroup kill that works makes the container exit. */
  onKillAll: ((cgroupsPath: string) => void) | undefined;

  async killAll(p: string): Promise<void> {
    this.killed.push(p);
    this.onKillAll?.(p);
  }

  async remove(p: string): Promise<void> {
    this.removed.push(p);
  }

  async oomKills(): Promise<number> {
    return this.oomKillCount;
  }
}

export class FakeMounts implements HostMounts {
  readonly mounted = new Set<string>();
  failOverlay: Error | undefined;

  async mountOverlay(target: string): Promise<void> {
    if (this.failOverlay) throw this.failOverlay;
    this.mounted.add(target);
  }

  async mountTmpfs(target: string): Promise<void> {
    this.mounted.add(target);
  }

  async bindMount(_source: string, target: string): Promise<void> {
    this.mounted.add(target);
  }

  async unmount(target: string): Promise<void> {
    this.mounted.delete(target);
  }

  isMountPoint(p: string): boolean {
    return this.mounted.has(p);
  }
}

export class FakeSnapshots implements SnapshotOps {
  readonly active = new Map<string, string>();

  async prepareActive(key: string, parent: string): ReturnType<SnapshotOps['prepareActive']> {
    this.active.set(key, parent);
    return {
      snapshot: { key, parent, id: 1, createdAt: '' },
      options: `lowerdir=/fake/${parent}`,
      layers: { lowers: [`/fake/${parent}`], upper: '/fake/upper', work: '/fake/work' },
    } as Awaited<ReturnType<SnapshotOps['prepareActive']>>;
  }

  async removeActive(key: string): Promise<void> {
    this.active.delete(key);
  }

  getActive(key: string): ReturnType<SnapshotOps['getActive']> {
    const parent = this.active.get(key);
    return parent === undefined ? undefined : ({ key, parent } as ReturnType<SnapshotOps['getActive']>);
  }
}
