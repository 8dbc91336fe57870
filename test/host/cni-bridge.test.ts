// The CNI runtime against the host's real plugins (/usr/lib/cni: bridge,
// host-local, portmap, loopback). Needs root. Every test owns its netns, bridge,
// subnet and host-local data dir, and removes them (and any iptables rules
// naming its sandboxes) afterwards, so it can run beside other users of the host.
import assert from 'node:assert/strict';
import { execFile, spawn } from 'node:child_process';
import { randomBytes, randomInt } from 'node:crypto';
import { promises as fs } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { before, describe, it } from 'node:test';
import { promisify } from 'node:util';

import { SkiffError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import {
  type CniNetworkConfig,
  CniPluginError,
  type CniPodInfo,
  CniRuntime,
  podIps,
  setupLoopback,
  teardownLoopback,
} from '../../src/network/cni/index.js';

const run = promisify(execFile);
const BIN_DIRS = ['/usr/lib/cni'];
const log = createLogger(process.env['SKIFF_TEST_LOG'] ?? 'silent');
const skip = process.getuid?.() !== 0 ? 'needs root' : false;

const exists = (f: string) =>
  fs.access(f).then(
    () => true,
    () => false,
  );
const quiet = (p: Promise<unknown>) => p.catch(() => undefined);

/** Splits `iptables -S` output into argv, honouring its double quotes and \" escapes. */
function splitRule(line: string): string[] {
  const out: string[] = [];
  let cur = '';
  let quoted = false;
  let has = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted && c === '\\' && i + 1 < line.length) {
      cur += line[++i];
      continue;
    }
    if (c === '"') {
      quoted = !quoted;
      has = true;
      continue;
    }
    if (!quoted && c === ' ') {
      if (has || cur) out.push(cur);
      cur = '';
      has = false;
      continue;
    }
    cur += c;
  }
  if (has || cur) out.push(cur);
  return out;
}

/** Best effort: removes rules whose comment names one of our sandbox ids, and their private chains. */
async function cleanupIptables(ids: string[]): Promise<void> {
  for (const table of ['nat', 'filter', 'mangle']) {
    const { stdout } = await run('iptables', ['-w', '-t', table, '-S']).catch(() => ({ stdout: '' }));
    const chains = new Set<string>();
    for (const line of stdout.split('\n')) {
      if (!line.startsWith('-A ') || !ids.some((id) => line.includes(id))) continue;
      const argv = splitRule(line);
      const j = argv.indexOf('-j');
      if (j >= 0 && /^CNI-/.test(argv[j + 1] ?? '') && !argv[j + 1]!.startsWith('CNI-HOSTPORT-')) chains.add(argv[j + 1]!);
      await quiet(run('iptables', ['-w', '-t', table, '-D', ...argv.slice(1)]));
    }
    for (const c of chains) {
      await quiet(run('iptables', ['-w', '-t', table, '-F', c]));
      await quiet(run('iptables', ['-w', '-t', table, '-X', c]));
    }
  }
}

/** A /24 in 10.231.0.0/16 that no route on this host uses yet. */
async function freeSubnet(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const n = randomInt(1, 255);
    const { stdout } = await run('ip', ['-4', 'route', 'show', 'match', `10.231.${n}.1`]);
    if (!stdout.split('\n').some((l) => l.startsWith(`10.231.${n}.`))) return n;
  }
  throw new Error('no free 10.231.x.0/24');
}

interface Env {
  ns: string;
  nsPath: string;
  bridge: string;
  subnet: number;
  dir: string;
  dataDir: string;
  rt: CniRuntime;
  network: CniNetworkConfig;
  pod: CniPodInfo;
  ids: string[];
}

async function makeEnv(opts: { subnetOverride?: string; extraPlugins?: Record<string, unknown>[] } = {}): Promise<Env> {
  const tag = randomBytes(2).toString('hex');
  const ns = `skiff-cnitest-${randomBytes(4).toString('hex')}`;
  await run('ip', ['netns', 'add', ns]);
  const subnet = await freeSubnet();
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-cni-real-'));
  const dataDir = path.join(dir, 'ipam');
  const bridge = `skcni${tag}`;
  const raw = {
    cniVersion: '1.0.0',
    name: `sktest${tag}`,
    plugins: [
      {
        type: 'bridge',
        bridge,
        isGateway: true,
        ipMasq: true,
        hairpinMode: true,
        ipam: { type: 'host-local', subnet: opts.subnetOverride ?? `10.231.${subnet}.0/24`, routes: [{ dst: '0.0.0.0/0' }], dataDir },
      },
      { type: 'portmap', capabilities: { portMappings: true }, snat: true },
      ...(opts.extraPlugins ?? []),
    ],
  };
  const network: CniNetworkConfig = {
    file: path.join(dir, '10-test.conflist'),
    name: raw.name,
    cniVersion: raw.cniVersion,
    plugins: raw.plugins,
    raw,
  };
  const rt = new CniRuntime({ binDirs: BIN_DIRS, cacheDir: path.join(dir, 'cache'), log });
  const sandboxId = `skcnitest${randomBytes(6).toString('hex')}`;
  const pod: CniPodInfo = { sandboxId, podName: 'web', podNamespace: 'default', podUid: 'uid-1', netnsPath: `/run/netns/${ns}` };
  return { ns, nsPath: pod.netnsPath, bridge, subnet, dir, dataDir, rt, network, pod, ids: [sandboxId] };
}

async function destroyEnv(e: Env): Promise<void> {
  for (const id of e.ids) await quiet(e.rt.del(e.network, { ...e.pod, sandboxId: id }));
  await quiet(run('ip', ['netns', 'del', e.ns]));
  await quiet(fs.rm(e.nsPath, { force: true })); // a plain file some tests leave there
  await quiet(run('ip', ['link', 'del', e.bridge]));
  await cleanupIptables(e.ids);
  await fs.rm(e.dir, { recursive: true, force: true });
}

/** IPs host-local holds for this network: one file per address in <dataDir>/<network name>/. */
async function allocatedIps(e: Env): Promise<string[]> {
  const names = await fs.readdir(path.join(e.dataDir, e.network.name)).catch(() => [] as string[]);
  return names.filter((n) => /^\d+\.\d+\.\d+\.\d+$/.test(n));
}

/** Sends a line over TCP and resolves with what comes back before the peer closes or 2 s pass. */
function echo(host: string, port: number, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    let got = '';
    const timer = setTimeout(() => {
      sock.destroy();
      resolve(got);
    }, 2000);
    sock.on('connect', () => sock.write(text));
    sock.on('data', (d) => {
      got += d.toString();
      if (got.includes(text)) {
        clearTimeout(timer);
        sock.end();
        resolve(got);
      }
    });
    sock.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

async function eventually<T>(fn: () => Promise<T>, tries = 20, ms = 100): Promise<T> {
  let last: unknown;
  for (let i = 0; i < tries; i++) {
    try {
      return await fn();
    } catch (err) {
      last = err;
      await new Promise((r) => setTimeout(r, ms));
    }
  }
  throw last;
}

describe('CNI runtime with the real plugins', { skip }, () => {
  before(async () => {
    for (const p of ['bridge', 'host-local', 'portmap', 'loopback']) await fs.access(path.join(BIN_DIRS[0]!, p));
  });

  it('ADD gives an IP on eth0 that the host can ping and a hostPort that reaches the pod; DEL releases it, twice', async () => {
    const e = await makeEnv();
    let server: ReturnType<typeof spawn> | undefined;
    try {
      const hostPort = randomInt(30000, 40000);
      const res = await e.rt.add(e.network, e.pod, { portMappings: [{ hostPort, containerPort: 8080, protocol: 'tcp' }] });
      const [ip] = podIps(res);
      assert.ok(ip, 'an IPv4 address');
      assert.ok(ip.startsWith(`10.231.${e.subnet}.`), `${ip} in 10.231.${e.subnet}.0/24`);
      assert.equal(res.cniVersion, '1.0.0');
      assert.ok(res.interfaces.some((i) => i.name === 'eth0' && i.sandbox === e.nsPath));

      const { stdout: addr } = await run('ip', ['-n', e.ns, '-o', '-4', 'addr', 'show', 'dev', 'eth0']);
      assert.match(addr, new RegExp(`inet ${ip.replace(/\./g, '\\.')}/24`));
      await run('ping', ['-c1', '-W1', ip]);

      // An echo server inside the pod; the host reaches it through portmap's DNAT.
      server = spawn('ip', ['netns', 'exec', e.ns, 'socat', 'TCP-LISTEN:8080,reuseaddr,fork', 'PIPE'], { stdio: 'ignore' });
      assert.equal(await eventually(() => echo(ip, 8080, 'direct\n')), 'direct\n', 'the server answers on the pod IP');
      assert.equal(
        await eventually(() => echo('127.0.0.1', hostPort, 'via-localhost\n')),
        'via-localhost\n',
        '127.0.0.1:hostPort (portmap snat + route_localnet)',
      );
      assert.equal(await echo(`10.231.${e.subnet}.1`, hostPort, 'via-gateway\n'), 'via-gateway\n', 'the bridge address:hostPort');
      const { stdout: rl } = await run('sysctl', ['-n', `net.ipv4.conf.${e.bridge}.route_localnet`]);
      assert.equal(rl.trim(), '1', 'portmap turned on route_localnet on the bridge');

      const cached = await e.rt.cachedResult(e.pod.sandboxId);
      assert.deepEqual(cached, res);
      // CHECK of bridge + host-local. Not portmap: Debian's 1.1.1 fails CHECK for
      // IPv4-only pods (looks for ip6tables chains; containernetworking/plugins#819).
      await e.rt.check({ ...e.network, plugins: [e.network.plugins[0]!] }, e.pod);
      assert.deepEqual(await allocatedIps(e), [ip]);

      await e.rt.del(e.network, e.pod);
      assert.deepEqual(await allocatedIps(e), [], 'host-local released the IP');
      assert.equal(await e.rt.cachedResult(e.pod.sandboxId), undefined);
      const { stdout: nat } = await run('iptables', ['-w', '-t', 'nat', '-S']);
      assert.ok(!nat.includes(e.pod.sandboxId), 'no NAT rule names the sandbox any more');
      await e.rt.del(e.network, e.pod); // idempotent
      await e.rt.del(undefined, e.pod);
    } finally {
      server?.kill('SIGKILL');
      await destroyEnv(e);
    }
  });

  it('DEL works once the netns is gone, and with a stale non-namespace file at its path', async () => {
    const e = await makeEnv();
    const second: CniPodInfo = { ...e.pod, sandboxId: `${e.pod.sandboxId}b` };
    e.ids.push(second.sandboxId);
    const ns2 = `${e.ns}b`;
    try {
      await run('ip', ['netns', 'add', ns2]);
      second.netnsPath = `/run/netns/${ns2}`;
      await e.rt.add(e.network, e.pod, {});
      await e.rt.add(e.network, second, {});
      assert.equal((await allocatedIps(e)).length, 2);

      await run('ip', ['netns', 'del', e.ns]);
      assert.equal(await exists(e.nsPath), false);
      await e.rt.del(e.network, e.pod);

      // Like a pin left behind by a reboot: a plain file where the namespace was.
      await run('ip', ['netns', 'del', ns2]);
      await fs.writeFile(second.netnsPath, '');
      await e.rt.del(e.network, second);
      assert.deepEqual(await allocatedIps(e), []);
    } finally {
      await quiet(run('ip', ['netns', 'del', ns2]));
      await quiet(fs.rm(second.netnsPath, { force: true }));
      await destroyEnv(e);
    }
  });

  it('a broken config fails ADD with the plugin code and msg and leaves no IP allocated', async () => {
    const e = await makeEnv({ subnetOverride: 'not-a-cidr' });
    try {
      const err = await e.rt.add(e.network, e.pod, {}).catch((x: unknown) => x);
      assert.ok(err instanceof CniPluginError, String(err));
      assert.equal(err.plugin, 'bridge');
      assert.equal(err.code, 999);
      assert.equal(err.msg, 'invalid CIDR address: not-a-cidr');
      assert.equal(err.message, 'CNI plugin bridge failed (code 999): invalid CIDR address: not-a-cidr');
      assert.deepEqual(await allocatedIps(e), []);
      // bridge fails DEL with this config just as it failed ADD, so the rollback could
      // not finish: the intent stays cached, and DEL with the same config keeps failing.
      assert.equal(await exists(path.join(e.dir, 'cache', `${e.pod.sandboxId}.json`)), true);
      await assert.rejects(e.rt.del(e.network, e.pod), /invalid CIDR address/);
      // Once the config is fixed, DEL succeeds and removes what bridge had made.
      const fixed = structuredClone(e.network);
      (fixed.plugins[0]!['ipam'] as Record<string, unknown>)['subnet'] = `10.231.${e.subnet}.0/24`;
      await e.rt.del(fixed, e.pod);
      const { stdout: links } = await run('ip', ['-n', e.ns, '-o', 'link', 'show']);
      assert.ok(!links.includes('eth0'), 'the pod interface is gone');
      assert.equal(await exists(path.join(e.dir, 'cache', `${e.pod.sandboxId}.json`)), false);
    } finally {
      await destroyEnv(e);
    }
  });

  it('a plugin failing ADD mid-chain makes the whole chain DEL: the IP taken before is released', async () => {
    const e = await makeEnv({ extraPlugins: [{ type: 'tuning', sysctl: { 'net.ipv4.conf.eth0.skiff_no_such_key': '1' } }] });
    try {
      const err = await e.rt.add(e.network, e.pod, {}).catch((x: unknown) => x);
      assert.ok(err instanceof CniPluginError, String(err));
      assert.equal(err.plugin, 'tuning');
      assert.deepEqual(await allocatedIps(e), [], 'bridge/host-local were rolled back');
      const { stdout: links } = await run('ip', ['-n', e.ns, '-o', 'link', 'show']);
      assert.ok(!links.includes('eth0'));
      assert.equal(await exists(path.join(e.dir, 'cache', `${e.pod.sandboxId}.json`)), false);
      await e.rt.del(e.network, e.pod);
    } finally {
      await destroyEnv(e);
    }
  });

  it('a missing plugin type is a clear error naming the directories searched', async () => {
    const e = await makeEnv({ extraPlugins: [{ type: 'skiff-no-such-plugin' }] });
    try {
      await assert.rejects(
        e.rt.add(e.network, e.pod, {}),
        (x: unknown) =>
          x instanceof SkiffError &&
          x.kind === 'FailedPrecondition' &&
          x.message === 'CNI plugin "skiff-no-such-plugin" not found in /usr/lib/cni',
      );
      assert.deepEqual(await allocatedIps(e), []);
    } finally {
      await destroyEnv(e);
    }
  });

  it('VERSION reports what the plugin speaks', async () => {
    const rt = new CniRuntime({ binDirs: BIN_DIRS, cacheDir: path.join(os.tmpdir(), 'skiff-cni-unused'), log });
    const v = await rt.version('bridge');
    assert.equal(v.cniVersion, '1.0.0');
    assert.ok(v.supportedVersions.includes('1.0.0') && v.supportedVersions.includes('0.4.0'));
  });

  it('serialises a concurrent ADD and DEL of one sandbox; other sandboxes proceed in parallel', async () => {
    const e = await makeEnv();
    const other: CniPodInfo = { ...e.pod, sandboxId: `${e.pod.sandboxId}o`, ifName: 'eth1' };
    e.ids.push(other.sandboxId);
    try {
      const order: string[] = [];
      const add = e.rt.add(e.network, e.pod, {}).then((r) => (order.push('add'), r));
      const del = e.rt.del(e.network, e.pod).then(() => void order.push('del'));
      const addOther = e.rt.add(e.network, other, {}).then((r) => (order.push('add-other'), r));
      const [res, , resOther] = await Promise.all([add, del, addOther]);
      assert.ok(order.indexOf('add') < order.indexOf('del'), order.join(','));
      assert.notEqual(podIps(res)[0], podIps(resOther)[0]);
      // The DEL ran after the ADD completed, so only the other sandbox holds an address.
      assert.deepEqual(await allocatedIps(e), [podIps(resOther)[0]]);
      assert.equal(await e.rt.cachedResult(e.pod.sandboxId), undefined);
      await e.rt.del(undefined, other);
      assert.deepEqual(await allocatedIps(e), []);
    } finally {
      await destroyEnv(e);
    }
  });

  it('brings lo up with the built-in loopback config and tears it down, also after the netns is gone', async () => {
    const e = await makeEnv();
    try {
      await setupLoopback(e.rt, e.pod);
      const { stdout } = await run('ip', ['-n', e.ns, '-o', 'link', 'show', 'lo']);
      assert.match(stdout, /[<,]UP[,>]/);
      const { stdout: a } = await run('ip', ['-n', e.ns, '-o', '-4', 'addr', 'show', 'dev', 'lo']);
      assert.match(a, /127\.0\.0\.1\/8/);
      await teardownLoopback(e.rt, e.pod);
      await run('ip', ['netns', 'del', e.ns]);
      await teardownLoopback(e.rt, e.pod);
    } finally {
      await destroyEnv(e);
    }
  });
});
