// Runs a helper program for what Node cannot do itself (mknod, setxattr),
// through the host runner; stderr is kept for the error message.
import { runProcess } from '../../host/run-process.js';

export async function runTool(
  file: string,
  args: string[],
  opts: { cwd?: string; input?: string | Buffer; signal?: AbortSignal } = {},
): Promise<void> {
  const abortError = (): Error => (opts.signal?.reason instanceof Error ? opts.signal.reason : new Error(`${file}: aborted`));
  if (opts.signal?.aborted) throw abortError();
  const res = await runProcess(file, args, {
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    ...(opts.input !== undefined ? { input: opts.input } : {}),
    ...(opts.signal ? { signal: opts.signal } : {}),
    maxStdout: 4096,
    maxStderr: 4096,
  });
  if (res.killedFor === 'abort') throw abortError();
  if (res.code !== 0) {
    const how = res.signal ? `killed by ${res.signal}` : `exited with ${res.code}`;
    throw new Error(`${file} ${how}: ${res.stderr.buffer().toString('utf8').trim()}`);
  }
}
