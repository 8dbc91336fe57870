import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { SkiffError } from '../../src/errors.js';
import { offered } from '../../src/streaming/stream-server.js';
import { TokenCache } from '../../src/streaming/tokens.js';

describe('streaming tokens', () => {
  it('are unguessable, single use and expire', () => {
    let now = 1000;
    const tokens = new TokenCache<string>(60_000, 1000, () => now);
    const a = tokens.put('a');
    const b = tokens.put('b');
    assert.match(a, /^[A-Za-z0-9_-]{32}$/);
    assert.notEqual(a, b);
    assert.equal(tokens.take(a), 'a');
    assert.equal(tokens.take(a), undefined, 'used');
    now += 60_000;
    assert.equal(tokens.take(b), undefined, 'expired');
    assert.equal(tokens.take('unknown'), undefined);
  });

  it('refuses more than the limit pending with RESOURCE_EXHAUSTED, and expired ones free their place', () => {
    let now = 0;
    const tokens = new TokenCache<number>(1000, 3, () => now);
    for (let i = 0; i < 3; i++) tokens.put(i);
    assert.throws(
      () => tokens.put(4),
      (err: SkiffError) => err.kind === 'ResourceExhausted',
    );
    now = 1000;
    assert.ok(tokens.put(5));
  });

  it('reads offered protocols from repeated and comma-joined headers', () => {
    assert.deepEqual(offered(['v4.channel.k8s.io, v3.channel.k8s.io', 'channel.k8s.io']), [
      'v4.channel.k8s.io',
      'v3.channel.k8s.io',
      'channel.k8s.io',
    ]);
    assert.deepEqual(offered(undefined), []);
  });
});
