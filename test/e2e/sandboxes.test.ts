import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import * as grpc from '@grpc/grpc-js';

import { TestDaemon } from '../support/daemon.js';
import { ping, TestNetwork } from '../support/network.js';
import { podConfig } from '../support/pod-config.js';
import { freePort } from '../support/registry.js';

interface SandboxStatus {
  id: string;
  state: string;
  network: { ip: string; additionalIps: { ip: string }[] };
  linux: { namespaces: { options: { network: string; pid: string; ipc: string } } };
  labels: Record<string, string>;
  annotations: Record<string, string>;
  runtimeHandler: string;
  metadata: { name: string; uid: string; namespace: string; attempt: number };
}
interface Info {
  netnsPath: string;
  pins: { net?: string; uts?: string; ipc?: string };
  resolvConfPath: string;
  hostnamePath: string;
  shmPath: string;
}

const nsenter = (args: string[]): string => {
  const r = spawnSync('nsenter', args);
  assert.equal(r.status, 0, r.stderr.toString());
  return r.stdout.toString().trim();
};

describe('pod sandboxes with real CNI plugins', () => {
  let d: TestDaemon;
  let netw: TestNetwork;

  const run = async (config: Record<string, unknown>, handler = ''): Promise<string> =>
    (await d.rt<{ podSandboxId: string }>('RunPodSandbox', { config, runtimeHandler: handler })).podSandboxId;
  const status = async (id: string): Promise<{ status: SandboxStatus; info: Info }> => {
    const res = await d.rt<{ status: SandboxStatus; info: Record<string, string> }>('PodSandboxStatus', {
      podSandboxId: id,
      verbose: true,
    });
    return { status: res.status, info: JSON.parse(res.info['info']!) as Info };
  };

  before(async () => {
    d = await TestDaemon.start();
    netw = new TestNetwork(d.dir);
    await netw.install(d.cniConfDir);
    // Status follows the conf dir: wait for the network to be ready.
    await d.waitNetworkReady();
  });
  after(async () => {
    await d?.destroy();
    netw?.cleanup();
  });

  it('gives a pod an IP on the bridge that the host reaches, with DNS, hostname and sysctls applied', async () => {
    const config = podConfig({
      dnsConfig: { servers: ['10.96.0.10', '10.96.0.11'], searches: ['test.svc.cluster.local', 'svc.cluster.local'], options: ['ndots:5'] },
      linux: {
        sysctls: { 'kernel.shm_rmid_forced': '1', 'fs.mqueue.msg_max': '100', 'net.ipv4.ip_unprivileged_port_start': '80' },
        securityContext: { namespaceOptions: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } },
      },
    });
    const id = await run(config);
    assert.match(id, /^[a-f0-9]{64}$/);
    const { status: st, info } = await status(id);
    assert.equal(st.state, 'SANDBOX_READY');
    assert.ok(st.network.ip.startsWith(netw.subnet.split('.').slice(0, 3).join('.') + '.'), st.network.ip);
    assert.equal(st.runtimeHandler, 'runc');
    assert.deepEqual(st.labels, config['labels']);
    assert.deepEqual(st.annotations, { note: 'hello' });
    assert.equal(st.linux.namespaces.options.pid, 'CONTAINER');
    assert.ok(ping(st.network.ip), `ping ${st.network.ip}`);

    assert.equal(
      await fs.readFile(info.resolvConfPath, 'utf8'),
      'search test.svc.cluster.local svc.cluster.local\nnameserver 10.96.0.10\nnameserver 10.96.0.11\noptions ndots:5\n',
    );
    assert.equal(nsenter([`--uts=${info.pins.uts}`, 'hostname']), config['hostname'] as string);
    assert.equal(nsenter([`--ipc=${info.pins.ipc}`, 'sysctl', '-n', 'kernel.shm_rmid_forced']), '1');
    assert.equal(nsenter([`--ipc=${info.pins.ipc}`, 'sysctl', '-n', 'fs.mqueue.msg_max']), '100');
    assert.equal(nsenter([`--net=${info.pins.net}`, 'sysctl', '-n', 'net.ipv4.ip_unprivileged_port_start']), '80');
    assert.match(nsenter([`--net=${info.pins.net}`, 'ip', '-o', 'addr', 'show', 'lo']), /127\.0\.0\.1/);
    const shm = spawnSync('findmnt', ['-n', '-o', 'FSTYPE', info.shmPath]).stdout.toString().trim();
    assert.equal(shm, 'tmpfs');
  });

  it('maps a hostPort through portmap to a server in the pod', async () => {
    const hostPort = await freePort();
    const id = await run(podConfig({ portMappings: [{ protocol: 'TCP', containerPort: 8080, hostPort, hostIp: '' }] }));
    const { status: st, info } = await status(id);
    let server: ChildProcess | undefined;
    try {
      server = spawn('nsenter', [`--net=${info.pins.net}`, 'socat', 'TCP-LISTEN:8080,reuseaddr,fork', 'EXEC:/bin/echo pong'], {
        stdio: 'ignore',
      });
      const dial = (host: string): Promise<string> =>
        new Promise((resolve, reject) => {
          const c = net.connect(hostPort, host);
          let data = '';
          c.on('data', (b) => (data += b.toString()));
          c.on('end', () => resolve(data));
          c.on('error', reject);
          c.setTimeout(3000, () => c.destroy(new Error('timeout')));
        });
      let answer = '';
      for (let i = 0; i < 40 && answer === ''; i++) {
        answer = await dial(netw.gateway).catch(() => '');
        if (!answer) await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(answer.trim(), 'pong', `hostPort ${hostPort} → ${st.network.ip}:8080 via the gateway`);
      assert.equal((await dial('127.0.0.1')).trim(), 'pong', 'hostPort on 127.0.0.1');
    } finally {
      if (server?.pid) process.kill(server.pid, 'SIGKILL');
    }
  });

  it('gives a pod without a hostname the node hostname, whatever the length of its name', async () => {
    const id = await run(
      podConfig({ hostname: '', metadata: { name: 'p'.repeat(90), uid: `uid-long-${process.pid}`, namespace: 'test', attempt: 0 } }),
    );
    const { info } = await status(id);
    assert.equal(nsenter([`--uts=${info.pins.uts}`, 'hostname']), (await fs.readFile('/proc/sys/kernel/hostname', 'utf8')).trim());
  });

  it('passes bandwidth annotations to the CNI bandwidth plugin, and records pod resources', async () => {
    const id = await run(podConfig({ annotations: { 'kubernetes.io/ingress-bandwidth': '10M', 'kubernetes.io/egress-bandwidth': '20M' } }));
    const cache = JSON.parse(await fs.readFile(path.join(d.root, 'cni-cache', `${id}.json`), 'utf8')) as {
      capabilities?: { bandwidth?: { ingressRate: number; egressRate: number } };
    };
    assert.equal(cache.capabilities?.bandwidth?.ingressRate, 10_000_000);
    assert.equal(cache.capabilities?.bandwidth?.egressRate, 20_000_000);
    const qdiscs = spawnSync('tc', ['qdisc', 'show']).stdout.toString();
    assert.match(qdiscs, /tbf/, 'a token bucket shapes the pod traffic');
    await d.rt('UpdatePodSandboxResources', { podSandboxId: id, resources: { cpuShares: '1024', memoryLimitInBytes: String(256 << 20) } });
    const verbose = await d.rt<{ info: Record<string, string> }>('PodSandboxStatus', { podSandboxId: id, verbose: true });
    assert.equal(
      (JSON.parse(verbose.info['info']!) as { podResources: { resources: { cpuShares: string } } }).podResources.resources.cpuShares,
      '1024',
    );
    await assert.rejects(
      run(podConfig({ annotations: { 'kubernetes.io/ingress-bandwidth': 'fast' } })),
      (err: grpc.ServiceError) => err.code === grpc.status.INVALID_ARGUMENT && /fast/.test(err.details),
    );
    await d.rt('RemovePodSandbox', { podSandboxId: id });
  });

  it('answers a retried RunPodSandbox with the same id, and refuses the name with another config', async () => {
    const config = podConfig();
    const [a, b] = await Promise.all([run(config), run(config)]);
    assert.equal(a, b);
    assert.equal(await run(config), a);
    await assert.rejects(run({ ...config, hostname: 'different' }), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.ALREADY_EXISTS);
      return true;
    });
  });

  it('lists with filters on id prefix, state and labels', async () => {
    const id = await run(podConfig({ labels: { app: 'filtered', tier: 'x' } }));
    const list = async (filter: object) =>
      (await d.rt<{ items: { id: string; state: string }[] }>('ListPodSandbox', { filter })).items.map((i) => i.id);
    assert.deepEqual(await list({ id: id.slice(0, 12) }), [id]);
    assert.deepEqual(await list({ labelSelector: { app: 'filtered' } }), [id]);
    assert.deepEqual(await list({ labelSelector: { app: 'filtered', tier: 'y' } }), []);
    assert.ok((await list({ state: { state: 'SANDBOX_READY' } })).includes(id));
    await d.rt('StopPodSandbox', { podSandboxId: id });
    assert.ok(!(await list({ state: { state: 'SANDBOX_READY' } })).includes(id));
    assert.ok((await list({ state: { state: 'SANDBOX_NOTREADY' } })).includes(id));
  });

  it('stops and removes idempotently, leaving no netns, veth, lease or mount', async () => {
    const beforeLeases = (await netw.leases()).length;
    const beforeVeths = netw.attached().length;
    const id = await run(podConfig());
    const { info } = await status(id);
    assert.equal((await netw.leases()).length, beforeLeases + 1);
    assert.equal(netw.attached().length, beforeVeths + 1);
    await d.rt('StopPodSandbox', { podSandboxId: id });
    await d.rt('StopPodSandbox', { podSandboxId: id });
    const stopped = await status(id);
    assert.equal(stopped.status.state, 'SANDBOX_NOTREADY');
    assert.equal(stopped.status.network.ip, '');
    assert.equal((await netw.leases()).length, beforeLeases, 'lease released at stop');
    assert.equal(netw.attached().length, beforeVeths, 'veth gone at stop');
    await assert.rejects(fs.stat(info.pins.net!), { code: 'ENOENT' });
    await d.rt('RemovePodSandbox', { podSandboxId: id });
    await d.rt('RemovePodSandbox', { podSandboxId: id });
    await assert.rejects(fs.stat(path.dirname(info.resolvConfPath)), { code: 'ENOENT' });
    assert.equal(spawnSync('findmnt', [info.shmPath]).status, 1, 'shm unmounted');
    await assert.rejects(d.rt('PodSandboxStatus', { podSandboxId: id }), (err: grpc.ServiceError) => err.code === grpc.status.NOT_FOUND);
    // Unknown ids: stop and remove succeed (kubelet relies on it).
    await d.rt('StopPodSandbox', { podSandboxId: 'f'.repeat(64) });
    await d.rt('RemovePodSandbox', { podSandboxId: 'f'.repeat(64) });
  });

  it('runs a host-network pod in the host namespaces', async () => {
    const id = await run(
      podConfig({ linux: { securityContext: { namespaceOptions: { network: 'NODE', pid: 'CONTAINER', ipc: 'NODE' } } } }),
    );
    const { status: st, info } = await status(id);
    assert.equal(st.state, 'SANDBOX_READY');
    assert.equal(st.network.ip, '');
    assert.equal(info.netnsPath, '');
    assert.deepEqual(info.pins, {});
    assert.equal(info.shmPath, '/dev/shm');
    assert.equal((await fs.readFile(info.hostnamePath, 'utf8')).trim(), (await fs.readFile('/proc/sys/kernel/hostname', 'utf8')).trim());
    await assert.rejects(
      run(
        podConfig({
          linux: { sysctls: { 'net.ipv4.ip_forward': '1' }, securityContext: { namespaceOptions: { network: 'NODE', pid: 'CONTAINER' } } },
        }),
      ),
      (err: grpc.ServiceError) => {
        assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
        assert.match(err.details, /net\.ipv4\.ip_forward/);
        return true;
      },
    );
  });

  it('rejects bad requests with INVALID_ARGUMENT and leaves nothing', async () => {
    const before = await d.rt<{ items: unknown[] }>('ListPodSandbox');
    for (const [config, pattern] of [
      [podConfig({ metadata: { name: '', uid: 'u', namespace: 'n' } }), /metadata\.name/],
      [podConfig({ metadata: { name: 'x', uid: '', namespace: 'n' } }), /metadata\.uid/],
      [
        podConfig({ linux: { sysctls: { 'kernel.panic': '1' }, securityContext: { namespaceOptions: { pid: 'CONTAINER' } } } }),
        /kernel\.panic/,
      ],
    ] as const) {
      await assert.rejects(run(config), (err: grpc.ServiceError) => {
        assert.equal(err.code, grpc.status.INVALID_ARGUMENT, err.details);
        assert.match(err.details, pattern);
        return true;
      });
    }
    await assert.rejects(
      run(podConfig(), 'no-such-handler'),
      (err: grpc.ServiceError) => err.code === grpc.status.INVALID_ARGUMENT && /no-such-handler/.test(err.details),
    );
    assert.equal((await d.rt<{ items: unknown[] }>('ListPodSandbox')).items.length, before.items.length);
  });

  it('finishes or rolls back a RunPodSandbox cut short by kill -9, leaking nothing', async () => {
    for (const delay of [5, 25, 60]) {
      const pending = run(podConfig()).catch(() => undefined);
      await new Promise((r) => setTimeout(r, delay));
      const dir = d.dir;
      await d.stop('SIGKILL');
      await pending;
      d = await TestDaemon.start({ dir });
      const items = (await d.rt<{ items: { id: string; state: string }[] }>('ListPodSandbox')).items;
      const ids = new Set(items.map((i) => i.id));
      const ips = new Set<string>();
      for (const i of items.filter((x) => x.state === 'SANDBOX_READY')) ips.add((await status(i.id)).status.network.ip);
      for (const pin of await fs.readdir(path.join(d.stateDir, 'ns')))
        assert.ok(ids.has(pin.split('.')[0]!), `pin ${pin} belongs to a listed pod (delay ${delay})`);
      for (const lease of await netw.leases()) assert.ok(ips.has(lease), `lease ${lease} belongs to a ready pod (delay ${delay})`);
      for (const podDir of await fs.readdir(path.join(d.stateDir, 'pods')))
        assert.ok(ids.has(podDir), `pod dir ${podDir} belongs to a listed pod`);
    }
  });

  it('keeps pods listed and reachable across a daemon restart (kill -9 included)', async () => {
    const id = await run(podConfig());
    const { status: st } = await status(id);
    const dir = d.dir;
    await d.stop('SIGKILL');
    d = await TestDaemon.start({ dir });
    const again = await status(id);
    assert.equal(again.status.state, 'SANDBOX_READY');
    assert.equal(again.status.network.ip, st.network.ip);
    assert.ok(ping(st.network.ip));
  });
});

describe('pod sandbox with a broken CNI config', () => {
  it('fails RunPodSandbox with the plugin message and leaks nothing', async () => {
    const d = await TestDaemon.start();
    const netw = new TestNetwork(d.dir);
    try {
      const broken = netw.conflist([]) as { plugins: { ipam: { ranges: { subnet: string }[][] } }[] };
      broken.plugins[0]!.ipam.ranges[0]![0]!.subnet = '10.999.0.0/24';
      await netw.install(d.cniConfDir, broken);
      await d.waitNetworkReady();
      await assert.rejects(d.rt('RunPodSandbox', { config: podConfig() }), (err: grpc.ServiceError) => {
        assert.match(err.details, /bridge|host-local|10\.999/);
        return true;
      });
      assert.deepEqual((await d.rt<{ items: unknown[] }>('ListPodSandbox')).items, []);
      assert.deepEqual(await fs.readdir(path.join(d.stateDir, 'ns')), []);
      assert.deepEqual(await netw.leases(), []);
      assert.deepEqual(await fs.readdir(path.join(d.stateDir, 'pods')).catch(() => []), []);
    } finally {
      await d.destroy();
      netw.cleanup();
    }
  });
});
