import { spawnChild } from './spawn.js';
import { SkiffError } from '../errors.js';

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
export function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawnChild(cmd, args, { stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30000);
    child.once('error', (err: Error) => {
      clearTimeout(timer);
      reject(new SkiffError('Internal', `${cmd}: ${err.message}`));
    });
    child.once('close', (code: number | null) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    if (opts.input !== undefined) child.stdin!.end(opts.input);
  });
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
