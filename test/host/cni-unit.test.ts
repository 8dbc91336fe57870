import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

import { parseCniConfig } from '../../src/network/cni/conf-dir.js';
import { findPlugin } from '../../src/network/cni/find-plugin.js';
import { cniArgs, pluginEnv, validateIfName } from '../../src/network/cni/plugin-env.js';
import { CniPluginError } from '../../src/network/cni/plugin-error.js';
import { parseAddResult, podIps } from '../../src/network/cni/result.js';
import { buildPluginConfig, runtimeConfigFor } from '../../src/network/cni/runtime-config.js';
import { KeyedSerializer } from '../../src/network/cni/sandbox-lock.js';
import type { CniPodInfo } from '../../src/network/cni/types.js';
import { compareCniVersions, versionAtLeast } from '../../src/network/cni/version.js';

const pod: CniPodInfo = { sandboxId: 'abc123', podName: 'web-0', podNamespace: 'default', podUid: 'u-1', netnsPath: '/run/netns/x' };

describe('CNI execution config', () => {
  it('injects list name and version, drops capabilities, filters runtimeConfig, attaches prevResult', () => {
    const plugin = {
      type: 'portmap',
      name: 'old',
      cniVersion: '0.3.1',
      capabilities: { portMappings: true, bandwidth: false },
      snat: true,
    };
    const caps = {
      portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' as const }],
      bandwidth: { ingressRate: 1000 },
      dns: { servers: ['1.1.1.1'] },
    };
    const prev = { cniVersion: '1.0.0', interfaces: [], ips: [] };
    const conf = buildPluginConfig({ plugin, networkName: 'net', cniVersion: '1.0.0', caps, prevResult: prev });
    assert.deepEqual(conf, {
      type: 'portmap',
      name: 'net',
      cniVersion: '1.0.0',
      snat: true,
      runtimeConfig: { portMappings: caps.portMappings },
      prevResult: prev,
    });
    assert.equal('capabilities' in plugin, true, 'the input entry is not mutated');
  });

  it('leaves runtimeConfig out when no declared capability has a value', () => {
    assert.equal(runtimeConfigFor({ type: 'x', capabilities: { portMappings: true } }, {}), undefined);
    const conf = buildPluginConfig({
      plugin: { type: 'bridge', prevResult: { stale: true } },
      networkName: 'n',
      cniVersion: '1.0.0',
      caps: { dns: {} },
    });
    assert.deepEqual(conf, { type: 'bridge', name: 'n', cniVersion: '1.0.0' });
  });
});

describe('CNI environment', () => {
  it('builds CNI_ARGS in the kubelet format and refuses unescapable values', () => {
    assert.equal(
      cniArgs(pod),
      'IgnoreUnknown=1;K8S_POD_NAMESPACE=default;K8S_POD_NAME=web-0;K8S_POD_INFRA_CONTAINER_ID=abc123;K8S_POD_UID=u-1',
    );
    assert.throws(() => cniArgs({ ...pod, podName: 'a;b' }), /must not contain/);
  });

  it('passes only the CNI variables and PATH', () => {
    const env = pluginEnv('ADD', ['/a', '/b'], pod);
    assert.deepEqual(Object.keys(env).sort(), [
      'CNI_ARGS',
      'CNI_COMMAND',
      'CNI_CONTAINERID',
      'CNI_IFNAME',
      'CNI_NETNS',
      'CNI_PATH',
      'PATH',
    ]);
    assert.equal(env['CNI_PATH'], '/a:/b');
    assert.equal(env['CNI_IFNAME'], 'eth0');
    assert.equal(pluginEnv('DEL', ['/a'], pod, '')['CNI_NETNS'], '');
    assert.deepEqual(Object.keys(pluginEnv('VERSION', ['/a'])).sort(), ['CNI_COMMAND', 'CNI_PATH', 'PATH']);
  });

  it('validates interface names as the spec does', () => {
    validateIfName('eth0');
    for (const bad of ['', '.', '..', 'a/b', 'a:b', 'a b', 'x'.repeat(16)]) assert.throws(() => validateIfName(bad));
  });
});

describe('CNI results and versions', () => {
  it('reads 1.0.0 and 0.4.0 results and refuses pre-0.3 ones', () => {
    const r = parseAddResult('bridge', {
      cniVersion: '0.4.0',
      interfaces: [
        { name: 'br0', mac: 'aa' },
        { name: 'eth0', sandbox: '/run/netns/x' },
      ],
      ips: [{ version: '4', address: '10.1.0.5/24', gateway: '10.1.0.1', interface: 1 }],
      routes: [{ dst: '0.0.0.0/0' }],
    });
    assert.deepEqual(r.ips, [{ address: '10.1.0.5/24', gateway: '10.1.0.1', interface: 1 }]);
    assert.deepEqual(r.interfaces[1], { name: 'eth0', sandbox: '/run/netns/x' });
    assert.deepEqual(podIps(r), ['10.1.0.5']);
    assert.throws(() => parseAddResult('old', { cniVersion: '0.2.0', ip4: { ip: '10.0.0.1/8' } }), /needs 0\.3\.0/);
    assert.throws(() => parseAddResult('x', { cniVersion: '1.0.0', ips: [{}] }), /has no address/);
  });

  it('orders versions numerically', () => {
    assert.ok(compareCniVersions('0.10.0', '0.4.0') > 0);
    assert.ok(versionAtLeast('1.0.0', '0.4.0'));
    assert.ok(!versionAtLeast('0.3.1', '0.4.0'));
    assert.ok(!versionAtLeast('garbage', '0.3.0'));
  });
});

describe('CNI plugin errors', () => {
  it('formats the message and maps codes to kinds', () => {
    const e = new CniPluginError('bridge', 11, 'busy', 'try later');
    assert.equal(e.message, 'CNI plugin bridge failed (code 11): busy: try later');
    assert.equal(e.kind, 'Internal');
    assert.equal(new CniPluginError('bridge', 7, 'bad').kind, 'FailedPrecondition');
    assert.equal(new CniPluginError('bridge', 7, 'bad').message, 'CNI plugin bridge failed (code 7): bad');
  });

  it('names every directory searched for a missing plugin and refuses path-like types', async () => {
    await assert.rejects(
      findPlugin('no-such-plugin', ['/usr/lib/cni', '/opt/cni/bin']),
      /"no-such-plugin" not found in \/usr\/lib\/cni, \/opt\/cni\/bin/,
    );
    await assert.rejects(findPlugin('../../bin/sh', ['/usr/lib/cni']), /invalid CNI plugin type/);
    assert.equal(await findPlugin('bridge', ['/nonexistent', '/usr/lib/cni']), '/usr/lib/cni/bridge');
  });
});

describe('KeyedSerializer', () => {
  it('runs one task at a time per key and keys in parallel', async () => {
    const lock = new KeyedSerializer();
    const events: string[] = [];
    const task = (name: string, ms: number) => async () => {
      events.push(`${name}+`);
      await new Promise((r) => setTimeout(r, ms));
      events.push(`${name}-`);
      return name;
    };
    const results = await Promise.all([lock.run('a', task('a1', 40)), lock.run('a', task('a2', 5)), lock.run('b', task('b1', 5))]);
    assert.deepEqual(results, ['a1', 'a2', 'b1']);
    assert.ok(events.indexOf('a1-') < events.indexOf('a2+'), events.join(' '));
    assert.ok(events.indexOf('b1+') < events.indexOf('a1-'), 'another key does not wait');
    assert.equal(lock.size, 0);
  });

  it('lets a queued waiter give up on abort without breaking the order behind it', async () => {
    const lock = new KeyedSerializer();
    const events: string[] = [];
    let open!: () => void;
    const first = lock.run('k', () => new Promise<void>((r) => (open = r)).then(() => void events.push('first')));
    const ac = new AbortController();
    const second = lock.run('k', async () => void events.push('second'), ac.signal);
    const third = lock.run('k', async () => void events.push('third'));
    ac.abort();
    await assert.rejects(second, /cancelled while queued/);
    await new Promise((r) => setTimeout(r, 10));
    assert.deepEqual(events, [], 'third still waits for first');
    open();
    await Promise.all([first, third]);
    assert.deepEqual(events, ['first', 'third']);
  });
});

describe('deploy/cni/10-skiff.conflist', () => {
  it('is a valid 1.0.0 list of bridge and portmap without loopback', async () => {
    const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
    const file = path.join(root, 'deploy/cni/10-skiff.conflist');
    const net = parseCniConfig(file, await fs.readFile(file, 'utf8'));
    assert.equal(net.cniVersion, '1.0.0');
    assert.equal(net.name, 'skiff');
    assert.deepEqual(
      net.plugins.map((p) => p['type']),
      ['bridge', 'portmap'],
    );
    assert.deepEqual(net.plugins[1]!['capabilities'], { portMappings: true });
  });
});
