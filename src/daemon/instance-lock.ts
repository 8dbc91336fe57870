import { createHash } from 'node:crypto';
import { promises as fs, realpathSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

import { errnoCode } from '../errors.js';

/**
 * One daemon per directory. The lock is an abstract unix socket named after the
 * directory's real path: the kernel makes the bind exclusive and releases it when
 * the process dies, so a crash never leaves a stale lock. A pid file beside it
 * only serves the error message.
 */
export class InstanceLock {
  private constructor(
    private readonly server: net.Server,
    private readonly pidFile: string,
  ) {}

  static async acquire(dir: string, what: string): Promise<InstanceLock> {
    await fs.mkdir(dir, { recursive: true, mode: 0o711 });
    const real = realpathSync(dir);
    const name = '\0skiff-lock-' + createHash('sha256').update(real).digest('hex').slice(0, 32);
    const pidFile = path.join(real, 'skiff.pid');
    const server = net.createServer();
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(name, () => resolve());
      });
    } catch (err) {
      if (errnoCode(err) !== 'EADDRINUSE') throw err;
      const pid = (await fs.readFile(pidFile, 'utf8').catch(() => '')).trim();
      throw new Error(`another skiff daemon${pid ? ` (pid ${pid})` : ''} is already using ${what} ${real}`);
    }
    server.unref();
    await fs.writeFile(pidFile, `${process.pid}\n`);
    return new InstanceLock(server, pidFile);
  }

  async release(): Promise<void> {
    await fs.rm(this.pidFile, { force: true });
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
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
