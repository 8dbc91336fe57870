// The runtime adapters against the real conmon 2.1.6 and runc 1.1.5 of this
// host (runs as root). Bundles are built by hand (test/helpers/oci-bundle.ts);
// every container, conmon and cgroup started here is torn down in `after`.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { SkiffError } from '../../src/errors.js';
import { cgroupPaths, cgroupPids, killAll, oomKillCount, removeCgroup } from '../../src/runtime/cgroups.js';
import { attachSocketPath, launchContainer, type LaunchResult, reopenLog, resizeTerminal } from '../../src/runtime/conmon.js';
import { hasExecFifo, releaseExecFifo } from '../../src/runtime/exec-fifo.js';
import { ExitWatcher, oomKilled, readExitCode } from '../../src/runtime/exit-watcher.js';
import { readPidFile } from '../../src/runtime/pid-file.js';
import { RuncClient, RuncError } from '../../src/runtime/runc.js';
import { makeBundle } from '../support/oci-bundle.js';

const RUNC = '/usr/sbin/runc';
const CONMON = '/usr/bin/conmon';
const CGROUP_PARENT = '/skiff-test';

let base = '';
let runc: RuncClient;
let watcher: ExitWatcher;
const exits = new Map<string, { code: number; at: Date }>();
const started: { id: string; bundle: string }[] = [];
let counter = 0;

before(async () => {
  base = await mkdtemp('/tmp/skrt-'); // short: the attach socket path must stay under 108 bytes
  runc = new RuncClient({ binary: RUNC, root: join(base, 'runc'), tmpDir: base });
  watcher = new ExitWatcher(join(base, 'exits'), { rescanMs: 500 });
  watcher.on('exit', (id, code, at) => exits.set(id, { code, at }));
  await watcher.start();
});

after(async () => {
  watcher?.stop();
  for (const { id, bundle } of started) {
    await runc.kill(id, 'SIGKILL', { all: true }).catch(() => undefined);
    await runc.delete(id, { force: true }).catch(() => undefined);
    const conmonPid = await readPidFile(join(bundle, 'conmon.pid')).catch(() => undefined);
    if (conmonPid !== undefined && (await cmdline(conmonPid)).includes(id)) {
      try {
        process.kill(conmonPid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await removeCgroup(`${CGROUP_PARENT}/${id}`, { stopAt: '/' }).catch(() => undefined);
  }
  await removeCgroup(CGROUP_PARENT).catch(() => undefined);
  if (base) await rm(base, { recursive: true, force: true });
});

const nextId = (): string => `skt${process.pid}x${counter++}`;

async function launch(
  args: string[],
  opts: { memoryLimit?: number; id?: string; cgroupStopAt?: string } = {},
): Promise<{ id: string; bundle: string; logPath: string; persistDir: string; launched: LaunchResult }> {
  const id = opts.id ?? nextId();
  const bundle = join(base, 'b', id);
  await makeBundle(bundle, { args, cgroupsPath: `${CGROUP_PARENT}/${id}`, memoryLimit: opts.memoryLimit });
  started.push({ id, bundle });
  const logPath = join(base, 'logs', `${id}.log`);
  const persistDir = join(base, 'persist', id);
  const launched = await launchContainer({
    conmonPath: CONMON,
    runtimePath: RUNC,
    runtimeRoot: runc.root,
    id,
    bundle,
    logPath,
    exitDir: watcher.dir,
    socketDir: join(base, 's'),
    persistDir,
    cgroup: { path: `${CGROUP_PARENT}/${id}`, stopAt: opts.cgroupStopAt },
  });
  return { id, bundle, logPath, persistDir, launched };
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 10_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await probe();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

const waitExit = (id: string): Promise<{ code: number; at: Date }> => waitFor(`exit of ${id}`, () => exits.get(id));

async function cmdline(pid: number): Promise<string> {
  return readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
}

/** Host pids whose argv is exactly `argv`. */
async function processesWithArgv(argv: string[]): Promise<number[]> {
  const want = argv.join('\0') + '\0';
  const out: number[] = [];
  for (const name of await readdir('/proc')) {
    if (/^\d+$/.test(name) && (await cmdline(Number(name))) === want) out.push(Number(name));
  }
  return out;
}

/** Live conmon processes launched for `id` (matched on their -c argument). */
async function conmonsFor(id: string): Promise<number[]> {
  const out: number[] = [];
  for (const name of await readdir('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const argv = (await cmdline(Number(name))).split('\0');
    if (argv[0]?.endsWith('conmon') && argv[argv.indexOf('-c') + 1] === id) out.push(Number(name));
  }
  return out;
}

const RFC3339NANO = String.raw`\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(?:Z|[+-]\d\d:\d\d)`;

describe('conmon + runc: a container that exits', () => {
  it('reports its exit code through the exit dir and logs in k8s-file format', async () => {
    const c = await launch(['sh', '-c', 'echo hello; exit 3']);
    assert.ok(c.launched.pid > 0);
    assert.ok((await cmdline(c.launched.conmonPid)).startsWith(CONMON));
    const st = await runc.state(c.id);
    assert.equal(st?.status, 'created');
    assert.equal(st?.pid, c.launched.pid);
    const before = Date.now();
    await runc.start(c.id);
    const exit = await waitExit(c.id);
    assert.equal(exit.code, 3);
    assert.ok(Math.abs(exit.at.getTime() - before) < 10_000);
    assert.equal(await readExitCode(watcher.dir, c.id), 3);
    // conmon also records the exit in the persist dir.
    assert.equal((await readFile(join(c.persistDir, 'exit'), 'utf8')).trim(), '3');
    const log = await waitFor('log line', async () => {
      const text = await readFile(c.logPath, 'utf8').catch(() => '');
      return text.includes('hello') ? text : undefined;
    });
    assert.match(log, new RegExp(`^${RFC3339NANO} stdout F hello$`, 'm'));
    assert.equal(await oomKilled(c.persistDir), false);
    // conmon exits after the container; runc still knows it as stopped until deleted.
    await waitFor('conmon exit', async () => ((await conmonsFor(c.id)).length === 0 ? true : undefined));
    assert.equal((await runc.state(c.id))?.status, 'stopped');
    await runc.delete(c.id);
    assert.equal(await runc.state(c.id), undefined);
    await runc.delete(c.id); // idempotent
    await removeCgroup(`${CGROUP_PARENT}/${c.id}`);
    for (const dir of cgroupPaths(`${CGROUP_PARENT}/${c.id}`).dirs) assert.equal(existsSync(dir), false, dir);
  });

  it('fails a launch whose process cannot start, naming it, and leaves nothing behind', async () => {
    const id = nextId();
    await assert.rejects(launch(['/nonexistent'], { id, cgroupStopAt: '/' }), (err: unknown) => {
      assert.ok(err instanceof SkiffError, String(err));
      assert.equal(err.kind, 'FailedPrecondition');
      assert.match(err.message, /\/nonexistent/);
      return true;
    });
    assert.equal(await runc.state(id), undefined);
    const list = spawnSync(RUNC, ['--root', runc.root, 'list', '--format', 'json'], { encoding: 'utf8' });
    assert.equal(list.status, 0, list.stderr);
    const listed = (JSON.parse(list.stdout) as { id: string }[] | null) ?? [];
    assert.deepEqual(
      listed.filter((c) => c.id === id),
      [],
    );
    assert.deepEqual(await conmonsFor(id), []);
    const bundle = join(base, 'b', id);
    for (const f of ['pidfile', 'conmon.pid', 'ctl', 'winsz', 'attach']) assert.equal(existsSync(join(bundle, f)), false, f);
    assert.equal(existsSync(join(base, 's', id)), false);
    assert.equal(existsSync(join(watcher.dir, id)), false);
    // No other container of this file is alive at this point, so the parent runc left goes too.
    for (const dir of cgroupPaths(CGROUP_PARENT).dirs) assert.equal(existsSync(dir), false, dir);
  });

  it('marks an OOM kill: conmon oom files and the cgroup counter', async () => {
    const c = await launch(['tail', '/dev/zero'], { memoryLimit: 16 * 1024 * 1024 });
    await runc.start(c.id);
    assert.equal((await waitExit(c.id)).code, 137);
    assert.ok((await oomKillCount(`${CGROUP_PARENT}/${c.id}`)) >= 1);
    await waitFor('oom marker', async () => ((await oomKilled(c.persistDir)) ? true : undefined), 3000);
    assert.equal(await oomKilled(c.bundle), true); // conmon's working directory
    await runc.delete(c.id, { force: true });
    await removeCgroup(`${CGROUP_PARENT}/${c.id}`);
  });
});

describe('starting through the exec fifo (what runc start does, without its process)', () => {
  it('runs the created container: runc reports it running and the fifo is gone', async () => {
    const c = await launch(['sleep', '1000']);
    assert.equal((await runc.state(c.id))?.status, 'created');
    assert.equal(await hasExecFifo(runc.root, c.id), true);
    await runc.start(c.id, c.launched.pid);
    assert.equal((await runc.state(c.id))?.status, 'running');
    assert.equal(await hasExecFifo(runc.root, c.id), false);
    assert.equal(await cmdline(c.launched.pid), 'sleep\x001000\x00');
    await runc.kill(c.id, 'SIGKILL');
    assert.equal((await waitExit(c.id)).code, 137);
  });

  it('fails, without hanging, when the created init died', async () => {
    const c = await launch(['sleep', '1000']);
    process.kill(c.launched.pid, 'SIGKILL');
    await assert.rejects(
      releaseExecFifo(runc.root, c.id, c.launched.pid, 5000),
      (e: unknown) => e instanceof SkiffError && e.kind === 'FailedPrecondition' && /died before/.test(e.message),
    );
  });
});

describe('conmon + runc: a running container', () => {
  let c: Awaited<ReturnType<typeof launch>>;
  const cg = (): string => `${CGROUP_PARENT}/${c.id}`;

  before(async () => {
    c = await launch(['sleep', '1000'], { memoryLimit: 64 * 1024 * 1024 });
    await runc.start(c.id);
  });

  it('is running, with its pid in runc state, runc ps and the cgroup', async () => {
    const st = await runc.state(c.id);
    assert.equal(st?.status, 'running');
    assert.equal(st?.pid, c.launched.pid);
    assert.equal(st?.bundle, c.bundle);
    assert.deepEqual(await runc.ps(c.id), [c.launched.pid]);
    assert.deepEqual(await cgroupPids(cg()), [c.launched.pid]);
    assert.equal(existsSync(attachSocketPath(join(base, 's'), c.id)), true);
  });

  it('exec: stdout and exit codes', async () => {
    const hi = await runc.exec(c.id, proc(['echo', 'hi']));
    assert.deepEqual({ code: hi.exitCode, out: hi.stdout.toString(), timedOut: hi.timedOut }, { code: 0, out: 'hi\n', timedOut: false });
    const seven = await runc.exec(c.id, proc(['sh', '-c', 'echo oops >&2; exit 7']));
    assert.equal(seven.exitCode, 7);
    assert.equal(seven.stderr.toString(), 'oops\n');
  });

  it('exec: stdin is fed and output is capped while the rest drains', async () => {
    const cat = await runc.exec(c.id, proc(['cat']), { stdin: Buffer.from('from stdin') });
    assert.equal(cat.stdout.toString(), 'from stdin');
    const big = await runc.exec(c.id, proc(['sh', '-c', 'yes | head -c 300000; echo done >&2']), { maxOutputBytes: 1000 });
    assert.equal(big.exitCode, 0);
    assert.equal(big.stdout.length, 1000);
    assert.equal(big.truncated, true);
    assert.equal(big.stderr.toString(), 'done\n');
  });

  it('exec: a process runc cannot start is an error with runc’s message', async () => {
    await assert.rejects(runc.exec(c.id, proc(['/nonexistent'])), (err: unknown) => {
      assert.ok(err instanceof RuncError, String(err));
      assert.equal(err.kind, 'FailedPrecondition');
      assert.match(err.message, /\/nonexistent/);
      return true;
    });
  });

  it('exec: a timeout kills the exec’d process and what it started', async () => {
    const t0 = Date.now();
    const r = await runc.exec(c.id, proc(['sh', '-c', 'sleep 100 & sleep 100']), { timeoutMs: 500 });
    assert.equal(r.timedOut, true);
    assert.ok(Date.now() - t0 < 5000, `took ${Date.now() - t0} ms`);
    await sleep(100);
    assert.deepEqual(await processesWithArgv(['sleep', '100']), []);
    assert.deepEqual(await runc.ps(c.id), [c.launched.pid]); // the container itself is untouched
  });

  it('exec: an abort signal kills it too', async () => {
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const r = await runc.exec(c.id, proc(['sleep', '101']), { signal: ac.signal });
    assert.equal(r.timedOut, true);
    assert.deepEqual(await processesWithArgv(['sleep', '101']), []);
  });

  it('update: a new memory limit lands in the cgroup', async () => {
    await runc.update(c.id, { memory: { limit: 96 * 1024 * 1024 } });
    const dir = cgroupPaths(cg()).controllers['memory']!;
    assert.equal(dir, `/sys/fs/cgroup/memory${cg()}`);
    assert.equal((await readFile(join(dir, 'memory.limit_in_bytes'), 'utf8')).trim(), String(96 * 1024 * 1024));
  });

  it('reopenLog: conmon recreates the log at its path after a rename', async () => {
    const rotated = `${c.logPath}.1`;
    await waitFor('log file', () => (existsSync(c.logPath) ? true : undefined));
    await rename(c.logPath, rotated);
    await reopenLog(c.bundle);
    await waitFor('new log file', () => (existsSync(c.logPath) ? true : undefined), 3000);
    assert.equal((await stat(rotated)).isFile(), true);
  });

  it('resizeTerminal accepts a command for a live conmon (no tty: ignored) and rejects bad sizes', async () => {
    await resizeTerminal(c.bundle, 120, 40);
    await assert.rejects(resizeTerminal(c.bundle, -1, 40), (err: unknown) => err instanceof SkiffError && err.kind === 'InvalidArgument');
  });

  it('kill SIGKILL: the watcher reports 137, conmon goes away and its ctl fifo no longer takes commands', async () => {
    await runc.kill(c.id, 'SIGKILL');
    assert.equal((await waitExit(c.id)).code, 137);
    await waitFor('conmon exit', async () => ((await conmonsFor(c.id)).length === 0 ? true : undefined));
    await assert.rejects(reopenLog(c.bundle), (err: unknown) => err instanceof SkiffError && err.kind === 'FailedPrecondition');
    await assert.rejects(runc.kill(c.id, 'SIGKILL'), (err: unknown) => err instanceof RuncError);
    await runc.delete(c.id);
  });
});

describe('cgroups: killAll and removal with parents', () => {
  it('kills every process of the cgroup, then removes it and the empty parent', async () => {
    const c = await launch(['sh', '-c', 'sleep 1000 & sleep 1000 & wait']);
    await runc.start(c.id);
    const path = `${CGROUP_PARENT}/${c.id}`;
    await waitFor('3 processes', async () => ((await cgroupPids(path)).length === 3 ? true : undefined));
    const r = await killAll(path, 'SIGKILL');
    assert.ok(r.signalled >= 3, `signalled ${r.signalled}`);
    assert.deepEqual(r.remaining, []);
    assert.equal((await waitExit(c.id)).code, 137);
    await runc.delete(c.id, { force: true });
    // Only remove the parent if no other test's container is still in it.
    const others = started.filter((s) => s.id !== c.id && existsSync(`/sys/fs/cgroup/memory${CGROUP_PARENT}/${s.id}`));
    await removeCgroup(path, { stopAt: '/' });
    for (const dir of cgroupPaths(path).dirs) assert.equal(existsSync(dir), false, dir);
    if (others.length === 0) {
      for (const dir of cgroupPaths(CGROUP_PARENT).dirs) assert.equal(existsSync(dir), false, dir);
    }
  });
});

function proc(args: string[]): object {
  return { terminal: false, user: { uid: 0, gid: 0 }, args, env: ['PATH=/bin'], cwd: '/' };
}
