// A kubelet-like client, run as a process of its own against one runtime's
// CRI socket: it starts the pods of a profile, then for the measured window
// probes, relists, syncs pods, restarts crashed containers with kubelet's
// back-off, rotates logs and asks for stats, as kubelet does, recording every
// call. Prints one JSON object (DriverResult) on stdout.
//
// Usage: node kubelet-driver.js <socket> <profile> <pods> <seconds> <image> <log dir>
//   profile "stress": every pod has an app container and a crasher that exits
//     every 3 s, restarted after 1 s; an ExecSync probe per pod every second;
//     log rotation and ReopenContainerLog every 10 s.
//   profile "steady": one app container per pod, probes every 10 s, one pod
//     in ten crash-looping with kubelet's back-off (10 s doubling to 5 min).
//   Both relist (ListPodSandbox + ListContainers) every second, sync each pod
//   whose containers changed (PodSandboxStatus, ListContainers for the pod,
//   ContainerStatus of each) and every pod every 10 s (spread over the 10 s),
//   and call ListContainerStats and ListPodSandboxStats every 10 s.
import { promises as fs } from 'node:fs';
import path from 'node:path';

import * as grpc from '@grpc/grpc-js';

import { loadCriProto } from '../../src/server/proto.js';
import { unaryCall } from '../../test/support/unary-call.js';

export type Profile = 'stress' | 'steady';

export interface DriverResult {
  /** Durations in ms per RPC name (measured window only). */
  rpc: Record<string, number[]>;
  /** Failed calls per RPC name. */
  errors: Record<string, number>;
  probes: { total: number; missed: number };
  /** One relist: ListPodSandbox then ListContainers, in ms. */
  relist: number[];
  restarts: { due: number; done: number; exitToSeen: number[]; seenToRunning: number[] };
  /**
   * Busy CPU of the whole machine during the window, minus this driver's own,
   * per second of wall time: the runtime's processes, their children and the
   * kernel work they cause (the window starts once the machine is quiet).
   */
  runtimeCpuPerSecond: number;
  /** How long the driver waited for the machine to be quiet before the window. */
  settledMs: number;
  seconds: number;
}

const KUBELET_LIKE = { 'grpc-node.flow_control_window': 16 << 20, 'grpc.max_receive_message_length': 16 << 20 };

interface Pod {
  id: string;
  config: object;
  app: string;
  crasher?: { id: string; attempt: number; backoffMs: number; seenAt?: number; exitAt?: number; restarting: boolean };
  dirty: boolean;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Busy and total jiffies of the machine (/proc/stat's first line). */
async function machineCpu(): Promise<{ busy: number; total: number }> {
  const line = (await fs.readFile('/proc/stat', 'utf8')).split('\n')[0]!;
  const v = line.trim().split(/\s+/).slice(1).map(Number);
  const idle = (v[3] ?? 0) + (v[4] ?? 0);
  const total = v.reduce((a, b) => a + b, 0);
  return { busy: total - idle, total };
}

/**
 * Waits until the machine is quiet (under 15 % busy over two half-second
 * samples in a row, at most 90 s): the kernel keeps tearing down the previous
 * run's namespaces and mounts for a while, and that must not count as this
 * runtime's CPU. Returns how long it waited.
 */
async function settle(): Promise<number> {
  const start = performance.now();
  let quiet = 0;
  let prev = await machineCpu();
  while (quiet < 2 && performance.now() - start < 90_000) {
    await sleep(500);
    const now = await machineCpu();
    quiet = (now.busy - prev.busy) / Math.max(1, now.total - prev.total) < 0.15 ? quiet + 1 : 0;
    prev = now;
  }
  return performance.now() - start;
}

export async function drive(
  socket: string,
  profile: Profile,
  pods: number,
  seconds: number,
  image: string,
  logDir: string,
): Promise<DriverResult> {
  const client = new (loadCriProto().runtime.v1.RuntimeService)(`unix://${socket}`, grpc.credentials.createInsecure(), KUBELET_LIKE);
  const rpc: Record<string, number[]> = {};
  const errors: Record<string, number> = {};
  let measuring = false;
  const call = async <T>(method: string, req: object, timeoutMs = 120_000): Promise<T> => {
    const start = performance.now();
    try {
      return await unaryCall<T>(client, method, req, timeoutMs);
    } catch (err) {
      if (measuring) errors[method] = (errors[method] ?? 0) + 1;
      throw err;
    } finally {
      if (measuring) (rpc[method] ??= []).push(performance.now() - start);
    }
  };
  const probeMs = profile === 'stress' ? 1000 : 10_000;
  const crashing = (i: number): boolean => (profile === 'stress' ? true : i % 10 === 0);
  const containerConfig = (name: string, attempt: number, command: string[]) => ({
    metadata: { name, attempt },
    image: { image },
    command,
    logPath: `${name}_${attempt}.log`,
    linux: { securityContext: { namespaceOptions: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
  });
  const crasherCmd = ['sh', '-c', 'sleep 3; exit 1'];
  const create = async (pod: Pod, name: string, attempt: number, command: string[]): Promise<string> => {
    const { containerId } = await call<{ containerId: string }>('CreateContainer', {
      podSandboxId: pod.id,
      config: containerConfig(name, attempt, command),
      sandboxConfig: pod.config,
    });
    await call('StartContainer', { containerId });
    return containerId;
  };

  // Set-up, ten pods at a time as kubelet's pod workers would; not measured.
  const all: Pod[] = [];
  for (let i = 0; i < pods; i += 10) {
    await Promise.all(
      Array.from({ length: Math.min(10, pods - i) }, async (_, k) => {
        const n = i + k;
        const config = {
          metadata: { name: `load-${n}`, uid: `load-${process.pid}-${n}`, namespace: 'bench', attempt: 0 },
          hostname: `load-${n}`,
          logDirectory: path.join(logDir, `load-${n}`),
          linux: { securityContext: { namespaceOptions: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
        };
        const { podSandboxId } = await call<{ podSandboxId: string }>('RunPodSandbox', { config });
        const pod: Pod = { id: podSandboxId, config, app: '', dirty: false };
        pod.app = await create(pod, 'app', 0, ['sleep', '100000']);
        if (crashing(n)) pod.crasher = { id: await create(pod, 'crasher', 0, crasherCmd), attempt: 0, backoffMs: 0, restarting: false };
        all.push(pod);
      }),
    );
  }

  const settledMs = await settle();
  const probes = { total: 0, missed: 0 };
  const relist: number[] = [];
  const restarts = { due: 0, done: 0, exitToSeen: [] as number[], seenToRunning: [] as number[] };
  const cpu0 = await machineCpu();
  const self0 = process.cpuUsage();
  const t0 = performance.now();
  const end = t0 + seconds * 1000;
  measuring = true;
  const loops: Promise<void>[] = [];
  const every = (ms: number, offset: number, fn: () => Promise<void>): void => {
    loops.push(
      (async () => {
        await sleep(offset);
        while (performance.now() < end) {
          const started = performance.now();
          await fn().catch(() => undefined);
          await sleep(Math.max(0, ms - (performance.now() - started)));
        }
      })(),
    );
  };

  // Liveness probes, spread over the period as kubelet's per-pod workers are.
  for (const [i, pod] of all.entries()) {
    every(probeMs, (i * probeMs) / all.length, async () => {
      probes.total++;
      const start = performance.now();
      try {
        await call('ExecSync', { containerId: pod.app, cmd: ['true'], timeout: '1' }, 2000);
        if (performance.now() - start > 1000) probes.missed++;
      } catch {
        probes.missed++;
      }
    });
  }

  const backoff = (c: NonNullable<Pod['crasher']>): number =>
    profile === 'stress' ? 1000 : Math.min(300_000, c.backoffMs === 0 ? 10_000 : c.backoffMs * 2);
  const restart = async (pod: Pod): Promise<void> => {
    const c = pod.crasher!;
    c.restarting = true;
    c.backoffMs = backoff(c);
    const dueAt = (c.seenAt ?? performance.now()) + c.backoffMs;
    if (dueAt <= end) restarts.due++;
    await sleep(Math.max(0, dueAt - performance.now()));
    if (performance.now() >= end) return;
    const old = c.id;
    c.attempt++;
    c.id = await create(pod, 'crasher', c.attempt, crasherCmd);
    restarts.done++;
    restarts.seenToRunning.push(performance.now() - (c.seenAt ?? performance.now()));
    c.restarting = false;
    c.seenAt = undefined;
    // kubelet keeps the last exited container for its logs; older ones go.
    await call('RemoveContainer', { containerId: old }).catch(() => undefined);
  };

  every(1000, 0, async () => {
    const start = performance.now();
    await call('ListPodSandbox', {});
    const { containers } = await call<{ containers: { id: string; state: string }[] }>('ListContainers', {});
    relist.push(performance.now() - start);
    const exited = new Set(containers.filter((c) => c.state === 'CONTAINER_EXITED').map((c) => c.id));
    for (const pod of all) {
      const c = pod.crasher;
      if (!c || c.restarting || !exited.has(c.id)) continue;
      c.seenAt = performance.now();
      pod.dirty = true;
      const st = await call<{ status: { finishedAt: string } }>('ContainerStatus', { containerId: c.id }).catch(() => undefined);
      const finishedMs = st ? Number(BigInt(st.status.finishedAt) / 1_000_000n) : 0;
      if (finishedMs > 0) restarts.exitToSeen.push(Date.now() - finishedMs);
      void restart(pod).catch(() => undefined);
    }
  });

  const syncPod = async (pod: Pod): Promise<void> => {
    await call('PodSandboxStatus', { podSandboxId: pod.id });
    const { containers } = await call<{ containers: { id: string }[] }>('ListContainers', { filter: { podSandboxId: pod.id } });
    for (const c of containers) await call('ContainerStatus', { containerId: c.id });
  };
  every(1000, 500, async () => {
    const dirty = all.filter((p) => p.dirty);
    for (const p of dirty) p.dirty = false;
    await Promise.all(dirty.map(syncPod));
  });
  // The periodic resync of every pod, spread over the period as kubelet's pod workers are.
  for (const [i, pod] of all.entries()) every(10_000, 2000 + (i * 10_000) / all.length, () => syncPod(pod));
  every(10_000, 3000, async () => {
    await call('ListContainerStats', {});
    await call('ListPodSandboxStats', {});
  });
  if (profile === 'stress') {
    every(10_000, 7000, async () => {
      for (const pod of all) {
        const file = path.join(logDir, `load-${all.indexOf(pod)}`, 'app_0.log');
        await fs.rename(file, `${file}.1`).catch(() => undefined);
        await call('ReopenContainerLog', { containerId: pod.app });
      }
    });
  }

  await Promise.all(loops);
  measuring = false;
  const wall = (performance.now() - t0) / 1000;
  const cpu1 = await machineCpu();
  const self = process.cpuUsage(self0);
  const hz = 100; // USER_HZ
  const busySeconds = (cpu1.busy - cpu0.busy) / hz;
  const driverSeconds = (self.user + self.system) / 1e6;

  // Tear-down, not measured.
  for (let i = 0; i < all.length; i += 10) {
    await Promise.all(
      all.slice(i, i + 10).map(async (p) => {
        await call('StopPodSandbox', { podSandboxId: p.id }).catch(() => undefined);
        await call('RemovePodSandbox', { podSandboxId: p.id }).catch(() => undefined);
      }),
    );
  }
  client.close();
  return {
    rpc,
    errors,
    probes,
    relist,
    restarts,
    runtimeCpuPerSecond: Math.max(0, busySeconds - driverSeconds) / wall,
    settledMs,
    seconds: wall,
  };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [socket, profile, pods, seconds, image, logDir] = process.argv.slice(2);
  if (!socket || (profile !== 'stress' && profile !== 'steady') || !image || !logDir) {
    process.stderr.write('usage: kubelet-driver <socket> stress|steady <pods> <seconds> <image> <log dir>\n');
    process.exit(2);
  }
  const out = await drive(socket, profile, Number(pods), Number(seconds), image, logDir);
  process.stdout.write(JSON.stringify(out) + '\n');
}
