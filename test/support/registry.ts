import { type ChildProcess, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

import bcrypt from 'bcryptjs';

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const port = (srv.address() as net.AddressInfo).port;
      srv.close(() => resolve(port));
    });
  });
}

/** Debian's docker-registry on 127.0.0.1 with temporary storage; optional htpasswd auth. */
export class TestRegistry {
  private constructor(
    readonly dir: string,
    readonly port: number,
    private readonly child: ChildProcess,
    readonly auth: { username: string; password: string } | undefined,
    readonly output: { text: string },
  ) {}

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  get url(): string {
    return `http://${this.host}`;
  }

  static async start(options: { auth?: { username: string; password: string } } = {}): Promise<TestRegistry> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-registry-'));
    const port = await freePort();
    const lines = [
      'version: 0.1',
      'log:',
      '  level: warn',
      '  accesslog:',
      '    disabled: true',
      'storage:',
      '  filesystem:',
      `    rootdirectory: ${path.join(dir, 'data')}`,
      '  delete:',
      '    enabled: true',
      'http:',
      `  addr: 127.0.0.1:${port}`,
    ];
    if (options.auth) {
      const hash = bcrypt.hashSync(options.auth.password, 5);
      await fs.writeFile(path.join(dir, 'htpasswd'), `${options.auth.username}:${hash}\n`);
      lines.push('auth:', '  htpasswd:', '    realm: skiff-test', `    path: ${path.join(dir, 'htpasswd')}`);
    }
    await fs.writeFile(path.join(dir, 'config.yml'), lines.join('\n') + '\n');
    const output = { text: '' };
    const child = spawn('/usr/bin/docker-registry', ['serve', path.join(dir, 'config.yml')], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout.on('data', (d: Buffer) => (output.text += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output.text += d.toString()));
    const registry = new TestRegistry(dir, port, child, options.auth, output);
    const deadline = Date.now() + 10000;
    for (;;) {
      try {
        const res = await fetch(`${registry.url}/v2/`);
        if (res.status === 200 || res.status === 401) break;
      } catch {
        /* not listening yet */
      }
      if (child.exitCode !== null || Date.now() > deadline) {
        await registry.stop();
        throw new Error(`docker-registry did not start:\n${output.text}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
    return registry;
  }

  authHeader(): Record<string, string> {
    return this.auth ? { authorization: 'Basic ' + Buffer.from(`${this.auth.username}:${this.auth.password}`).toString('base64') } : {};
  }

  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 5000);
      await exited;
      clearTimeout(timer);
    }
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}
