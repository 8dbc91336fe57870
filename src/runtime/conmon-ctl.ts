// Commands to a running conmon through its control fifo, <bundle>/ctl.
// conmon 2.1.6 reads the fifo and, when several lines arrive in one read,
// applies the first line once per line: so one command per write, and writes
// to the same fifo spaced at least MIN_GAP_MS apart (serialized per fifo).
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

import { errnoCode, SkiffError } from '../errors.js';

const MIN_GAP_MS = 20;

interface FifoQueue {
  tail: Promise<void>;
  lastWrite: number;
}
const queues = new Map<string, FifoQueue>();

/** Resizes the container's tty (conmon -t); width and height in character cells. */
export async function resizeTerminal(bundleDir: string, width: number, height: number): Promise<void> {
  for (const [what, v] of [
    ['width', width],
    ['height', height],
  ] as const) {
    if (!Number.isInteger(v) || v < 0 || v > 0xffff) throw new SkiffError('InvalidArgument', `terminal ${what} ${v} out of range`);
  }
  await ctlCommand(bundleDir, `1 ${height} ${width}\n`);
}

/** Asks conmon to close and reopen the container log: it recreates the file at its path (for rotation). */
export async function reopenLog(bundleDir: string): Promise<void> {
  await ctlCommand(bundleDir, '2 0 0\n');
}

function ctlCommand(bundleDir: string, line: string): Promise<void> {
  const fifo = join(bundleDir, 'ctl');
  let q = queues.get(fifo);
  if (!q) {
    q = { tail: Promise.resolve(), lastWrite: 0 };
    queues.set(fifo, q);
  }
  const queue = q;
  const run = queue.tail.then(async () => {
    const wait = queue.lastWrite + MIN_GAP_MS - Date.now();
    if (wait > 0) await sleep(wait);
    try {
      await writeOnce(fifo, line);
    } finally {
      queue.lastWrite = Date.now();
    }
  });
  const tail = run.catch(() => undefined);
  queue.tail = tail;
  // Forget an idle fifo once the gap has passed, so the map does not grow with every container.
  void tail.then(() => {
    setTimeout(() => {
      if (queues.get(fifo) === queue && queue.tail === tail) queues.delete(fifo);
    }, MIN_GAP_MS).unref();
  });
  return run;
}

async function writeOnce(fifo: string, line: string): Promise<void> {
  let handle;
  try {
    // Non-blocking: with no reader (conmon gone) open fails with ENXIO instead of hanging.
    handle = await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENXIO') throw new SkiffError('FailedPrecondition', `conmon is not running (no reader on ${fifo})`, { cause: err });
    if (code === 'ENOENT') throw new SkiffError('NotFound', `no conmon control fifo at ${fifo}`, { cause: err });
    throw err;
  }
  try {
    await handle.write(line);
  } catch (err) {
    if (errnoCode(err) === 'EAGAIN') throw new SkiffError('Unavailable', `conmon control fifo ${fifo} is full`, { cause: err });
    throw err;
  } finally {
    await handle.close();
  }
}
