import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { isCidr } from '../../src/network/pod-cidr.js';

describe('isCidr', () => {
  it('accepts IPv4 and IPv6 CIDRs', () => {
    for (const c of ['10.244.0.0/16', '0.0.0.0/0', '192.168.1.0/32', 'fd00::/64', '::/0']) assert.ok(isCidr(c), c);
  });
  it('rejects malformed ones', () => {
    for (const c of ['10.244.0.0', '10.244.0.0/33', 'fd00::/129', '10.0.0/8', 'x/8', '10.0.0.0/-1', '10.0.0.0/']) assert.ok(!isCidr(c), c);
  });
});
