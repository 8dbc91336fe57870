// Debian's containerd (with its CRI plugin) in a temporary directory: the peer
// every benchmark measures against in the same run.
import { type ChildProcess, spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import * as grpc from '@grpc/grpc-js';

import { loadCriProto } from '../../src/server/proto.js';
import { unaryCall } from '../../test/support/unary-call.js';

export class Containerd {
  readonly runtime: grpc.Client;
  readonly image: grpc.Client;

  private constructor(
    readonly dir: string,
    readonly socket: string,
    private readonly child: ChildProcess,
    readonly output: { text: string },
  ) {
    const v1 = loadCriProto().runtime.v1;
    this.runtime = new v1.RuntimeService(`unix://${socket}`, grpc.credentials.createInsecure());
    this.image = new v1.ImageService(`unix://${socket}`, grpc.credentials.createInsecure());
  }

  /** Starts containerd; `registryHosts` get plain-HTTP hosts.toml entries. */
  static async start(
    options: { registryHosts?: string[]; mirrors?: Record<string, string>; cniConfDir?: string; pauseImage?: string } = {},
  ): Promise<Containerd> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-bench-containerd-'));
    const socket = path.join(dir, 'containerd.sock');
    const certs = path.join(dir, 'certs.d');
    for (const host of options.registryHosts ?? []) {
      await fs.mkdir(path.join(certs, host), { recursive: true });
      await fs.writeFile(
        path.join(certs, host, 'hosts.toml'),
        `server = "http://${host}"\n[host."http://${host}"]\n  capabilities = ["pull", "resolve"]\n`,
      );
    }
    for (const [upstream, local] of Object.entries(options.mirrors ?? {})) {
      await fs.mkdir(path.join(certs, upstream), { recursive: true });
      await fs.writeFile(
        path.join(certs, upstream, 'hosts.toml'),
        `server = "https://${upstream}"\n[host."http://${local}"]\n  capabilities = ["pull", "resolve"]\n`,
      );
    }
    const cri = 'plugins."io.containerd.grpc.v1.cri"';
    const config = [
      'version = 2',
      `root = "${dir}/root"`,
      `state = "${dir}/state"`,
      'disabled_plugins = ["io.containerd.snapshotter.v1.aufs", "io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper"]',
      '[grpc]',
      `  address = "${socket}"`,
      '[ttrpc]',
      `  address = "${socket}.ttrpc"`,
      `[plugins."io.containerd.internal.v1.opt"]`,
      `  path = "${dir}/opt"`,
      `[${cri}]`,
      '  disable_tcp_service = true',
      // No CAP_SYS_RESOURCE here: without this, the sandbox's -998 oom_score_adj makes runc fail.
      '  restrict_oom_score_adj = true',
      '  stream_server_address = "127.0.0.1"',
      '  stream_server_port = "0"',
      `  sandbox_image = "${options.pauseImage ?? 'registry.k8s.io/pause:3.10'}"`,
      `[${cri}.cni]`,
      '  bin_dir = "/usr/lib/cni"',
      `  conf_dir = "${options.cniConfDir ?? path.join(dir, 'net.d')}"`,
      `[${cri}.registry]`,
      `  config_path = "${certs}"`,
    ].join('\n');
    await fs.writeFile(path.join(dir, 'config.toml'), config + '\n');
    const output = { text: '' };
    const child = spawn('/usr/bin/containerd', ['--config', path.join(dir, 'config.toml'), '--log-level', 'warn'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (d: Buffer) => (output.text += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output.text += d.toString()));
    const c = new Containerd(dir, socket, child, output);
    const deadline = Date.now() + 20000;
    for (;;) {
      try {
        await c.call(c.runtime, 'Version', {}, 1000);
        return c;
      } catch {
        if (child.exitCode !== null || Date.now() > deadline) {
          await c.stop();
          throw new Error(`containerd did not start:\n${output.text}`);
        }
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  call<Res>(client: grpc.Client, method: string, request: object, timeoutMs = 600000): Promise<Res> {
    return unaryCall<Res>(client, method, request, timeoutMs);
  }

  async stop(): Promise<void> {
    this.runtime.close();
    this.image.close();
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((r) => this.child.once('exit', r));
      this.child.kill('SIGTERM');
      const timer = setTimeout(() => this.child.kill('SIGKILL'), 10000);
      await exited;
      clearTimeout(timer);
    }
    // containerd leaves its snapshot mounts only while containers run; none do here.
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}
