// The one child-process runner: output caps, timeouts, aborts, process groups, stdin, drain grace.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { SkiffError } from '../../src/errors.js';
import { runProcess } from '../../src/host/run-process.js';
import { isAlive } from '../../src/runtime/process-tree.js';

describe('runProcess', () => {
  it('collects stdout and stderr, passes stdin, reports the exit code', async () => {
    const r = await runProcess('/bin/sh', ['-c', 'cat; echo err >&2; exit 3'], { input: 'in' });
    assert.equal(r.stdout.buffer().toString(), 'in');
    assert.equal(r.stderr.buffer().toString(), 'err\n');
    assert.equal(r.exitCode, 3);
    assert.equal(r.killedFor, undefined);
  });

  it('keeps the first bytes up to the cap and drains the rest', async () => {
    const r = await runProcess('/bin/sh', ['-c', 'head -c 100000 /dev/zero'], { maxStdout: 1000 });
    assert.equal(r.stdout.buffer().length, 1000);
    assert.equal(r.stdout.total, 100000);
    assert.equal(r.exitCode, 0);
  });

  it('kills on overflow when asked', async () => {
    const r = await runProcess('/bin/sh', ['-c', 'while :; do echo xxxxxxxxxxxxxxxx; done'], { maxStdout: 1000, killOnOverflow: true });
    assert.equal(r.killedFor, 'overflow');
  });

  it('a timeout kills the whole process group, grandchildren included', async () => {
    const started = Date.now();
    const r = await runProcess('/bin/sh', ['-c', 'sleep 30 & echo $!; wait'], { timeoutMs: 300, processGroup: true });
    assert.equal(r.killedFor, 'timeout');
    assert.ok(Date.now() - started < 5000);
    const grandchild = Number(r.stdout.buffer().toString().trim());
    for (let i = 0; i < 150 && (await isAlive(grandchild)); i++) await new Promise((res) => setTimeout(res, 20));
    assert.equal(await isAlive(grandchild), false);
  });

  it('an abort kills it; an already aborted signal starts nothing', async () => {
    const ac = new AbortController();
    const p = runProcess('/bin/sleep', ['30'], { signal: ac.signal });
    setTimeout(() => ac.abort(), 100);
    assert.equal((await p).killedFor, 'abort');
    await assert.rejects(
      runProcess('/bin/true', [], { signal: ac.signal }),
      (e: unknown) => e instanceof SkiffError && e.kind === 'Cancelled',
    );
  });

  it('a background job holding the pipes does not hold the result past the grace', async () => {
    const started = Date.now();
    const r = await runProcess('/bin/sh', ['-c', 'echo done; sleep 5 &'], { drainGraceMs: 100 });
    assert.equal(r.stdout.buffer().toString(), 'done\n');
    assert.ok(Date.now() - started < 3000);
  });

  it('a program that does not exist is FAILED_PRECONDITION', async () => {
    await assert.rejects(runProcess('/nonexistent/prog', []), (e: unknown) => e instanceof SkiffError && e.kind === 'FailedPrecondition');
  });
});
