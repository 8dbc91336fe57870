// Runs a helper program for what Node cannot do itself (mknod, setxattr).
// Always an argv array, never a shell; stderr is kept for the error message.
import { spawnChild } from '../../host/spawn.js';

export async function runTool(
  file: string,
  args: string[],
  opts: { cwd?: string; input?: string | Buffer; signal?: AbortSignal } = {},
): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    if (opts.signal?.aborted) {
      reject(opts.signal.reason instanceof Error ? opts.signal.reason : new Error(`${file}: aborted`));
      return;
    }
    const child = spawnChild(file, args, {
      ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
      stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'ignore', 'pipe'],
    });
    let aborted = false;
    const onAbort = (): void => {
      aborted = true;
      child.kill('SIGKILL');
    };
    opts.signal?.addEventListener('abort', onAbort, { once: true });
    let stderr = '';
    child.stderr!.setEncoding('utf8');
    child.stderr!.on('data', (s: string) => {
      if (stderr.length < 4096) stderr += s;
    });
    child.on('error', (err: Error) => {
      opts.signal?.removeEventListener('abort', onAbort);
      reject(err); // not found
    });
    child.on('close', (code: number | null, sig: NodeJS.Signals | null) => {
      opts.signal?.removeEventListener('abort', onAbort);
      if (aborted) reject(opts.signal?.reason instanceof Error ? opts.signal.reason : new Error(`${file}: aborted`));
      else if (code === 0) resolve();
      else reject(new Error(`${file} ${sig ? `killed by ${sig}` : `exited with ${code}`}: ${stderr.trim()}`));
    });
    if (opts.input !== undefined) {
      child.stdin!.on('error', () => {}); // EPIPE if it dies early: 'close' reports why
      child.stdin!.end(opts.input);
    }
  });
}
