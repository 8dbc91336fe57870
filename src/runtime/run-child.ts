// Spawns a program (argv array, never a shell), feeds optional stdin and
// collects bounded stdout/stderr. Resolves once the program has exited and its
// pipes are drained, or after a short grace when a process it left behind still
// holds them (a background job of an exec keeps stdout open indefinitely).
import { spawnChild, type Child } from '../host/spawn.js';
import { constants as osConstants } from 'node:os';
import { SkiffError } from '../errors.js';
import { CappedSink } from './capped-sink.js';

export interface ChildResult {
  /** Exit code, or 128 + signal number when killed by a signal (shell convention). */
  exitCode: number;
  signal: NodeJS.Signals | null;
  stdout: CappedSink;
  stderr: CappedSink;
}

export interface RunChildOptions {
  input?: Buffer | string;
  env: Record<string, string>;
  maxStdout: number;
  maxStderr: number;
  /** How long to keep reading the pipes after the program exited. */
  drainGraceMs?: number;
  cwd?: string;
}

export function runChild(file: string, args: string[], opts: RunChildOptions): { child: Child; done: Promise<ChildResult> } {
  const child = spawnChild(file, args, {
    stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    env: opts.env,
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
  });
  const stdout = new CappedSink(opts.maxStdout);
  const stderr = new CappedSink(opts.maxStderr);
  const done = new Promise<ChildResult>((resolve, reject) => {
    let open = 2;
    let exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
    let graceTimer: NodeJS.Timeout | undefined;
    const finish = (): void => {
      if (!exit || open > 0) return;
      if (graceTimer) clearTimeout(graceTimer);
      const { code, signal } = exit;
      const exitCode = code ?? (signal ? 128 + (osConstants.signals[signal] ?? 0) : -1);
      resolve({ exitCode, signal, stdout, stderr });
    };
    for (const [stream, sink] of [
      [child.stdout!, stdout],
      [child.stderr!, stderr],
    ] as const) {
      stream.on('data', (chunk: Buffer) => sink.push(chunk));
      stream.on('error', () => {}); // a destroyed pipe; 'close' follows
      stream.on('close', () => {
        open--;
        finish();
      });
    }
    child.on('error', (err: Error) => {
      // spawn failure (ENOENT, EACCES): no 'exit' will come
      if (!exit) reject(new SkiffError('FailedPrecondition', `cannot run ${file}: ${err.message}`, { cause: err }));
    });
    child.on('exit', (code: number | null, signal: NodeJS.Signals | null) => {
      exit = { code, signal };
      if (open > 0) {
        graceTimer = setTimeout(() => {
          child.stdout!.destroy();
          child.stderr!.destroy();
        }, opts.drainGraceMs ?? 250);
      }
      finish();
    });
  });
  if (opts.input !== undefined) {
    child.stdin!.on('error', () => {}); // EPIPE when it exits without reading: the exit status says why
    child.stdin!.end(opts.input);
  }
  return { child, done };
}
