import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { processStartedAt } from '../../src/runtime/process-tree.js';

describe('processStartedAt', () => {
  it('gives this process its start time and a later child a later one; a gone pid gives undefined', async () => {
    const self = await processStartedAt(process.pid);
    assert.ok(self);
    const expected = Date.now() - process.uptime() * 1000;
    assert.ok(
      Math.abs(self.getTime() - expected) < 1500,
      `started ${self.toISOString()}, expected about ${new Date(expected).toISOString()}`,
    );
    await sleep(300);
    const before = Date.now();
    const child = spawn('sleep', ['5'], { stdio: 'ignore' });
    try {
      const started = await processStartedAt(child.pid!);
      assert.ok(started);
      assert.ok(started.getTime() >= self.getTime() + 200, 'the child started later');
      assert.ok(Math.abs(started.getTime() - before) < 1500);
    } finally {
      child.kill('SIGKILL');
    }
    await new Promise((r) => child.once('exit', r));
    assert.equal(await processStartedAt(child.pid!), undefined);
  });
});
