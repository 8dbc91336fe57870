import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import * as grpc from '@grpc/grpc-js';

import type { ImageServiceClient } from '../../src/generated/runtime/v1/ImageService.js';
import type { RuntimeServiceClient } from '../../src/generated/runtime/v1/RuntimeService.js';
import { loadCriProto } from '../../src/server/proto.js';
import { REPO_ROOT } from '../../src/version.js';
import { unaryCall } from './unary-call.js';

export const MAIN_JS = path.join(REPO_ROOT, 'dist', 'src', 'main.js');

export interface DaemonOptions {
  /** Extra TOML appended to the generated config file (tables). */
  extraToml?: string;
  /** Extra top-level keys, placed before the first table. */
  topToml?: string;
  /** Reuse this directory (for restart tests) instead of a new temp dir. */
  dir?: string;
  /** Extra command-line arguments. */
  args?: string[];
}

export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A skiff daemon started from the built tree in a temp directory, driven over its real socket. */
export class TestDaemon {
  readonly runtime: RuntimeServiceClient;
  readonly image: ImageServiceClient;
  private readonly exited: Promise<ExitInfo>;

  private constructor(
    readonly dir: string,
    readonly socket: string,
    readonly configFile: string,
    readonly child: ChildProcess,
    readonly output: { text: string },
  ) {
    const v1 = loadCriProto().runtime.v1;
    const creds = grpc.credentials.createInsecure();
    this.runtime = new v1.RuntimeService(`unix://${socket}`, creds);
    this.image = new v1.ImageService(`unix://${socket}`, creds);
    this.exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  }

  get root(): string {
    return path.join(this.dir, 'root');
  }
  get stateDir(): string {
    return path.join(this.dir, 'state');
  }
  get registryConfigDir(): string {
    return path.join(this.dir, 'registry.d');
  }
  get cniConfDir(): string {
    return path.join(this.dir, 'cni', 'net.d');
  }

  static async start(options: DaemonOptions = {}): Promise<TestDaemon> {
    const dir = options.dir ?? (await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-test-')));
    // Traversable (as /run is), so that user-namespaced pods' roots reach their bundles.
    await fs.chmod(dir, 0o711);
    const socket = path.join(dir, 'skiff.sock');
    const configFile = path.join(dir, 'config.toml');
    const toml = [
      `root = "${path.join(dir, 'root')}"`,
      `state_dir = "${path.join(dir, 'state')}"`,
      `listen = "${socket}"`,
      `log_level = "debug"`,
      options.topToml ?? '',
      `[cni]`,
      `conf_dir = "${path.join(dir, 'cni', 'net.d')}"`,
      `[registry]`,
      `config_dir = "${path.join(dir, 'registry.d')}"`,
      options.extraToml ?? '',
    ].join('\n');
    await fs.writeFile(configFile, toml);
    await fs.mkdir(path.join(dir, 'cni', 'net.d'), { recursive: true });
    const output = { text: '' };
    // SKIFF_TEST_NODE_ARGS: Node flags for the daemon only (benchmarks profile it with --cpu-prof).
    const nodeArgs = (process.env['SKIFF_TEST_NODE_ARGS'] ?? '').split(' ').filter(Boolean);
    const child = spawn(process.execPath, [...nodeArgs, MAIN_JS, 'daemon', '--config', configFile, ...(options.args ?? [])], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (d: Buffer) => (output.text += d.toString()));
    child.stderr.on('data', (d: Buffer) => (output.text += d.toString()));
    const daemon = new TestDaemon(dir, socket, configFile, child, output);
    await daemon.waitReady();
    return daemon;
  }

  /** Waits until the socket answers Version, or fails with the daemon's output. */
  private async waitReady(timeoutMs = 15000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.exited.then(() => (exited = true));
    while (Date.now() < deadline) {
      if (exited) throw new Error(`daemon exited during start:\n${this.output.text}`);
      try {
        await this.call(this.runtime, 'Version', {}, 1000);
        return;
      } catch {
        await new Promise((r) => setTimeout(r, 50));
      }
    }
    throw new Error(`daemon not ready after ${timeoutMs} ms:\n${this.output.text}`);
  }

  /** Calls a unary RPC and resolves with its response (rejects with the ServiceError). */
  call<Res>(client: grpc.Client, method: string, request: object, timeoutMs = 30000): Promise<Res> {
    return unaryCall<Res>(client, method, request, timeoutMs);
  }

  rt<Res = Record<string, unknown>>(method: string, request: object = {}, timeoutMs?: number): Promise<Res> {
    return this.call<Res>(this.runtime, method, request, timeoutMs);
  }

  img<Res = Record<string, unknown>>(method: string, request: object = {}, timeoutMs?: number): Promise<Res> {
    return this.call<Res>(this.image, method, request, timeoutMs);
  }

  /** Waits until Status reports NetworkReady (the CNI config dir is watched). */
  async waitNetworkReady(timeoutMs = 10000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const s = await this.rt<{ status: { conditions: { type: string; status: boolean }[] } }>('Status');
      if (s.status.conditions.find((c) => c.type === 'NetworkReady')?.status) return;
      if (Date.now() > deadline) throw new Error('network not ready');
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Sends a signal and waits for the exit. */
  async stop(signal: NodeJS.Signals = 'SIGTERM', timeoutMs = 10000): Promise<ExitInfo> {
    (this.runtime as unknown as grpc.Client).close();
    (this.image as unknown as grpc.Client).close();
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill(signal);
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    try {
      return await this.exited;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Stops the daemon (if running), unmounts what is left under its directory and removes it. Safe to call twice. */
  async destroy(): Promise<void> {
    // Pods first, through the daemon, so their netns, veths, leases and cgroups go too.
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const pods = await this.rt<{ items: { id: string }[] }>('ListPodSandbox').catch(() => ({ items: [] }));
      for (const p of pods.items) await this.rt('RemovePodSandbox', { podSandboxId: p.id }).catch(() => undefined);
    }
    await this.stop('SIGTERM').catch(() => undefined);
    unmountUnder(this.dir);
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}

/** Unmounts every mount at or below dir, deepest first (pins, shm, rootfs left by a daemon). */
export function unmountUnder(dir: string): void {
  for (let round = 0; round < 5; round++) {
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8')
      .split('\n')
      .map((l) => l.split(' ')[4])
      .filter((m): m is string => m !== undefined && (m === dir || m.startsWith(dir + '/')))
      .sort((a, b) => b.length - a.length);
    if (mounts.length === 0) return;
    for (const m of mounts) if (spawnSync('umount', [m]).status !== 0) spawnSync('umount', ['-l', m]);
  }
}

/** Runs the CLI to completion and returns its exit code and output. */
export function runCli(args: string[], timeoutMs = 15000): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN_JS, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`skiff ${args.join(' ')} did not finish in ${timeoutMs} ms:\n${stdout}${stderr}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}
