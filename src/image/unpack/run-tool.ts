// Runs a helper program for what Node cannot do itself (mknod, setxattr).
// Always an argv array, never a shell; stderr is kept for the error message.
import { spawn } from 'node:child_process';

export async function runTool(
  file: string,
  args: string[],
  opts: { cwd?: string; input?: string | Buffer; signal?: AbortSignal } = {},
): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const child = spawn(file, args, {
      cwd: opts.cwd,
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'],
      signal: opts.signal,
    });
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => {
      if (stderr.length < 4096) stderr += s;
    });
    child.on('error', reject); // not found, or killed by the abort signal
    child.on('close', (code, sig) => {
      if (code === 0) resolve();
      else reject(new Error(`${file} ${sig ? `killed by ${sig}` : `exited with ${code}`}: ${stderr.trim()}`));
    });
    if (opts.input !== undefined) {
      child.stdin!.on('error', () => {}); // EPIPE if it dies early: 'close' reports why
      child.stdin!.end(opts.input);
    }
  });
}
