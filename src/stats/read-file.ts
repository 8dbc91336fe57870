import { close, open, read } from 'node:fs';

const INITIAL_BUFFER = 4096;

/**
 * Reads a small pseudo-file (cgroupfs, procfs) as latin1 text.
 *
 * Hot path: this is several times faster than fs.promises.readFile for such
 * files (no fstat, no FileHandle, fewer thread-pool round trips: open + one
 * read, close not awaited). Kernel seq_files return everything that fits in
 * one read, so a short read is taken as end of file; a full buffer is grown
 * and read again.
 */
export function readSmallFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    open(path, 'r', (openErr, fd) => {
      if (openErr) {
        reject(openErr);
        return;
      }
      let buf = Buffer.allocUnsafe(INITIAL_BUFFER);
      let len = 0;
      const finish = (err: Error | null): void => {
        close(fd, () => {});
        if (err) reject(err);
        else resolve(buf.toString('latin1', 0, len));
      };
      const step = (): void => {
        read(fd, buf, len, buf.length - len, null, (readErr, n) => {
          if (readErr) {
            finish(readErr);
            return;
          }
          len += n;
          if (n === 0 || len < buf.length) {
            finish(null);
            return;
          }
          const bigger = Buffer.allocUnsafe(buf.length * 2);
          buf.copy(bigger, 0, 0, len);
          buf = bigger;
          step();
        });
      };
      step();
    });
  });
}

/**
 * True for errors meaning "this cgroup (or this file of it) is not there":
 * ENOENT once removed, ENODEV when read through a cgroup being removed,
 * ENOTDIR when a path component is not a directory.
 */
export function isGoneError(err: unknown): boolean {
  const code = (err as NodeJS.ErrnoException | null)?.code;
  return code === 'ENOENT' || code === 'ENODEV' || code === 'ENOTDIR';
}

/** Reads a file, or resolves undefined when it (or its cgroup) does not exist. */
export async function readIfPresent(path: string): Promise<string | undefined> {
  try {
    return await readSmallFile(path);
  } catch (err) {
    if (isGoneError(err)) return undefined;
    throw err;
  }
}
