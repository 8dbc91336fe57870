// Launches a container under conmon 2.1.6 (one conmon per container). conmon
// daemonizes at once, runs `runc create`, and reports the container's pid (or
// runc's error) on the sync pipe; the caller then runs `runc start`. conmon
// and the container outlive this process: nothing here keeps a reference that
// ties them to the daemon.
// One file on purpose: the launch, its sync-pipe protocol and the clean-up
// after a failed launch are one sequence that only makes sense read together.
import { mkdir, rm } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

import { SkiffError } from '../errors.js';
import { type Child, spawnChild } from '../host/spawn.js';
import type { Logger } from '../log.js';
import { connectAttachSocket } from './attach-socket.js';
import { removeCgroup } from './cgroups.js';
import { runtimeChildEnv } from './child-env.js';
import { reopenLog, resizeTerminal } from './conmon-ctl.js';
import { execUnderConmon, reapStaleExecs } from './conmon-exec.js';
import type { ContainerMonitor } from './oci-runtime.js';
import { readPidFile } from './pid-file.js';
import { readCmdline, waitGone } from './process-tree.js';
import { RuncClient } from './runc.js';
import { classifyRuncMessage, runcMessage } from './runc-message.js';

export { reopenLog, resizeTerminal } from './conmon-ctl.js';

export interface LaunchOptions {
  /** The conmon binary, e.g. /usr/bin/conmon. */
  conmonPath: string;
  /** The OCI runtime conmon runs (runc), and its --root. */
  runtimePath: string;
  runtimeRoot: string;
  id: string;
  /** conmon -u: names the attach-socket link under socketDir; defaults to id. */
  uuid?: string;
  /** conmon -n; defaults to id. */
  name?: string;
  bundle: string;
  /** CRI log file, written in the k8s-file format. */
  logPath: string;
  logSizeMax?: number;
  /** conmon writes <exitDir>/<id> (the decimal exit code) when the container exits. */
  exitDir: string;
  /** conmon links <socketDir>/<uuid> to the bundle; the attach socket is reached through it. */
  socketDir: string;
  /** conmon -0: it writes `exit` and `oom` files here too. */
  persistDir?: string;
  /** Default <bundle>/pidfile. */
  containerPidFile?: string;
  /** Default <bundle>/conmon.pid. */
  conmonPidFile?: string;
  /** Keep a stdin pipe open to the container (attach can write to it). */
  stdin?: boolean;
  /** With stdin: close the container's stdin when the first attach client disconnects (CRI stdin_once). */
  stdinOnce?: boolean;
  /** Allocate a pseudo-terminal (conmon owns its master side). */
  tty?: boolean;
  /**
   * The container's cgroup (config.json linux.cgroupsPath). After a failed
   * launch runc removes the container's own cgroup but leaves its parents:
   * with `stopAt` (a cgroupsPath prefix) the empty ones up to it are removed.
   */
  cgroup?: { path: string; stopAt?: string };
  /** How long to wait for runc create to report (default 30 s). */
  timeoutMs?: number;
  signal?: AbortSignal;
  log?: Logger;
}

export interface LaunchResult {
  /** Host pid of the container's init (created, not started yet). */
  pid: number;
  conmonPid: number;
}

interface SyncMessage {
  data: number;
  message?: string;
}

const DEFAULT_TIMEOUT_MS = 30_000;
const SYNC_FD = 3;

/** Where a client connects to the container's attach socket: the short link path, within the 107-byte limit when socketDir is short. */
export function attachSocketPath(socketDir: string, uuid: string): string {
  return join(socketDir, uuid, 'attach');
}

export async function launchContainer(opts: LaunchOptions): Promise<LaunchResult> {
  const uuid = opts.uuid ?? opts.id;
  const containerPidFile = opts.containerPidFile ?? join(opts.bundle, 'pidfile');
  const conmonPidFile = opts.conmonPidFile ?? join(opts.bundle, 'conmon.pid');
  await Promise.all(
    // conmon creates none of these itself (a missing log dir fails the launch).
    [opts.exitDir, opts.socketDir, opts.persistDir, dirname(opts.logPath)]
      .filter((d): d is string => d !== undefined)
      .map((d) => mkdir(d, { recursive: true })),
  );
  // A stale pid file would be mistaken for this launch's.
  await Promise.all([rm(containerPidFile, { force: true }), rm(conmonPidFile, { force: true })]);

  const args = [
    '--api-version',
    '1',
    '-c',
    opts.id,
    '-u',
    uuid,
    '-n',
    opts.name ?? opts.id,
    '-r',
    opts.runtimePath,
    '--runtime-arg',
    `--root=${opts.runtimeRoot}`,
    '-b',
    opts.bundle,
    '-p',
    containerPidFile,
    '-P',
    conmonPidFile,
    '-l',
    `k8s-file:${opts.logPath}`,
    '--exit-dir',
    opts.exitDir,
    '--socket-dir-path',
    opts.socketDir,
    '--syslog=false',
    '--log-level',
    'info',
  ];
  if (opts.persistDir !== undefined) args.push('-0', opts.persistDir);
  if (opts.logSizeMax !== undefined && opts.logSizeMax > 0) args.push('--log-size-max', String(opts.logSizeMax));
  if (opts.tty) args.push('-t');
  if (opts.stdin) {
    args.push('-i');
    if (!opts.stdinOnce) args.push('--leave-stdin-open');
  }

  const started = Date.now();
  // cwd = bundle: conmon drops its `oom` marker in its working directory.
  // detached: its own session, so a signal to the daemon's process group never reaches it.
  const child = spawnChild(opts.conmonPath, args, {
    cwd: opts.bundle,
    detached: true,
    stdio: ['ignore', 'ignore', 'pipe', 'pipe'],
    env: runtimeChildEnv({ _OCI_SYNCPIPE: String(SYNC_FD) }),
  });
  const outcome = await waitForSync(child.stdio[SYNC_FD] as Readable, child.stderr!, child, opts);
  // Let go of everything: conmon's daemon keeps the pipe's write end (it ignores
  // SIGPIPE), and the short-lived parent is reaped by Node without holding the loop.
  child.stdio[SYNC_FD]?.destroy();
  child.stderr?.destroy();
  child.unref();

  if (outcome.kind === 'ok') {
    const conmonPid = await waitForPidFile(conmonPidFile, 2000);
    if (conmonPid === undefined) {
      await cleanupFailedLaunch(opts, uuid, containerPidFile, conmonPidFile, undefined);
      throw new SkiffError('Internal', `conmon for ${opts.id} reported pid ${outcome.pid} but wrote no pid file ${conmonPidFile}`);
    }
    opts.log?.debug({ id: opts.id, pid: outcome.pid, conmonPid, ms: Date.now() - started }, 'container created under conmon');
    return { pid: outcome.pid, conmonPid };
  }

  const conmonPid = await readPidFile(conmonPidFile);
  if (outcome.kind !== 'failed' && conmonPid !== undefined && (await isConmonFor(conmonPid, uuid))) {
    // Timed out or cancelled while runc create may still be running: stop conmon first.
    signalQuietly(conmonPid, 'SIGKILL');
  }
  await cleanupFailedLaunch(opts, uuid, containerPidFile, conmonPidFile, conmonPid);
  switch (outcome.kind) {
    case 'failed': {
      const msg = runcMessage(outcome.message) || outcome.message;
      // runc create fails mostly on what the spec asks for (a missing binary, a
      // mount, a cgroup limit): a precondition of the request, unless runc says otherwise.
      const kind = classifyRuncMessage(msg);
      throw new SkiffError(kind === 'Internal' ? 'FailedPrecondition' : kind, `creating container ${opts.id}: ${msg}`);
    }
    case 'timeout':
      throw new SkiffError(
        'DeadlineExceeded',
        `conmon did not report container ${opts.id} within ${opts.timeoutMs ?? DEFAULT_TIMEOUT_MS} ms`,
      );
    case 'aborted':
      throw new SkiffError('Cancelled', `launch of container ${opts.id} cancelled`);
  }
}

type SyncOutcome = { kind: 'ok'; pid: number } | { kind: 'failed'; message: string } | { kind: 'timeout' } | { kind: 'aborted' };

/** Waits for conmon's `{"data": pid}` line (negative data plus "message" on failure). */
function waitForSync(sync: Readable, stderr: Readable, child: Child, opts: LaunchOptions): Promise<SyncOutcome> {
  return new Promise<SyncOutcome>((resolve) => {
    let text = '';
    let errText = '';
    let settled = false;
    const settle = (o: SyncOutcome): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      opts.signal?.removeEventListener('abort', onAbort);
      resolve(o);
    };
    const onAbort = (): void => settle({ kind: 'aborted' });
    const timer = setTimeout(() => settle({ kind: 'timeout' }), opts.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    if (opts.signal?.aborted) onAbort();
    opts.signal?.addEventListener('abort', onAbort, { once: true });

    stderr.setEncoding('utf8');
    stderr.on('data', (s: string) => {
      if (errText.length < 8192) errText += s;
    });
    stderr.on('error', () => {});
    sync.setEncoding('utf8');
    sync.on('error', () => {});
    sync.on('data', (s: string) => {
      text += s;
      const msg = parseSync(text);
      if (msg) settle(outcomeOf(msg));
    });
    sync.on('end', () => {
      const msg = parseSync(text);
      if (msg) return settle(outcomeOf(msg));
      // The daemon exited without a message: conmon itself failed (bad flag, missing
      // dir…); its stderr may still be arriving, so give it a moment to name the cause.
      setTimeout(() => settle({ kind: 'failed', message: errText.trim() || 'conmon exited without reporting' }), 50);
    });
    child.on('error', (err: Error) => settle({ kind: 'failed', message: `cannot run ${opts.conmonPath}: ${err.message}` }));
  });
}

function outcomeOf(msg: SyncMessage): SyncOutcome {
  return msg.data > 0 ? { kind: 'ok', pid: msg.data } : { kind: 'failed', message: msg.message ?? `conmon reported ${msg.data}` };
}

/** The first complete JSON object line with a numeric `data`. */
function parseSync(text: string): SyncMessage | undefined {
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t.startsWith('{')) continue;
    try {
      const obj = JSON.parse(t) as { data?: unknown; message?: unknown };
      if (typeof obj.data === 'number') {
        return { data: obj.data, message: typeof obj.message === 'string' ? obj.message : undefined };
      }
    } catch {
      // incomplete line: wait for more
    }
  }
  return undefined;
}

async function waitForPidFile(file: string, timeoutMs: number): Promise<number | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const pid = await readPidFile(file);
    if (pid !== undefined || Date.now() >= deadline) return pid;
    await sleep(5);
  }
}

/** Guards against pid reuse: the process must be a conmon started with `-u uuid`. */
async function isConmonFor(pid: number, uuid: string): Promise<boolean> {
  const argv = await readCmdline(pid);
  if (!argv || argv.length === 0 || !/(?:^|\/)conmon$/.test(argv[0]!)) return false;
  const u = argv.indexOf('-u');
  return u >= 0 && argv[u + 1] === uuid;
}

function signalQuietly(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** Leaves nothing behind after a failed launch: no conmon, no runc state, no conmon files. */
async function cleanupFailedLaunch(
  opts: LaunchOptions,
  uuid: string,
  containerPidFile: string,
  conmonPidFile: string,
  conmonPid: number | undefined,
): Promise<void> {
  if (conmonPid !== undefined && (await isConmonFor(conmonPid, uuid))) {
    // After reporting a failure conmon exits by itself; force it only if it lingers.
    if (!(await waitGone(conmonPid, 2000))) {
      signalQuietly(conmonPid, 'SIGKILL');
      await waitGone(conmonPid, 1000);
    }
  }
  try {
    await new RuncClient({ binary: opts.runtimePath, root: opts.runtimeRoot, log: opts.log }).delete(opts.id, { force: true });
  } catch (err) {
    opts.log?.warn({ id: opts.id, err }, 'runc delete after failed launch');
  }
  if (opts.cgroup) {
    await removeCgroup(opts.cgroup.path, { stopAt: opts.cgroup.stopAt }).catch((err: unknown) =>
      opts.log?.warn({ id: opts.id, err }, 'removing cgroup after failed launch'),
    );
  }
  await removeConmonLeftovers({ bundle: opts.bundle, socketDir: opts.socketDir, uuid });
  await Promise.all(
    [
      containerPidFile,
      conmonPidFile,
      join(opts.exitDir, opts.id),
      join(opts.bundle, 'oom'),
      ...(opts.persistDir !== undefined ? [join(opts.persistDir, 'exit'), join(opts.persistDir, 'oom')] : []),
    ].map((f) => rm(f, { force: true })),
  );
}

/**
 * Removes what conmon leaves after it exits: the ctl and winsz fifos, the attach
 * socket and the socket-dir link. Call once the container is gone.
 */
export async function removeConmonLeftovers(where: { bundle: string; socketDir: string; uuid: string }): Promise<void> {
  await Promise.all(
    [join(where.bundle, 'ctl'), join(where.bundle, 'winsz'), join(where.bundle, 'attach'), join(where.socketDir, where.uuid)].map((f) =>
      rm(f, { force: true }),
    ),
  );
}

/** conmon behind the ContainerMonitor seam. */
export function conmonMonitor(conmonPath: string): ContainerMonitor {
  return {
    launch: (opts) => launchContainer({ ...opts, conmonPath }),
    reopenLog: (bundle) => reopenLog(bundle),
    resize: (bundle, width, height) => resizeTerminal(bundle, width, height),
    attach: (containerId, socketDir, sink) => connectAttachSocket(attachSocketPath(socketDir, containerId), sink),
    exec: (opts) => execUnderConmon({ ...opts, conmonPath }),
    reapExecs: (execsRoot, socketDir, log) => reapStaleExecs(execsRoot, socketDir, log),
  };
}
