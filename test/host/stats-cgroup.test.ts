import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';

import { detectCgroupVersion, readCgroupStats } from '../../src/stats/cgroup-stats.js';
import { CpuRateTracker } from '../../src/stats/cpu-rate.js';

const CG = '/sys/fs/cgroup';
const V1_CONTROLLERS = ['cpu', 'cpuacct', 'cpuset', 'memory', 'devices', 'freezer', 'blkio', 'pids'];
const LIMIT = 256 * 1024 * 1024;

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function realV1Available(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root';
  if ((await detectCgroupVersion()) !== 1) return 'host is not cgroup v1/hybrid';
  for (const c of ['cpuacct', 'memory', 'pids']) if (!existsSync(`${CG}/${c}/cgroup.procs`)) return `no v1 ${c} controller`;
  if (!existsSync('/bin/busybox')) return 'no /bin/busybox';
  return undefined;
}

async function rmdirRetry(dir: string): Promise<void> {
  for (let i = 0; ; i++) {
    try {
      await fs.rmdir(dir);
      return;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code === 'ENOENT') return;
      if (code !== 'EBUSY' || i >= 50) throw err;
      await sleep(50);
    }
  }
}

async function writeFake(root: string, files: Record<string, string>): Promise<void> {
  for (const [rel, text] of Object.entries(files)) {
    const p = path.join(root, rel);
    await fs.mkdir(path.dirname(p), { recursive: true });
    await fs.writeFile(p, text);
  }
}

describe('readCgroupStats on a real v1 cgroup', () => {
  it('reports CPU, memory and pids of a process moved into it, then undefined once removed', async (t) => {
    const why = await realV1Available();
    if (why) {
      t.skip(why);
      return;
    }
    const name = `skiff-stats-test-${randomBytes(4).toString('hex')}`;
    const cgPath = `/${name}`;
    const controllers = V1_CONTROLLERS.filter((c) => existsSync(`${CG}/${c}/cgroup.procs`));
    const created: string[] = [];
    let child: ChildProcess | undefined;
    try {
      for (const c of controllers) {
        const dir = `${CG}/${c}${cgPath}`;
        await fs.mkdir(dir);
        created.push(dir);
        if (c === 'cpuset') {
          for (const f of ['cpuset.cpus', 'cpuset.mems']) await fs.writeFile(`${dir}/${f}`, await fs.readFile(`${CG}/cpuset/${f}`));
        }
      }
      await fs.writeFile(`${CG}/memory${cgPath}/memory.limit_in_bytes`, String(LIMIT));

      // Waits for a line on stdin (so all its work is charged to the new cgroup),
      // then becomes dd with a 16 MiB buffer: the spawned PID is the only process.
      child = spawn('/bin/busybox', ['sh', '-c', 'read x; exec /bin/busybox dd if=/dev/zero of=/dev/null bs=16M count=15000'], {
        stdio: ['pipe', 'ignore', 'ignore'],
      });
      const pid = child.pid;
      assert.ok(pid);
      for (const c of controllers) await fs.writeFile(`${CG}/${c}${cgPath}/cgroup.procs`, String(pid));

      const before = await readCgroupStats(cgPath);
      assert.ok(before);
      child.stdin!.write('go\n');
      await sleep(400);
      const mid = await readCgroupStats(cgPath);
      await sleep(400);
      const after = await readCgroupStats(cgPath);
      assert.ok(mid && after);

      assert.ok(after.cpu.usageCoreNanoSeconds > before.cpu.usageCoreNanoSeconds, 'cpu usage grows');
      assert.ok(after.cpu.usageCoreNanoSeconds > mid.cpu.usageCoreNanoSeconds, 'cpu usage keeps growing');
      assert.ok(after.timestampNs > before.timestampNs);
      const wallNs = BigInt(Date.now()) * 1_000_000n;
      assert.ok(after.timestampNs > wallNs - 60_000_000_000n && after.timestampNs < wallNs + 60_000_000_000n, 'wall-clock timestamp');

      const m = after.memory;
      assert.ok(m.usageBytes > 0, 'memory usage > 0');
      assert.ok(m.workingSetBytes <= m.usageBytes, 'working set <= usage');
      assert.ok(m.rssBytes >= 8 * 1024 * 1024, `rss covers dd's buffer: ${m.rssBytes}`);
      assert.ok(m.pageFaults > 0);
      assert.ok(m.majorPageFaults >= 0);
      assert.equal(m.availableBytes, LIMIT - m.workingSetBytes);
      assert.ok(after.pids && after.pids.current >= 1, 'pids.current >= 1');

      const rates = new CpuRateTracker({ minIntervalNs: 0n });
      assert.equal(rates.sample('c', mid.cpu.usageCoreNanoSeconds, mid.timestampNs), undefined);
      const rate = rates.sample('c', after.cpu.usageCoreNanoSeconds, after.timestampNs);
      assert.ok(rate !== undefined && rate > 50_000_000, `busy child uses > 0.05 cores: ${rate}`);
      assert.ok(rate <= (os.availableParallelism() + 0.5) * 1e9, `rate bounded by the CPUs: ${rate}`);
    } finally {
      if (child && child.exitCode === null && child.signalCode === null) {
        const exited = once(child, 'exit');
        child.kill('SIGKILL');
        await exited;
      }
      for (const dir of created.reverse()) await rmdirRetry(dir);
    }
    assert.equal(await readCgroupStats(cgPath), undefined, 'removed cgroup reads as undefined');
  });

  it('resolves undefined for a cgroup that does not exist', async () => {
    assert.equal(await readCgroupStats(`/skiff-stats-test-missing-${randomBytes(4).toString('hex')}/x`), undefined);
  });

  it('rejects relative or non-normalized paths', async () => {
    await assert.rejects(readCgroupStats('kubepods/x'), TypeError);
    await assert.rejects(readCgroupStats('/kubepods/../x'), TypeError);
  });
});

describe('readCgroupStats on fake cgroupfs trees', () => {
  it('v1: maps the files, treats >= 2^62 as unlimited, floors working set, omits missing pids', async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-cg1-'));
    try {
      await writeFake(root, {
        'cpuacct/kubepods/p/c/cpuacct.usage': '18446744073709551000\n',
        'memory/kubepods/p/c/memory.usage_in_bytes': '1000\n',
        'memory/kubepods/p/c/memory.limit_in_bytes': '9223372036854771712\n',
        'memory/kubepods/p/c/memory.stat':
          'cache 5\nrss 7\ninactive_file 1\ntotal_cache 50\ntotal_rss 700\ntotal_pgfault 33\ntotal_pgmajfault 2\ntotal_inactive_file 4000\n',
      });
      assert.equal(await detectCgroupVersion(root), 1);
      const s = await readCgroupStats('/kubepods/p/c/', { root });
      assert.ok(s);
      assert.equal(s.cpu.usageCoreNanoSeconds, 18446744073709551000n);
      assert.deepEqual(s.memory, { usageBytes: 1000, workingSetBytes: 0, rssBytes: 700, pageFaults: 33, majorPageFaults: 2 });
      assert.equal(s.pids, undefined);

      await writeFake(root, {
        'memory/kubepods/p/c/memory.limit_in_bytes': '4096\n',
        'memory/kubepods/p/c/memory.stat': 'total_inactive_file 100\ntotal_rss 1\n',
        'pids/kubepods/p/c/pids.current': '3\n',
      });
      const s2 = await readCgroupStats('/kubepods/p/c', { root });
      assert.ok(s2);
      assert.equal(s2.memory.workingSetBytes, 900);
      assert.equal(s2.memory.availableBytes, 4096 - 900);
      assert.equal(s2.memory.pageFaults, 0);
      assert.deepEqual(s2.pids, { current: 3 });

      await fs.rm(path.join(root, 'memory/kubepods/p/c'), { recursive: true });
      assert.equal(await readCgroupStats('/kubepods/p/c', { root }), undefined, 'half-removed cgroup is gone');
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  });

  it('v2: detected by cgroup.controllers, usage_usec in ns, anon as rss, memory.max', async () => {
    const root = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-cg2-'));
    try {
      await writeFake(root, {
        'cgroup.controllers': 'cpuset cpu io memory pids\n',
        'kubepods/p/c/cpu.stat': 'usage_usec 1234567\nuser_usec 1000000\nsystem_usec 234567\n',
        'kubepods/p/c/memory.current': '10000\n',
        'kubepods/p/c/memory.max': 'max\n',
        'kubepods/p/c/memory.stat': 'anon 6000\nfile 4000\nanon_thp 0\ninactive_file 3000\nactive_file 1000\npgfault 77\npgmajfault 1\n',
        'kubepods/p/c/pids.current': '2\n',
      });
      assert.equal(await detectCgroupVersion(root), 2);
      const s = await readCgroupStats('/kubepods/p/c', { root });
      assert.ok(s);
      assert.equal(s.cpu.usageCoreNanoSeconds, 1_234_567_000n);
      assert.deepEqual(s.memory, { usageBytes: 10000, workingSetBytes: 7000, rssBytes: 6000, pageFaults: 77, majorPageFaults: 1 });
      assert.deepEqual(s.pids, { current: 2 });

      await fs.writeFile(path.join(root, 'kubepods/p/c/memory.max'), '20000\n');
      assert.equal((await readCgroupStats('/kubepods/p/c', { root }))?.memory.availableBytes, 13000);
      assert.equal(await readCgroupStats('/kubepods/p/gone', { root }), undefined);
    } finally {
      await fs.rm(root, { recursive: true, force: true });
    }
  });
});
