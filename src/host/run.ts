// Text-in, text-out use of the one runner (run-process.ts) for host tools
// such as mount, unshare and nsenter.
import { SkiffError } from '../errors.js';
import { runProcess } from './run-process.js';

export interface RunResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  timeoutMs?: number;
  input?: string;
  env?: NodeJS.ProcessEnv;
}

/** Runs a host program with an argument array (never a shell) and collects its output. */
export async function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const res = await runProcess(cmd, args, {
    timeoutMs: opts.timeoutMs ?? 30000,
    ...(opts.input !== undefined ? { input: opts.input } : {}),
    ...(opts.env ? { env: opts.env } : {}),
    maxStdout: 4 << 20,
    maxStderr: 1 << 20,
  }).catch((err: unknown) => {
    throw new SkiffError('Internal', `${cmd}: ${(err as Error).message}`, { cause: err });
  });
  return { code: res.code, stdout: res.stdout.buffer().toString(), stderr: res.stderr.buffer().toString() };
}

/** Like run, but a non-zero exit is an error carrying the program's message. */
export async function runChecked(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<string> {
  const res = await run(cmd, args, opts);
  if (res.code !== 0) {
    const msg = (res.stderr || res.stdout).trim() || `exit code ${res.code}`;
    throw new SkiffError('Internal', `${cmd} ${args.slice(0, 3).join(' ')}: ${msg}`);
  }
  return res.stdout;
}
