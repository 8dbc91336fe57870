// The runtime adapters' pure parts and file-level behaviour, without containers.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { SkiffError } from '../../src/errors.js';
import { CappedSink } from '../../src/host/capped-sink.js';
import { cgroupPaths, parseCgroupMounts, removeEmptyParents, validateCgroupsPath } from '../../src/runtime/cgroups.js';
import { ExitWatcher, readExitCode } from '../../src/runtime/exit-watcher.js';
import { readPidFile } from '../../src/runtime/pid-file.js';
import { isAlive, killProcessTree, parseProcStat, type ProcStat, selectTree } from '../../src/runtime/process-tree.js';
import { classifyRuncMessage, runcMessage } from '../../src/runtime/runc-message.js';

let base = '';
before(async () => {
  base = await mkdtemp(join(tmpdir(), 'skiff-rth-'));
});
after(async () => {
  await rm(base, { recursive: true, force: true });
});

describe('runc messages', () => {
  it('reads JSON and logfmt error lines', () => {
    assert.equal(
      runcMessage('{"level":"error","msg":"container does not exist","time":"2026-01-01T00:00:00Z"}\n'),
      'container does not exist',
    );
    assert.equal(
      runcMessage(
        'time="2026-01-01T00:00:00Z" level=warning msg="w"\ntime="2026-01-01T00:00:00Z" level=error msg="runc create failed: exec: \\"/x\\": stat /x"\n',
      ),
      'runc create failed: exec: "/x": stat /x',
    );
    assert.equal(runcMessage('plain text failure\n'), 'plain text failure');
  });
  it('classifies', () => {
    assert.equal(classifyRuncMessage('container does not exist'), 'NotFound');
    assert.equal(classifyRuncMessage('container not running'), 'FailedPrecondition');
    assert.equal(
      classifyRuncMessage('exec failed: unable to start container process: exec: "/x": stat /x: no such file or directory'),
      'FailedPrecondition',
    );
    assert.equal(classifyRuncMessage('something odd'), 'Internal');
  });
});

describe('CappedSink', () => {
  it('keeps the first bytes and counts the rest', () => {
    const s = new CappedSink(5);
    s.push(Buffer.from('abc'));
    s.push(Buffer.from('defg'));
    s.push(Buffer.from('h'));
    assert.equal(s.buffer().toString(), 'abcde');
    assert.equal(s.total, 8);
    assert.equal(s.truncated, true);
  });
});

describe('process tree', () => {
  it('parses /proc/<pid>/stat with awkward command names', () => {
    assert.deepEqual(parseProcStat('42 (a b) c)) S 1 42 42 0 -1 4194560 0 0'), { pid: 42, state: 'S', ppid: 1, pgrp: 42, session: 42 });
  });
  it('selects descendants, the process group and the session of the root', () => {
    const p = (pid: number, ppid: number, pgrp: number, session: number): ProcStat => ({ pid, ppid, pgrp, session, state: 'S' });
    const procs = [
      p(1, 0, 1, 1),
      p(10, 1, 10, 10),
      p(11, 10, 10, 10),
      p(12, 11, 12, 12),
      p(13, 1, 10, 10),
      p(14, 1, 14, 10),
      p(20, 1, 20, 20),
    ];
    assert.deepEqual(
      [...selectTree(10, procs)].sort((a, b) => a - b),
      [10, 11, 12, 13, 14],
    );
  });
  it('kills a real tree, including a child that forks', async () => {
    const child = spawn('/bin/busybox', ['sh', '-c', 'sleep 300 & (sleep 301 &) ; sleep 302'], { detached: true, stdio: 'ignore' });
    const exited = new Promise((r) => child.on('exit', r));
    await sleep(200);
    const killed = await killProcessTree(child.pid!);
    assert.ok(killed.length >= 3, `killed ${killed.join(',')}`);
    await exited;
    await sleep(100);
    for (const pid of killed) assert.equal(await isAlive(pid), false, `pid ${pid}`);
  });
});

describe('pid files', () => {
  it('reads a pid without newline and tolerates absence and garbage', async () => {
    await writeFile(join(base, 'pid'), '1234');
    assert.equal(await readPidFile(join(base, 'pid')), 1234);
    assert.equal(await readPidFile(join(base, 'none')), undefined);
    await writeFile(join(base, 'bad'), '');
    assert.equal(await readPidFile(join(base, 'bad')), undefined);
  });
});

describe('cgroup paths', () => {
  const mountinfo = [
    '25 20 0:22 / /sys/fs/cgroup ro,nosuid - tmpfs tmpfs ro,mode=755',
    '26 25 0:23 / /sys/fs/cgroup/unified rw,nosuid - cgroup2 cgroup2 rw,nsdelegate',
    '27 25 0:24 / /sys/fs/cgroup/systemd rw - cgroup cgroup rw,xattr,name=systemd',
    '28 25 0:25 / /sys/fs/cgroup/cpu,cpuacct rw - cgroup cgroup rw,cpu,cpuacct',
    '29 25 0:26 / /sys/fs/cgroup/memory rw - cgroup cgroup rw,memory',
    '30 25 0:26 / /mnt/again rw - cgroup cgroup rw,memory',
    '31 20 0:27 / /proc rw - proc proc rw',
  ].join('\n');
  it('maps an absolute cgroupsPath into every hierarchy', () => {
    const mounts = parseCgroupMounts(mountinfo);
    assert.equal(mounts.length, 4);
    const p = cgroupPaths('/pod/ctr', mounts);
    assert.equal(p.unified, '/sys/fs/cgroup/unified/pod/ctr');
    assert.equal(p.controllers['memory'], '/sys/fs/cgroup/memory/pod/ctr');
    assert.equal(p.controllers['cpuacct'], '/sys/fs/cgroup/cpu,cpuacct/pod/ctr');
    assert.equal(p.controllers['name=systemd'], '/sys/fs/cgroup/systemd/pod/ctr');
    assert.equal(p.dirs.length, 4);
  });
  it('refuses relative and unnormalized paths', () => {
    for (const bad of ['pod/ctr', '/pod/../x', '/pod//ctr', '/pod/ctr/', '']) {
      assert.throws(
        () => validateCgroupsPath(bad),
        (e: unknown) => e instanceof SkiffError && e.kind === 'InvalidArgument',
        bad,
      );
    }
    validateCgroupsPath('/');
  });
  it('knows this host: memory v1 under /sys/fs/cgroup/memory', () => {
    assert.equal(cgroupPaths('/x').controllers['memory'], '/sys/fs/cgroup/memory/x');
  });
});

describe('removeEmptyParents', () => {
  it('removes empty parents up to (not including) stopAt and stops at a non-empty one', async () => {
    const root = join(base, 'tree');
    await mkdir(join(root, 'a', 'b', 'c', 'leaf'), { recursive: true });
    await mkdir(join(root, 'a', 'keep'), { recursive: true });
    await rm(join(root, 'a', 'b', 'c', 'leaf'), { recursive: true });
    await removeEmptyParents(join(root, 'a', 'b', 'c', 'leaf'), root);
    assert.equal(existsSync(join(root, 'a', 'b')), false);
    assert.equal(existsSync(join(root, 'a', 'keep')), true);
    await rm(join(root, 'a', 'keep'), { recursive: true });
    await removeEmptyParents(join(root, 'a', 'keep'), root);
    assert.equal(existsSync(join(root, 'a')), false);
    assert.equal(existsSync(root), true);
    // a path outside stopAt is left alone
    await mkdir(join(base, 'other', 'x'), { recursive: true });
    await removeEmptyParents(join(base, 'other', 'x', 'y'), root);
    assert.equal(existsSync(join(base, 'other', 'x')), true);
  });
});

describe('ExitWatcher', () => {
  it('emits once per exit file, skips glib temp names, reports files present at start, re-arms after removal', async () => {
    const dir = join(base, 'exits');
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, 'early'), '0');
    const w = new ExitWatcher(dir, { rescanMs: 100 });
    const seen: [string, number][] = [];
    w.on('exit', (id, code) => seen.push([id, code]));
    await w.start();
    try {
      assert.deepEqual(seen, [['early', 0]]);
      // as conmon does: temp file, then rename into place
      await writeFile(join(dir, 'c1.AB12CD'), '42');
      await sleep(150);
      await rename(join(dir, 'c1.AB12CD'), join(dir, 'c1'));
      await waitUntil(() => seen.length === 2);
      assert.deepEqual(seen[1], ['c1', 42]);
      await writeFile(join(dir, 'c1'), '43'); // rewritten: no second event
      await sleep(300);
      assert.equal(seen.length, 2);
      assert.equal(await readExitCode(dir, 'c1'), 43);
      await rm(join(dir, 'c1'));
      await sleep(300); // a rescan notices the removal
      await writeFile(join(dir, 'c1'), '137');
      await waitUntil(() => seen.length === 3);
      assert.deepEqual(seen[2], ['c1', 137]);
      assert.equal(await readExitCode(dir, 'missing'), undefined);
    } finally {
      w.stop();
    }
  });
});

async function waitUntil(cond: () => boolean, timeoutMs = 3000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await sleep(10);
  }
}
