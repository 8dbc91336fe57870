// Typed client for the runc command line (1.1.x). Every call is an argv array;
// runc's own messages come back as RuncError carrying runc's text.
import { randomBytes } from 'node:crypto';
import { rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { type ErrorKind, SkiffError } from '../errors.js';
import { type ProcessResult, runProcess, startProcess } from '../host/run-process.js';
import { type Child, spawnChild } from '../host/spawn.js';
import type { Logger } from '../log.js';
import { runtimeChildEnv } from './child-env.js';
import { hasExecFifo, releaseExecFifo } from './exec-fifo.js';
import { readPidFile } from './pid-file.js';
import { killProcessTree } from './process-tree.js';
import { classifyRuncMessage, runcMessage } from './runc-message.js';

export type RuncStatus = 'created' | 'running' | 'pausing' | 'paused' | 'stopped';

export interface RuncState {
  id: string;
  /** Host pid of the container's init; 0 once stopped. */
  pid: number;
  status: RuncStatus;
  bundle: string;
  rootfs: string;
  /** RFC 3339 with nanoseconds, as runc reports it (a Date would drop the nanoseconds). */
  created: string;
  annotations: Record<string, string>;
}

export interface RuncClientOptions {
  binary: string;
  /** runc --root: where runc keeps its state; one per runtime instance. */
  root: string;
  log?: Logger;
  /** Where exec process specs and pid files go (default: the OS temp dir). */
  tmpDir?: string;
  /** Upper bound for every command except exec, so a wedged runc cannot hang a caller (default 60 s). */
  commandTimeoutMs?: number;
}

export interface ExecOptions {
  stdin?: Buffer;
  timeoutMs?: number;
  signal?: AbortSignal;
  /** Bytes kept per stream; the rest is read and dropped (default 16 MiB). */
  maxOutputBytes?: number;
}

export interface ExecResult {
  exitCode: number;
  stdout: Buffer;
  stderr: Buffer;
  /** The timeout fired or the signal aborted: the exec'd process tree was killed. */
  timedOut: boolean;
  /** Some output went beyond maxOutputBytes and was dropped. */
  truncated: boolean;
}

/** A process started by execAttached. */
export interface AttachedExec {
  child: Child;
  /** Its exit code, once it has exited. */
  done: Promise<number>;
  /** Kills the exec'd process tree (idempotent). */
  kill(): Promise<void>;
}

/** A failed runc command, with runc's own message. */
export class RuncError extends SkiffError {
  constructor(
    kind: ErrorKind,
    readonly command: string,
    readonly runcMessage: string,
    readonly exitCode: number,
  ) {
    super(kind, `runc ${command}: ${runcMessage || `exited with ${exitCode}`}`);
  }
}

const DEFAULT_MAX_OUTPUT = 16 * 1024 * 1024;
const STDERR_LIMIT = 64 * 1024;
const SIGNAL_RE = /^(?:\d{1,2}|(?:SIG)?[A-Z][A-Z0-9]*(?:[+-]\d{1,2})?)$/;

export class RuncClient {
  readonly binary: string;
  readonly root: string;
  private readonly log: Logger | undefined;
  private readonly tmpDir: string;
  private readonly commandTimeoutMs: number;

  constructor(opts: RuncClientOptions) {
    this.binary = opts.binary;
    this.root = opts.root;
    this.log = opts.log;
    this.tmpDir = opts.tmpDir ?? tmpdir();
    this.commandTimeoutMs = opts.commandTimeoutMs ?? 60_000;
  }

  /** Undefined when runc does not know the container. */
  async state(id: string): Promise<RuncState | undefined> {
    let out: Buffer;
    try {
      out = await this.run(['state', id]);
    } catch (err) {
      if (err instanceof RuncError && err.kind === 'NotFound') return undefined;
      throw err;
    }
    const raw = JSON.parse(out.toString('utf8')) as Partial<RuncState> & { pid?: number };
    return {
      id: raw.id ?? id,
      pid: raw.pid ?? 0,
      status: raw.status ?? 'stopped',
      bundle: raw.bundle ?? '',
      rootfs: raw.rootfs ?? '',
      created: raw.created ?? '',
      annotations: raw.annotations ?? {},
    };
  }

  /**
   * With the init's pid, a runc binary is started through its exec fifo
   * directly (what `runc start` does, minus a process start); otherwise, or
   * when the fifo is not there, by `runc start`.
   */
  async start(id: string, initPid?: number): Promise<void> {
    if (initPid !== undefined && initPid > 0 && basename(this.binary) === 'runc' && (await hasExecFifo(this.root, id))) {
      await releaseExecFifo(this.root, id, initPid);
      this.log?.debug({ id }, 'started through the exec fifo');
      return;
    }
    await this.run(['start', id]);
  }

  /** `all` signals every process in the container's cgroup, not only its init. */
  async kill(id: string, signal: string | number, opts: { all?: boolean } = {}): Promise<void> {
    const sig = String(signal);
    if (!SIGNAL_RE.test(sig)) throw new SkiffError('InvalidArgument', `invalid signal ${JSON.stringify(sig)}`);
    await this.run(['kill', ...(opts.all ? ['--all'] : []), id, sig]);
  }

  /** Idempotent: a container runc does not know counts as deleted. */
  async delete(id: string, opts: { force?: boolean } = {}): Promise<void> {
    try {
      await this.run(['delete', ...(opts.force ? ['--force'] : []), id]);
    } catch (err) {
      if (err instanceof RuncError && err.kind === 'NotFound') return;
      throw err;
    }
  }

  /** Applies OCI LinuxResources (JSON) to a live container. */
  async update(id: string, resources: object): Promise<void> {
    await this.run(['update', '--resources', '-', id], JSON.stringify(resources));
  }

  /** Host pids of the container's processes. */
  async ps(id: string): Promise<number[]> {
    const out = await this.run(['ps', '--format', 'json', id]);
    const pids = JSON.parse(out.toString('utf8')) as number[] | null;
    return pids ?? [];
  }

  /**
   * Runs a process in the container with pipes (no tty) and waits for it.
   * On timeout or abort the exec'd process and everything it started are
   * SIGKILLed, and the result says timedOut. A process runc could not start
   * (bad path, bad user…) is a RuncError, not an exit code.
   */
  async exec(id: string, processSpec: object, opts: ExecOptions = {}): Promise<ExecResult> {
    const pidFile = join(this.tmpDir, `skiff-exec-${randomBytes(8).toString('hex')}.pid`);
    let specFile: string | undefined;
    try {
      // Without input for the process, runc reads the spec from its stdin: no file to write.
      if (opts.stdin !== undefined) {
        specFile = join(this.tmpDir, `skiff-exec-${randomBytes(8).toString('hex')}.json`);
        await writeFile(specFile, JSON.stringify(processSpec), { mode: 0o600 });
      }
      const max = opts.maxOutputBytes ?? DEFAULT_MAX_OUTPUT;
      const { child, done } = startProcess(
        this.binary,
        [...this.globalArgs(), 'exec', '--process', specFile ?? '/dev/stdin', '--pid-file', pidFile, id],
        { input: opts.stdin ?? JSON.stringify(processSpec), env: runtimeChildEnv(), maxStdout: max, maxStderr: max },
      );

      let timedOut = false;
      let killing: Promise<void> | undefined;
      const stop = (): void => {
        if (killing) return;
        timedOut = true;
        killing = this.killExec(id, child, pidFile, done);
      };
      const timer = opts.timeoutMs !== undefined && opts.timeoutMs > 0 ? setTimeout(stop, opts.timeoutMs) : undefined;
      if (opts.signal?.aborted) stop();
      opts.signal?.addEventListener('abort', stop, { once: true });
      let result: ProcessResult;
      try {
        result = await done;
      } finally {
        if (timer) clearTimeout(timer);
        opts.signal?.removeEventListener('abort', stop);
      }
      if (killing) await killing;

      if (!timedOut && result.exitCode !== 0 && (await readPidFile(pidFile)) === undefined) {
        // No pid file: runc failed before the process started, so stderr is runc's own.
        const msg = runcMessage(result.stderr.buffer().toString('utf8'));
        throw new RuncError(classifyRuncMessage(msg), 'exec', msg, result.exitCode);
      }
      return {
        exitCode: result.exitCode,
        stdout: result.stdout.buffer(),
        stderr: result.stderr.buffer(),
        timedOut,
        truncated: result.stdout.truncated || result.stderr.truncated,
      };
    } finally {
      // The answer does not wait for this clean-up (a thread-pool round trip).
      void Promise.all([rm(pidFile, { force: true }), specFile ? rm(specFile, { force: true }) : undefined]).catch(() => undefined);
    }
  }

  /**
   * The exec'd process is a session leader of its own (runc calls setsid), so
   * killing runc would not reach it: wait briefly for its pid file, kill its
   * tree, then let runc reap it and exit; force runc only if it lingers.
   */
  private async killExec(id: string, child: Child, pidFile: string, done: Promise<unknown>): Promise<void> {
    let exited = false;
    void done.then(
      () => (exited = true),
      () => (exited = true),
    );
    const deadline = Date.now() + 2000;
    let pid = await readPidFile(pidFile);
    while (pid === undefined && !exited && Date.now() < deadline) {
      await sleep(10);
      pid = await readPidFile(pidFile);
    }
    // Only a process the container's cgroup holds: the exec may have ended and its pid been reused.
    if (pid !== undefined && (await this.ps(id).catch(() => [] as number[])).includes(pid)) {
      const killed = await killProcessTree(pid);
      this.log?.debug({ id, pid, killed }, 'exec timed out: killed its process tree');
    }
    if (!exited) {
      await Promise.race([done.catch(() => undefined), sleep(2000)]);
      if (!exited) child.kill('SIGKILL');
    }
  }

  /**
   * Starts a process in the container with its stdio as pipes for the caller
   * to stream (no tty), and returns at once. `done` resolves with its exit
   * code (runc exits with the process's code); `kill` ends its whole tree.
   */
  async execAttached(id: string, processSpec: object): Promise<AttachedExec> {
    const token = randomBytes(8).toString('hex');
    const pidFile = join(this.tmpDir, `skiff-exec-${token}.pid`);
    const specFile = join(this.tmpDir, `skiff-exec-${token}.json`);
    await writeFile(specFile, JSON.stringify(processSpec), { mode: 0o600 });
    const child = spawnChild(this.binary, [...this.globalArgs(), 'exec', '--process', specFile, '--pid-file', pidFile, id], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: runtimeChildEnv(),
    });
    const done = new Promise<number>((resolve, reject) => {
      child.once('error', reject);
      child.once('exit', (code: number | null, signal: NodeJS.Signals | null) => resolve(code ?? (signal ? 128 + 9 : 255)));
    }).finally(() => void Promise.all([rm(pidFile, { force: true }), rm(specFile, { force: true })]).catch(() => undefined));
    let killing: Promise<void> | undefined;
    return {
      child,
      done,
      kill: () =>
        (killing ??= this.killExec(
          id,
          child,
          pidFile,
          done.catch(() => undefined),
        )),
    };
  }

  private globalArgs(): string[] {
    return ['--root', this.root, '--log-format', 'json'];
  }

  /** Runs one runc command; stdout on success, RuncError with runc's message otherwise. */
  private async run(args: string[], input?: string): Promise<Buffer> {
    const command = args[0] ?? '';
    const result = await runProcess(this.binary, [...this.globalArgs(), ...args], {
      ...(input !== undefined ? { input } : {}),
      env: runtimeChildEnv(),
      maxStdout: DEFAULT_MAX_OUTPUT,
      maxStderr: STDERR_LIMIT,
      timeoutMs: this.commandTimeoutMs,
    });
    if (result.killedFor === 'timeout') {
      throw new SkiffError('DeadlineExceeded', `runc ${command} did not finish within ${this.commandTimeoutMs} ms`);
    }
    if (result.exitCode !== 0) {
      const msg = runcMessage(result.stderr.buffer().toString('utf8'));
      this.log?.debug({ args, exitCode: result.exitCode, msg }, 'runc failed');
      throw new RuncError(classifyRuncMessage(msg), command, msg, result.exitCode);
    }
    return result.stdout.buffer();
  }
}
