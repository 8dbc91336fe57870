// Starting a created runc container without running `runc start`.
//
// runc 1.1 parks a created container's init in open(<root>/<id>/exec.fifo,
// O_WRONLY) until a reader appears; it then writes one byte and execs the
// container process (the fifo's write end is close-on-exec, so the reader sees
// EOF once the exec happened). `runc start` is a reader that does exactly this
// and then unlinks the fifo, which is how runc later tells "running" from
// "created". Doing it here saves a whole Go process start (tens of ms per container).
import { constants } from 'node:fs';
import { lstat, open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { SkiffError } from '../errors.js';
import { readCmdline, readProcStat } from './process-tree.js';

export const EXEC_FIFO = 'exec.fifo';

/** False when there is no fifo to release (the caller falls back to `runc start`). */
export async function hasExecFifo(runtimeRoot: string, id: string): Promise<boolean> {
  const st = await lstat(join(runtimeRoot, id, EXEC_FIFO)).catch(() => undefined);
  return st?.isFIFO() ?? false;
}

/**
 * Lets the created container's init exec its process and waits until it did.
 * `initPid` is watched so a dead init fails the start instead of hanging it.
 */
export async function releaseExecFifo(runtimeRoot: string, id: string, initPid: number, timeoutMs = 10_000): Promise<void> {
  const fifo = join(runtimeRoot, id, EXEC_FIFO);
  // The init's own arguments, while it is parked (it cannot exec before we open).
  const parked = (await readCmdline(initPid))?.join('\0');
  // Non-blocking: a blocking open would pin a libuv thread if the init were gone.
  const handle = await open(fifo, constants.O_RDONLY | constants.O_NONBLOCK);
  const buf = Buffer.alloc(16);
  let got = 0;
  const deadline = Date.now() + timeoutMs;
  let nextCheck = 0;
  try {
    for (;;) {
      let n: number | undefined;
      try {
        n = (await handle.read(buf, 0, buf.length, null)).bytesRead;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EAGAIN') throw err;
        n = undefined; // the writer is there, its byte is not yet
      }
      if (n !== undefined && n > 0) {
        got += n;
        continue;
      }
      // n === 0: no writer. Before the byte, the init has not opened its end
      // yet; after it, the init closed it by exec'ing: started.
      if (n === 0 && got > 0) break;
      const now = Date.now();
      if (now >= nextCheck) {
        nextCheck = now + 50;
        const stat = await readProcStat(initPid);
        if (!stat || stat.state === 'Z' || stat.state === 'X') {
          // It may have written, exec'd and exited since our last read: its byte is still queued.
          const last = await handle.read(buf, 0, buf.length, null).then(
            (r) => r.bytesRead,
            () => 0,
          );
          if (got + last > 0) break;
          throw new SkiffError('FailedPrecondition', `container ${id}: its process died before it could be started`);
        }
      }
      if (now >= deadline) throw new SkiffError('DeadlineExceeded', `container ${id} did not start within ${timeoutMs} ms`);
      await sleep(got > 0 ? 1 : 0);
    }
  } finally {
    await handle.close();
  }
  // As runc start does: without the fifo, runc reports the container running.
  await unlink(fifo);
  await waitExecDone(initPid, deadline, parked);
}

/**
 * The fifo closes inside execve, a moment before the new program's arguments
 * are in place: /proc cmdline reads empty in between, and rarely still the
 * init's own. Waiting for other arguments means whoever looks right after a
 * start sees the container's process.
 */
async function waitExecDone(pid: number, deadline: number, parked: string | undefined): Promise<void> {
  for (;;) {
    const argv = await readCmdline(pid);
    if (argv === undefined) return; // gone
    if (argv.length > 0 && argv.join('\0') !== parked) return; // exec'd
    const stat = await readProcStat(pid);
    if (!stat || stat.state === 'Z' || stat.state === 'X' || Date.now() >= deadline) return;
    await sleep(1);
  }
}
