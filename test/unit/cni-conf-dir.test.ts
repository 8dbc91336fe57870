import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, it } from 'node:test';

import { loadCniConfigDir, parseCniConfig } from '../../src/network/cni/conf-dir.js';

describe('CNI config dir', () => {
  it('parses a conflist and a single-plugin conf', () => {
    const list = parseCniConfig(
      '/x/10.conflist',
      JSON.stringify({ cniVersion: '1.0.0', name: 'n', plugins: [{ type: 'bridge' }, { type: 'portmap' }] }),
    );
    assert.deepEqual(
      list.plugins.map((p) => p['type']),
      ['bridge', 'portmap'],
    );
    const one = parseCniConfig('/x/10.conf', JSON.stringify({ cniVersion: '0.4.0', name: 'm', type: 'bridge' }));
    assert.equal(one.plugins.length, 1);
    assert.throws(() => parseCniConfig('/x/a.conflist', JSON.stringify({ name: 'n', type: 'bridge' })), /needs a "plugins" array/);
    assert.throws(() => parseCniConfig('/x/a.conf', JSON.stringify({ type: 'bridge' })), /missing "name"/);
  });

  it('picks the lexically first valid file and explains an empty dir', async () => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-cni-'));
    try {
      const empty = await loadCniConfigDir(dir);
      assert.equal(empty.ready, false);
      await fs.writeFile(path.join(dir, '20-b.conflist'), JSON.stringify({ name: 'b', plugins: [{ type: 'loopback' }] }));
      await fs.writeFile(path.join(dir, '10-a.conf'), JSON.stringify({ name: 'a', type: 'loopback' }));
      await fs.writeFile(path.join(dir, '00-ignored.txt'), 'x');
      const state = await loadCniConfigDir(dir);
      assert.ok(state.ready);
      assert.equal(state.network.name, 'a');
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
