import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import * as grpc from '@grpc/grpc-js';

import { runCli, TestDaemon } from '../support/daemon.js';

interface Condition {
  type: string;
  status: boolean;
  reason: string;
  message: string;
}

async function waitFor<T>(what: string, probe: () => Promise<T | undefined>, timeoutMs = 10000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

const networkReady = async (d: TestDaemon): Promise<Condition> => {
  const res = await d.rt<{ status: { conditions: Condition[] } }>('Status');
  return res.status.conditions.find((c) => c.type === 'NetworkReady')!;
};

describe('daemon over its unix socket', () => {
  let d: TestDaemon;
  before(async () => {
    d = await TestDaemon.start();
  });
  after(async () => {
    await d?.destroy();
  });

  it('answers Version with the runtime name, package version and CRI v1', async () => {
    const pkg = JSON.parse(await fs.readFile(new URL('../../../package.json', import.meta.url), 'utf8')) as { version: string };
    const res = await d.rt('Version', { version: 'v1' });
    assert.deepEqual(res, { version: '0.1.0', runtimeName: 'skiff', runtimeVersion: pkg.version, runtimeApiVersion: 'v1' });
  });

  it('creates the socket with mode 0660', async () => {
    const st = await fs.stat(d.socket);
    assert.ok(st.isSocket());
    assert.equal(st.mode & 0o777, 0o660);
  });

  it('reports RuntimeReady, and NetworkReady false until a CNI config appears', async () => {
    const res = await d.rt<{ status: { conditions: Condition[] }; runtimeHandlers: { name: string }[] }>('Status');
    const runtimeReady = res.status.conditions.find((c) => c.type === 'RuntimeReady');
    assert.equal(runtimeReady?.status, true);
    const net = res.status.conditions.find((c) => c.type === 'NetworkReady')!;
    assert.equal(net.status, false);
    assert.equal(net.reason, 'NetworkPluginNotReady');
    assert.match(net.message, /cni config uninitialized/);
    assert.ok(
      res.runtimeHandlers.some((h) => h.name === 'runc'),
      'runc handler listed',
    );
    assert.ok(
      res.runtimeHandlers.some((h) => h.name === ''),
      'the default handler is listed under ""',
    );

    // A broken file is not a network; a valid one (lexically later) is.
    await fs.mkdir(d.cniConfDir, { recursive: true });
    await fs.writeFile(path.join(d.cniConfDir, '05-broken.conflist'), '{ not json');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal((await networkReady(d)).status, false);
    const conflist = { cniVersion: '1.0.0', name: 'testnet', plugins: [{ type: 'loopback' }] };
    await fs.writeFile(path.join(d.cniConfDir, '10-test.conflist'), JSON.stringify(conflist));
    await waitFor('NetworkReady', async () => ((await networkReady(d)).status ? true : undefined));

    const verbose = await d.rt<{ info: Record<string, string> }>('Status', { verbose: true });
    assert.equal(JSON.parse(verbose.info['cniConfig']!).name, 'testnet');
    const config = JSON.parse(verbose.info['config']!) as { root: string; listen: string };
    assert.equal(config.listen, d.socket);
    assert.equal(config.root, d.root);

    await fs.rm(path.join(d.cniConfDir, '10-test.conflist'));
    await waitFor('NetworkReady false again', async () => ((await networkReady(d)).status ? undefined : true));
  });

  it('reports the cgroupfs driver in RuntimeConfig', async () => {
    const res = await d.rt('RuntimeConfig');
    assert.deepEqual(res, { linux: { cgroupDriver: 'CGROUPFS' } });
  });

  it('stores the pod CIDR from UpdateRuntimeConfig and rejects a bad one', async () => {
    await d.rt('UpdateRuntimeConfig', { runtimeConfig: { networkConfig: { podCidr: '10.244.1.0/24,fd00:1::/64' } } });
    const verbose = await d.rt<{ info: Record<string, string> }>('Status', { verbose: true });
    assert.deepEqual(JSON.parse(verbose.info['podCidrs']!), ['10.244.1.0/24', 'fd00:1::/64']);
    const saved = JSON.parse(await fs.readFile(path.join(d.root, 'network', 'pod-cidr.json'), 'utf8')) as { cidrs: string[] };
    assert.deepEqual(saved.cidrs, ['10.244.1.0/24', 'fd00:1::/64']);
    await assert.rejects(
      d.rt('UpdateRuntimeConfig', { runtimeConfig: { networkConfig: { podCidr: '10.0.0.0/33' } } }),
      (err: grpc.ServiceError) => {
        assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
        assert.match(err.details, /10\.0\.0\.0\/33/);
        return true;
      },
    );
  });

  it('answers UNIMPLEMENTED naming the RPC for one not built yet', async () => {
    await assert.rejects(d.rt('CheckpointContainer', { containerId: 'x' }), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.UNIMPLEMENTED);
      assert.match(err.details, /RuntimeService\/CheckpointContainer/);
      return true;
    });
  });

  it('answers the Stream* list RPCs like their List counterparts', async () => {
    const read = <T>(method: string): Promise<T[]> => {
      const stream = (d.runtime as unknown as Record<string, (r: object) => grpc.ClientReadableStream<T>>)[method]!.call(d.runtime, {});
      const got: T[] = [];
      return new Promise((resolve, reject) => {
        stream.on('data', (m: T) => got.push(m));
        stream.on('error', reject);
        stream.on('end', () => resolve(got));
      });
    };
    assert.deepEqual(await read('StreamPodSandboxes'), [{ podSandboxes: [] }]);
    assert.deepEqual(await read('StreamContainers'), [{ containers: [] }]);
    assert.deepEqual(await read('StreamPodSandboxMetrics'), [{ podSandboxMetrics: [] }]);
  });

  it('refuses a second daemon on the same root', async () => {
    const other = path.join(d.dir, 'other');
    const res = await runCli([
      'daemon',
      '--config',
      d.configFile,
      '--state-dir',
      path.join(other, 'state'),
      '--listen',
      path.join(other, 's.sock'),
    ]);
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /another skiff daemon \(pid \d+\) is already using root directory/);
    // The running daemon is untouched.
    assert.equal((await d.rt<{ runtimeName: string }>('Version')).runtimeName, 'skiff');
  });
});

describe('daemon lifecycle', () => {
  it('runs side by side with another on different root, state dir and socket', async () => {
    const a = await TestDaemon.start();
    try {
      const b = await TestDaemon.start();
      try {
        assert.notEqual(a.socket, b.socket);
        assert.equal((await a.rt<{ runtimeName: string }>('Version')).runtimeName, 'skiff');
        assert.equal((await b.rt<{ runtimeName: string }>('Version')).runtimeName, 'skiff');
      } finally {
        await b.destroy();
      }
    } finally {
      await a.destroy();
    }
  });

  it('stops cleanly on SIGTERM and SIGINT: exit 0, socket removed, and starts again with its state', async () => {
    const d = await TestDaemon.start();
    try {
      await d.rt('UpdateRuntimeConfig', { runtimeConfig: { networkConfig: { podCidr: '10.9.0.0/16' } } });
      assert.match(d.output.text, /skiff \S+ serving CRI on .*skiff\.sock/);
      const exit = await d.stop('SIGTERM');
      assert.deepEqual(exit, { code: 0, signal: null });
      await assert.rejects(fs.stat(d.socket), { code: 'ENOENT' });

      const again = await TestDaemon.start({ dir: d.dir });
      const verbose = await again.rt<{ info: Record<string, string> }>('Status', { verbose: true });
      assert.deepEqual(JSON.parse(verbose.info['podCidrs']!), ['10.9.0.0/16']);
      assert.deepEqual(await again.stop('SIGINT'), { code: 0, signal: null });
      await assert.rejects(fs.stat(again.socket), { code: 'ENOENT' });
    } finally {
      await d.destroy();
    }
  });

  it('starts after a crash left a stale socket behind', async () => {
    const d = await TestDaemon.start();
    try {
      await d.stop('SIGKILL');
      assert.ok((await fs.stat(d.socket)).isSocket(), 'stale socket left by SIGKILL');
      const again = await TestDaemon.start({ dir: d.dir });
      assert.equal((await again.rt<{ runtimeName: string }>('Version')).runtimeName, 'skiff');
      await again.stop();
    } finally {
      await d.destroy();
    }
  });
});

describe('configuration errors stop the start with a clear message', () => {
  let dir: string;
  before(async () => {
    dir = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-cfg-'));
  });
  after(async () => {
    await fs.rm(dir, { recursive: true, force: true });
  });

  const startWith = async (toml: string): Promise<{ code: number | null; stderr: string }> => {
    const file = path.join(dir, 'config.toml');
    await fs.writeFile(file, toml);
    const paths = ['--root', path.join(dir, 'root'), '--state-dir', path.join(dir, 'state'), '--listen', path.join(dir, 's.sock')];
    return runCli(['daemon', '--config', file, ...paths]);
  };

  it('rejects an unknown key, naming it', async () => {
    const res = await startWith('log_level = "info"\n[cni]\nconf_dirs = "/etc/cni/net.d"\n');
    assert.equal(res.code, 2);
    assert.match(res.stderr, /config\.toml: cni\.conf_dirs: unknown key/);
  });

  it('rejects a value of the wrong type, naming the key and the expected type', async () => {
    const res = await startWith('[stream]\nport = "8080"\n');
    assert.equal(res.code, 2);
    assert.match(res.stderr, /stream\.port: expected an integer from 0 to 65535, got string "8080"/);
  });

  it('rejects a runtime handler whose binary is missing', async () => {
    const res = await startWith('[runtimes.fast]\npath = "/nonexistent/fast-runc"\n');
    assert.equal(res.code, 2);
    assert.match(res.stderr, /runtimes\.fast\.path: \/nonexistent\/fast-runc does not exist/);
  });

  it('tolerates a missing optional runtime handler and leaves it out of Status', async () => {
    const d = await TestDaemon.start({ extraToml: '[runtimes.maybe]\npath = "/nonexistent/maybe"\noptional = true\n' });
    try {
      const res = await d.rt<{ runtimeHandlers: { name: string }[] }>('Status');
      assert.ok(!res.runtimeHandlers.some((h) => h.name === 'maybe'));
      assert.match(d.output.text, /optional runtime handler unavailable/);
    } finally {
      await d.destroy();
    }
  });

  it('rejects an explicit config file that does not exist', async () => {
    const res = await runCli(['daemon', '--config', path.join(dir, 'missing.toml')]);
    assert.equal(res.code, 2);
    assert.match(res.stderr, /missing\.toml: cannot read/);
  });

  it('prints a default config that loads back to the defaults', async () => {
    const res = await runCli(['config', 'default']);
    assert.equal(res.code, 0);
    assert.match(res.stdout, /# Persistent state/);
    const file = path.join(dir, 'default.toml');
    await fs.writeFile(file, res.stdout);
    const check = await runCli(['config', 'check', '--config', file]);
    assert.equal(check.code, 0, check.stderr);
  });
});
