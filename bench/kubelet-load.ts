// bench/kubelet-load: Skiff and containerd under a kubelet-like load (probes,
// relists, pod syncs, crash-restarts with back-off, log rotation, stats), one
// runtime at a time on the same machine in the same run. The load comes from
// harness/kubelet-driver.ts in a process of its own, as kubelet is.
//
// BENCH_LOAD="stress:10,stress:30,steady:110" picks the runs (profile:pods);
// BENCH_SECONDS (default 60) is each run's measured window.
import { spawn } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

import type { DriverResult } from './harness/kubelet-driver.js';
import { PAUSE, startBenchRuntimes } from './harness/runtimes.js';
import { median, percentile } from './harness/stats.js';

const RUNS = (process.env['BENCH_LOAD'] ?? 'stress:10,stress:30,steady:110').split(',').map((r) => {
  const [profile, pods] = r.split(':');
  return { profile: profile as 'stress' | 'steady', pods: Number(pods) };
});
const SECONDS = Number(process.env['BENCH_SECONDS'] ?? 60);
const DRIVER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'harness', 'kubelet-driver.js');

function runDriver(socket: string, profile: string, pods: number, image: string, logDir: string): Promise<DriverResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [DRIVER, socket, profile, String(pods), String(SECONDS), image, logDir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve(JSON.parse(out) as DriverResult) : reject(new Error(`driver exited ${code}`))));
  });
}

const ms = (n: number | undefined): string => (n === undefined ? '—' : `${n.toFixed(n < 10 ? 1 : 0)} ms`);
const ratio = (a: number | undefined, b: number | undefined): string => (a === undefined || !b ? '—' : `${(a / b).toFixed(2)}×`);
const p = (l: number[] | undefined, q: number): number | undefined =>
  l && l.length ? (q === 50 ? median(l) : percentile(l, q)) : undefined;

function table(profile: string, pods: number, s: DriverResult, k: DriverResult): string {
  const lines = [
    `### ${profile}, ${pods} pods, ${SECONDS} s`,
    '',
    '| measure | skiff | containerd | skiff/containerd |',
    '|---|---|---|---|',
  ];
  const add = (name: string, a: number | undefined, b: number | undefined, fmt = ms): void => {
    lines.push(`| ${name} | ${fmt(a)} | ${fmt(b)} | ${ratio(a, b)} |`);
  };
  const rpcs = [...new Set([...Object.keys(s.rpc), ...Object.keys(k.rpc)])].sort();
  for (const r of rpcs) {
    add(`${r} p50`, p(s.rpc[r], 50), p(k.rpc[r], 50));
    add(`${r} p99`, p(s.rpc[r], 99), p(k.rpc[r], 99));
  }
  add('relist p50', p(s.relist, 50), p(k.relist, 50));
  add('relist p99', p(s.relist, 99), p(k.relist, 99));
  const frac = (x: { total: number; missed: number }): string => `${x.missed} of ${x.total}`;
  lines.push(`| probes past their 1 s deadline | ${frac(s.probes)} | ${frac(k.probes)} | — |`);
  const done = (r: DriverResult['restarts']): string => `${r.done} of ${r.due} (${r.due ? Math.round((100 * r.done) / r.due) : 100} %)`;
  lines.push(`| crash-restarts done of those due | ${done(s.restarts)} | ${done(k.restarts)} | — |`);
  add('restart: exit → seen, p50', p(s.restarts.exitToSeen, 50), p(k.restarts.exitToSeen, 50));
  add('restart: seen → running, p50', p(s.restarts.seenToRunning, 50), p(k.restarts.seenToRunning, 50));
  add('restart: seen → running, p99', p(s.restarts.seenToRunning, 99), p(k.restarts.seenToRunning, 99));
  add('runtime CPU, s per s', s.runtimeCpuPerSecond, k.runtimeCpuPerSecond, (n) => (n === undefined ? '—' : n.toFixed(2)));
  const errs = (e: Record<string, number>): string =>
    Object.entries(e)
      .map(([m, n]) => `${m} ${n}`)
      .join(', ') || 'none';
  lines.push(`| failed calls | ${errs(s.errors)} | ${errs(k.errors)} | — |`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  const both = await startBenchRuntimes({ name: 'load', octet: 240 }, 'warn');
  const { image, skiff, containerd: ctd } = both;
  const logDir = path.join(skiff.dir, 'logs');
  try {
    for (const pull of [(r: object) => skiff.img('PullImage', r, 600000), (r: object) => ctd.call(ctd.image, 'PullImage', r)]) {
      await pull({ image: { image } });
      await pull({ image: { image: PAUSE } });
    }
    await skiff.waitNetworkReady();
    const out: string[] = [
      `bench/kubelet-load: ${new Date().toISOString().slice(0, 10)}, ${(await fs.readFile('/proc/cpuinfo', 'utf8')).match(/^processor/gm)?.length ?? '?'} cores`,
    ];
    for (const run of RUNS) {
      process.stderr.write(`skiff: ${run.profile} at ${run.pods} pods\n`);
      const s = await runDriver(skiff.socket, run.profile, run.pods, image, path.join(logDir, 'skiff'));
      process.stderr.write(`containerd: ${run.profile} at ${run.pods} pods\n`);
      const k = await runDriver(ctd.socket, run.profile, run.pods, image, path.join(logDir, 'containerd'));
      out.push('', table(run.profile, run.pods, s, k));
    }
    process.stdout.write('\n' + out.join('\n') + '\n');
  } finally {
    await both.stop();
  }
}

await main();
