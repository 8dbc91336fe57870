import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { CpuRateTracker } from '../../src/stats/cpu-rate.js';

const S = 1_000_000_000n;

describe('CpuRateTracker', () => {
  it('computes nano-cores between samples, undefined on the first', () => {
    const t = new CpuRateTracker();
    assert.equal(t.sample('a', 0n, 100n * S), undefined);
    // 1.5 s of CPU over 10 s: 0.15 cores.
    assert.equal(t.sample('a', 1_500_000_000n, 110n * S), 150_000_000);
    // 4 s of CPU over 2 s: 2 cores.
    assert.equal(t.sample('a', 5_500_000_000n, 112n * S), 2_000_000_000);
    assert.equal(t.peek('a'), 2_000_000_000);
    // Keys are independent.
    assert.equal(t.sample('b', 10n, 112n * S), undefined);
  });

  it('holds the baseline for samples closer than minInterval and returns the last rate', () => {
    const t = new CpuRateTracker(); // 1 s
    t.sample('a', 0n, 0n);
    assert.equal(t.sample('a', 1_000_000n, 5_000_000n), undefined, 'no rate over 5 ms');
    assert.equal(t.sample('a', 500_000_000n, 2n * S), 250_000_000, 'rate from the first sample, not the 5 ms one');
    assert.equal(t.sample('a', 600_000_000n, 2n * S + 10_000_000n), 250_000_000, 'burst caller gets the same rate');
    // Next rate is over [2 s, 4 s], the held baseline.
    assert.equal(t.sample('a', 2_500_000_000n, 4n * S), 1_000_000_000);
  });

  it('minIntervalNs 0n computes over any positive interval', () => {
    const t = new CpuRateTracker({ minIntervalNs: 0n });
    t.sample('a', 0n, 0n);
    assert.equal(t.sample('a', 1_000_000n, 2_000_000n), 500_000_000);
    assert.throws(() => new CpuRateTracker({ minIntervalNs: -1n }), RangeError);
  });

  it('ignores out-of-order samples and restarts after a counter reset', () => {
    const t = new CpuRateTracker();
    t.sample('a', 1_000n, 10n * S);
    assert.equal(t.sample('a', 1_000n + 2n * S, 12n * S), 1_000_000_000);
    assert.equal(t.sample('a', 500n, 11n * S), 1_000_000_000, 'older sample from a concurrent caller');
    assert.equal(t.sample('a', 2_000n + 2n * S, 12n * S), 1_000_000_000, 'same timestamp');
    assert.equal(t.sample('a', 10n, 20n * S), undefined, 'counter went backwards: new baseline');
    assert.equal(t.sample('a', 10n + 3n * S, 26n * S), 500_000_000);
  });

  it('rounds down, and handles counters beyond 2^53', () => {
    const t = new CpuRateTracker();
    const big = 1n << 62n;
    t.sample('a', big, 0n);
    assert.equal(t.sample('a', big + 1n, 3n * S), 0);
    assert.equal(t.sample('a', big + 1n + 1_000_000_000n, 6n * S), 333_333_333);
  });

  it('forgets keys', () => {
    const t = new CpuRateTracker();
    for (const k of ['a', 'b', 'c']) t.sample(k, 0n, 0n);
    t.forget('a');
    assert.equal(t.size, 2);
    t.retain(['c', 'z']);
    assert.equal(t.size, 1);
    assert.equal(t.sample('b', 5n * S, 5n * S), undefined, 'b starts over');
  });
});
