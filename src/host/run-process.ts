// The one way Skiff runs a program to completion: an argv array (never a
// shell), optional stdin, bounded stdout/stderr, a timeout and an AbortSignal
// that kill it (with its process group when it has one), and a result once it
// has exited and its pipes are drained. A process it left behind that still
// holds the pipes (a background job of an exec) gets a short grace, then the
// pipes are closed on our side.
import { constants as osConstants } from 'node:os';

import { SkiffError } from '../errors.js';
import { CappedSink } from './capped-sink.js';
import { type Child, spawnChild } from './spawn.js';

export type KillReason = 'timeout' | 'abort' | 'overflow';

export interface ProcessOptions {
  input?: Buffer | string;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** Kill after this long (none by default). */
  timeoutMs?: number;
  /** Kill when aborted; a signal aborted before the start means no start. */
  signal?: AbortSignal;
  /** Bytes kept per stream (default 16 MiB); the rest is read and dropped. */
  maxStdout?: number;
  maxStderr?: number;
  /** Kill instead of dropping once stdout passes maxStdout (output that large is a broken program). */
  killOnOverflow?: boolean;
  /** A session and process group of its own, killed as a whole. */
  processGroup?: boolean;
  /** How long to keep reading the pipes after the program exited (default 250 ms). */
  drainGraceMs?: number;
}

export interface ProcessResult {
  /** Exit code, or 128 + signal number when killed by a signal (shell convention). */
  exitCode: number;
  /** The raw exit code (null when a signal ended it). */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: CappedSink;
  stderr: CappedSink;
  /** Set when we killed it, and why. */
  killedFor: KillReason | undefined;
}

export interface StartedProcess {
  child: Child;
  /** Resolves once the program has exited; rejects only when it could not start. */
  done: Promise<ProcessResult>;
  /** Kills it (and its group) once; the result then carries the reason. */
  kill(reason: KillReason): void;
}

const DEFAULT_MAX_OUTPUT = 16 * 1024 * 1024;

export function startProcess(file: string, args: readonly string[], opts: ProcessOptions = {}): StartedProcess {
  if (opts.signal?.aborted) throw new SkiffError('Cancelled', `${file} not started: cancelled`);
  const child = spawnChild(file, args, {
    stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    env: opts.env ?? process.env,
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    ...(opts.processGroup ? { detached: true } : {}),
  });
  const maxStdout = opts.maxStdout ?? DEFAULT_MAX_OUTPUT;
  const stdout = new CappedSink(maxStdout);
  const stderr = new CappedSink(opts.maxStderr ?? DEFAULT_MAX_OUTPUT);
  let killedFor: KillReason | undefined;

  const kill = (reason: KillReason): void => {
    if (killedFor) return;
    killedFor = reason;
    if (opts.processGroup && child.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL'); // the group's id is the leader's pid
        return;
      } catch {
        // no group (already gone): the child itself below
      }
    }
    child.kill('SIGKILL');
  };
  const timer = opts.timeoutMs !== undefined && opts.timeoutMs > 0 ? setTimeout(() => kill('timeout'), opts.timeoutMs) : undefined;
  const onAbort = (): void => kill('abort');
  opts.signal?.addEventListener('abort', onAbort, { once: true });
  const release = (): void => {
    if (timer) clearTimeout(timer);
    opts.signal?.removeEventListener('abort', onAbort);
  };

  const done = new Promise<ProcessResult>((resolve, reject) => {
    let open = 2;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let graceTimer: NodeJS.Timeout | undefined;
    let settled = false;
    const finish = (): void => {
      if (settled || !exit || open > 0) return;
      settled = true;
      release();
      if (graceTimer) clearTimeout(graceTimer);
      const { code, signal } = exit;
      const exitCode = code ?? (signal ? 128 + (osConstants.signals[signal] ?? 0) : -1);
      resolve({ exitCode, code, signal, stdout, stderr, killedFor });
    };
    for (const [stream, sink] of [
      [child.stdout, stdout],
      [child.stderr, stderr],
    ] as const) {
      stream?.on('data', (chunk: Buffer) => {
        sink.push(chunk);
        if (sink === stdout && opts.killOnOverflow && stdout.total > maxStdout) kill('overflow');
      });
      stream?.on('error', () => {}); // a destroyed pipe; 'close' follows
      stream?.on('close', () => {
        open--;
        finish();
      });
    }
    child.on('error', (err: Error) => {
      // spawn failure (ENOENT, EACCES): no 'exit' will come
      if (exit || settled) return;
      settled = true;
      release();
      reject(new SkiffError('FailedPrecondition', `cannot run ${file}: ${err.message}`, { cause: err }));
    });
    child.on('exit', (code: number | null, signal: NodeJS.Signals | null) => {
      exit = { code, signal };
      if (open > 0) {
        // After a kill nothing more is worth reading.
        graceTimer = setTimeout(
          () => {
            child.stdout?.destroy();
            child.stderr?.destroy();
          },
          killedFor ? 0 : (opts.drainGraceMs ?? 250),
        );
      }
      finish();
    });
  });
  if (opts.input !== undefined) {
    child.stdin?.on('error', () => {}); // EPIPE when it exits without reading: the exit status says why
    child.stdin?.end(opts.input);
  }
  return { child, done, kill };
}

/** Runs a program to completion (see startProcess). */
export function runProcess(file: string, args: readonly string[], opts: ProcessOptions = {}): Promise<ProcessResult> {
  try {
    return startProcess(file, args, opts).done;
  } catch (err) {
    return Promise.reject(err);
  }
}
