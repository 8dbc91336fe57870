import { spawn } from 'node:child_process';
import { constants, promises as fs, realpathSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

/**
 * One daemon per directory: an exclusive flock(2) on `<dir>/skiff.lock`, a
 * 0600 file only root can open, so no other user can take or hold the lock.
 * Node has no flock, so util-linux's `flock` takes it on the daemon's own
 * descriptor, passed as fd 3: the lock belongs to the open file description,
 * which the daemon keeps open, so it outlives that helper and goes when the
 * daemon dies (its descriptors are close-on-exec: no child inherits it). The
 * pid written into the file only serves the error message.
 */
export class InstanceLock {
  private constructor(private readonly handle: fs.FileHandle) {}

  static async acquire(dir: string, what: string): Promise<InstanceLock> {
    await fs.mkdir(dir, { recursive: true, mode: 0o711 });
    const real = realpathSync(dir);
    const file = path.join(real, 'skiff.lock');
    const handle = await fs.open(file, constants.O_RDWR | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
    try {
      const st = await handle.stat();
      if (!st.isFile() || st.uid !== process.getuid?.()) throw new Error(`lock file ${file} is not a regular file of this user`);
      await handle.chmod(0o600);
      const res = await flockFd(handle.fd);
      if (res === 'busy') {
        const pid = (await handle.readFile('utf8').catch(() => '')).trim();
        throw new Error(`another skiff daemon${pid ? ` (pid ${pid})` : ''} is already using ${what} ${real}`);
      }
      await handle.truncate(0);
      await handle.write(`${process.pid}\n`, 0);
      return new InstanceLock(handle);
    } catch (err) {
      await handle.close();
      throw err;
    }
  }

  async release(): Promise<void> {
    await this.handle.truncate(0).catch(() => undefined);
    // Closing the last descriptor of the description drops the lock.
    await this.handle.close();
  }
}

/**
 * Takes an exclusive, non-blocking flock on `fd` through util-linux flock(1).
 * Node's own spawn, once at start-up: host/spawn.ts's helper cannot pass a descriptor.
 */
function flockFd(fd: number): Promise<'locked' | 'busy'> {
  return new Promise((resolve, reject) => {
    const child = spawn('flock', ['--exclusive', '--nonblock', '3'], { stdio: ['ignore', 'ignore', 'pipe', fd] });
    let stderr = '';
    child.stderr?.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.once('error', (err) => reject(new Error(`flock: ${err.message} (util-linux flock is needed)`)));
    child.once('exit', (code) => {
      if (code === 0) resolve('locked');
      else if (code === 1) resolve('busy');
      else reject(new Error(`flock exited with ${code}: ${stderr.trim()}`));
    });
  });
}

/**
 * Makes the socket path ready to bind: refuses when a live server answers on it,
 * removes a stale socket left by a crash.
 */
export async function claimSocketPath(socketPath: string): Promise<void> {
  await fs.mkdir(path.dirname(socketPath), { recursive: true, mode: 0o711 });
  const live = await new Promise<boolean>((resolve) => {
    const conn = net.connect(socketPath);
    conn.once('connect', () => {
      conn.destroy();
      resolve(true);
    });
    conn.once('error', () => resolve(false));
  });
  if (live) throw new Error(`socket ${socketPath} is already served by another process`);
  await fs.rm(socketPath, { force: true });
}
