import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { isCidr } from '../../src/network/pod-cidr.js';

describe('isCidr', () => {
  it('accepts IPv4 and IPv6 CIDRs', () => {
    for (const c of ['10.244.0.0/16', '0.0.0.0/0', '192.168.1.0/32', 'fd00::/64', '::/0']) assert.ok(isCidr(c), c);
  });
  it('rejects malformed ones', () => {
    for (const c of ['10.244.0.0', '10.244.0.0/33', 'fd00::/129', '10.0.0/8', 'x/8', '10.0.0.0/-1', '10.0.0.0/']) assert.ok(!isCidr(c), c);
  });
});

import { bandwidthCapability, parseBandwidth } from '../../src/sandbox/bandwidth.js';

describe('bandwidth annotations', () => {
  it('parses Kubernetes quantities into bits per second', () => {
    assert.equal(parseBandwidth('10M', 'a'), 10_000_000);
    assert.equal(parseBandwidth('1Gi', 'a'), 1024 ** 3);
    assert.equal(parseBandwidth('500k', 'a'), 500_000);
    assert.throws(() => parseBandwidth('10 MB', 'kubernetes.io/ingress-bandwidth'), /ingress-bandwidth/);
  });
  it('builds the CNI capability only when asked', () => {
    assert.equal(bandwidthCapability({}), undefined);
    assert.deepEqual(Object.keys(bandwidthCapability({ 'kubernetes.io/egress-bandwidth': '1M' })!).sort(), ['egressBurst', 'egressRate']);
  });
});
