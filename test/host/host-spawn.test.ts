// The process launcher (src/host/spawn.ts) through the built helper
// (native/spawner.c): output, input, errors, signals, extra fds, sessions.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { describe, it } from 'node:test';

import { type Child, spawnChild, spawnerPath, spawnerPid } from '../../src/host/spawn.js';
import { REPO_ROOT } from '../../src/version.js';

interface Outcome {
  code: number | null;
  signal: NodeJS.Signals | null;
  out: string[];
}

/** Collects every piped output fd, resolves on 'close'. */
function collect(child: Child): Promise<Outcome> {
  const out: string[] = [];
  child.stdio.forEach((s, fd) => {
    if (fd === 0 || !s) return;
    out[fd] = '';
    (s as Readable).on('data', (d: Buffer) => (out[fd] += d.toString()));
  });
  return new Promise((resolve, reject) => {
    child.once('error', reject);
    child.once('close', (code: number | null, signal: NodeJS.Signals | null) => resolve({ code, signal, out }));
  });
}

describe('process launcher', () => {
  it('uses the built helper', () => {
    assert.equal(spawnerPath(), path.join(REPO_ROOT, 'dist', 'native', 'skiff-spawner'));
  });

  it('collects stdout and stderr and reports the exit code', async () => {
    const r = await collect(spawnChild('sh', ['-c', 'echo out; echo err >&2; exit 3'], { stdio: ['ignore', 'pipe', 'pipe'] }));
    assert.deepEqual([r.code, r.signal, r.out[1], r.out[2]], [3, null, 'out\n', 'err\n']);
  });

  it('feeds stdin, a megabyte of it, and returns it through stdout', async () => {
    const input = 'x'.repeat(1024 * 1024 - 1) + '\n';
    const child = spawnChild('cat', [], { stdio: ['pipe', 'pipe', 'pipe'] });
    const done = collect(child);
    child.stdin!.end(input);
    const r = await done;
    assert.equal(r.code, 0);
    assert.equal(r.out[1]!.length, input.length);
    assert.equal(r.out[1], input);
  });

  it('passes env and cwd, and nothing else of ours', async () => {
    const r = await collect(
      spawnChild('/bin/sh', ['-c', 'echo "$FOO|$HOME"; pwd'], { stdio: ['ignore', 'pipe', 'pipe'], env: { FOO: 'bar baz' }, cwd: '/tmp' }),
    );
    assert.equal(r.out[1], 'bar baz|\n/tmp\n');
  });

  it('an extra fd is a pipe of its own', async () => {
    const r = await collect(spawnChild('sh', ['-c', 'echo sync >&3; echo out'], { stdio: ['ignore', 'pipe', 'pipe', 'pipe'] }));
    assert.equal(r.out[3], 'sync\n');
    assert.equal(r.out[1], 'out\n');
  });

  it('a missing program is an error event with ENOENT', async () => {
    const child = spawnChild('/nonexistent/program', [], { stdio: ['ignore', 'pipe', 'pipe'] });
    const err = await new Promise<NodeJS.ErrnoException>((resolve) => child.once('error', resolve));
    assert.equal(err.code, 'ENOENT');
    assert.match(err.message, /nonexistent\/program/);
  });

  it('reports a signal death and kill() reaches the child', async () => {
    const self = await collect(spawnChild('sh', ['-c', 'kill -9 $$'], { stdio: ['ignore', 'pipe', 'pipe'] }));
    assert.deepEqual([self.code, self.signal], [null, 'SIGKILL']);
    const child = spawnChild('sleep', ['100'], { stdio: ['ignore', 'pipe', 'pipe'] });
    const done = collect(child);
    child.kill('SIGTERM');
    const r = await done;
    assert.deepEqual([r.code, r.signal], [null, 'SIGTERM']);
  });

  it('detached: the child leads a session of its own', async () => {
    const child = spawnChild('sleep', ['100'], { stdio: ['ignore', 'ignore', 'ignore'], detached: true });
    const done = collect(child);
    await new Promise((r) => child.once('spawn', r));
    const stat = readFileSync(`/proc/${child.pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    assert.equal(Number(fields[3]), child.pid, 'session id');
    assert.equal(Number(fields[2]), child.pid, 'process group');
    process.kill(-child.pid!, 'SIGKILL');
    assert.equal((await done).signal, 'SIGKILL');
  });

  it('survives the helper dying: running children are reported gone, the next spawn starts a new helper', async () => {
    const child = spawnChild('sleep', ['100'], { stdio: ['ignore', 'pipe', 'pipe'] });
    await new Promise((r) => child.once('spawn', r));
    const helper = spawnerPid()!;
    assert.ok(helper > 0);
    const done = collect(child);
    process.kill(helper, 'SIGKILL');
    assert.equal((await done).signal, 'SIGKILL');
    process.kill(child.pid!, 'SIGKILL'); // it ran on, orphaned: ours to clean up
    const next = await collect(spawnChild('echo', ['again'], { stdio: ['ignore', 'pipe', 'pipe'] }));
    assert.equal(next.out[1], 'again\n');
    assert.notEqual(spawnerPid(), helper);
  });

  it('falls back to Node when the helper is switched off or cannot run', () => {
    for (const value of ['node', '/nonexistent/skiff-spawner', '/etc/hostname']) {
      const script = `import { spawnChild, spawnerPid } from ${JSON.stringify(path.join(REPO_ROOT, 'dist', 'src', 'host', 'spawn.js'))};
        const c = spawnChild('echo', ['fallback'], { stdio: ['ignore', 'pipe', 'pipe'] });
        let out = ''; c.stdout.on('data', (d) => (out += d)); c.stderr.resume();
        c.on('close', (code) => console.log(out.trim(), code, spawnerPid() === undefined));`;
      const res = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
        timeout: 10_000,
        encoding: 'utf8',
        env: { ...process.env, SKIFF_SPAWNER: value },
      });
      assert.equal(res.stdout.trim(), 'fallback 0 true', `SKIFF_SPAWNER=${value}: ${res.stderr}`);
    }
  });

  it('does not keep a finished program alive', () => {
    const script = `import { spawnChild } from ${JSON.stringify(path.join(REPO_ROOT, 'dist', 'src', 'host', 'spawn.js'))};
      const c = spawnChild('true', [], { stdio: ['ignore', 'pipe', 'pipe'] });
      c.stdout.resume(); c.stderr.resume();
      c.on('close', (code) => console.log('closed', code));`;
    const res = spawnSync(process.execPath, ['--input-type=module', '-e', script], { timeout: 10_000, encoding: 'utf8' });
    assert.equal(res.signal, null, 'exited by itself');
    assert.equal(res.stdout.trim(), 'closed 0');
  });
});
