// The CNI runtime against scripted stand-in plugins: the protocol (stdin, env,
// order, prevResult, caching) and the failure paths that real plugins cannot be
// made to take on demand (hangs, aborts, a failing link mid-chain).
import assert from 'node:assert/strict';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import { SkiffError } from '../../src/errors.js';
import { createLogger } from '../../src/log.js';
import { type CniNetworkConfig, CniPluginError, type CniPodInfo, CniRuntime } from '../../src/network/cni/index.js';

// A fake plugin: logs what it was given, sleeps or fails as its config says, and
// on ADD extends prevResult (or starts a result) so chaining is visible.
const FAKE_PLUGIN = `#!${process.execPath}
const fs = require('fs');
const conf = JSON.parse(fs.readFileSync(0, 'utf8'));
const cmd = process.env.CNI_COMMAND;
const f = conf.fake || {};
const env = {};
for (const k of Object.keys(process.env)) if (k.startsWith('CNI_') || k === 'PATH') env[k] = process.env[k];
const log = (rec) => f.log && fs.appendFileSync(f.log, JSON.stringify({ type: conf.type, cmd, id: process.env.CNI_CONTAINERID, pid: process.pid, t: Date.now(), ...rec }) + '\\n');
log({ phase: 'start', conf, env });
const ms = (f.sleepMs && f.sleepMs[cmd]) || 0;
if (ms) Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
log({ phase: 'end' });
const fail = f.fail && f.fail[cmd];
if (fail === 'bare') { process.stderr.write('fake plugin: disk on fire\\n'); process.exit(3); }
if (fail) { process.stdout.write(JSON.stringify({ cniVersion: conf.cniVersion, code: fail.code, msg: fail.msg, details: fail.details })); process.exit(1); }
if (cmd === 'VERSION') process.stdout.write(JSON.stringify({ cniVersion: conf.cniVersion, supportedVersions: ['0.3.1', '0.4.0', '1.0.0'] }));
if (cmd === 'ADD') {
  const prev = conf.prevResult;
  const out = prev
    ? { ...prev, interfaces: [...prev.interfaces, { name: conf.type + '-host' }] }
    : { cniVersion: conf.cniVersion, interfaces: [{ name: process.env.CNI_IFNAME, sandbox: process.env.CNI_NETNS }], ips: [{ address: '10.9.9.9/24', gateway: '10.9.9.1', interface: 0 }] };
  process.stdout.write(JSON.stringify(out));
}
`;

interface LogRec {
  type: string;
  cmd: string;
  id: string;
  pid: number;
  t: number;
  phase: 'start' | 'end';
  conf?: Record<string, unknown>;
  env?: Record<string, string>;
}

let root: string;
let binDir: string;
const log = createLogger(process.env['SKIFF_TEST_LOG'] ?? 'silent');

async function readLog(file: string): Promise<LogRec[]> {
  try {
    return (await fs.readFile(file, 'utf8'))
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as LogRec);
  } catch {
    return [];
  }
}
const starts = (recs: LogRec[]): string[] => recs.filter((r) => r.phase === 'start').map((r) => `${r.cmd} ${r.type}`);

let seq = 0;
async function setup(
  pluginFake: Record<string, Record<string, unknown>> = {},
  cniVersion = '1.0.0',
  opts: { timeoutMs?: number; extra?: Record<string, unknown> } = {},
) {
  const dir = await fs.mkdtemp(path.join(root, 't-'));
  const logFile = path.join(dir, 'calls.log');
  const network: CniNetworkConfig = {
    file: path.join(dir, 'fake.conflist'),
    name: 'fakenet',
    cniVersion,
    plugins: [
      {
        type: 'fake-a',
        name: 'ignored',
        cniVersion: '0.3.1',
        capabilities: { portMappings: true },
        fake: { log: logFile, ...(pluginFake['fake-a'] ?? {}) },
      },
      { type: 'fake-b', capabilities: { bandwidth: true }, fake: { log: logFile, ...(pluginFake['fake-b'] ?? {}) } },
    ],
    raw: { name: 'fakenet', cniVersion, ...(opts.extra ?? {}) },
  };
  const rt = new CniRuntime({
    binDirs: ['/nonexistent-bin', binDir],
    cacheDir: path.join(dir, 'cache'),
    log,
    ...(opts.timeoutMs ? { pluginTimeoutMs: opts.timeoutMs } : {}),
  });
  seq++;
  const pod: CniPodInfo = { sandboxId: `sb${seq}`, podName: 'web', podNamespace: 'ns1', podUid: 'uid-1', netnsPath: '/run/netns/none' };
  return { dir, logFile, network, rt, pod, cacheFile: path.join(dir, 'cache', `${pod.sandboxId}.json`) };
}

const exists = (f: string) =>
  fs.access(f).then(
    () => true,
    () => false,
  );
const alive = (pid: number) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('CNI runtime with scripted plugins', () => {
  before(async () => {
    root = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-cni-chain-'));
    binDir = path.join(root, 'bin');
    await fs.mkdir(binDir);
    for (const name of ['fake-a', 'fake-b']) await fs.writeFile(path.join(binDir, name), FAKE_PLUGIN, { mode: 0o755 });
  });
  after(async () => {
    await fs.rm(root, { recursive: true, force: true });
  });

  it('feeds each plugin the derived config and environment, chains prevResult, caches, and DELs in reverse', async () => {
    const t = await setup();
    const caps = {
      portMappings: [{ hostPort: 8080, containerPort: 80, protocol: 'tcp' as const }],
      bandwidth: { egressRate: 1e6 },
      dns: { servers: ['10.0.0.10'] },
    };
    const res = await t.rt.add(t.network, t.pod, caps);
    assert.deepEqual(res.ips, [{ address: '10.9.9.9/24', gateway: '10.9.9.1', interface: 0 }]);
    assert.deepEqual(
      res.interfaces.map((i) => i.name),
      ['eth0', 'fake-b-host'],
    );

    const recs = (await readLog(t.logFile)).filter((r) => r.phase === 'start');
    const [a, b] = recs;
    assert.deepEqual(a!.conf, {
      type: 'fake-a',
      name: 'fakenet',
      cniVersion: '1.0.0',
      fake: (t.network.plugins[0] as { fake: unknown }).fake,
      runtimeConfig: { portMappings: caps.portMappings },
    });
    assert.deepEqual(b!.conf!['runtimeConfig'], { bandwidth: caps.bandwidth });
    assert.equal((b!.conf!['prevResult'] as { ips: unknown[] }).ips.length, 1);
    assert.deepEqual(a!.env, {
      CNI_COMMAND: 'ADD',
      CNI_CONTAINERID: t.pod.sandboxId,
      CNI_NETNS: '/run/netns/none',
      CNI_IFNAME: 'eth0',
      CNI_PATH: `/nonexistent-bin:${binDir}`,
      CNI_ARGS: `IgnoreUnknown=1;K8S_POD_NAMESPACE=ns1;K8S_POD_NAME=web;K8S_POD_INFRA_CONTAINER_ID=${t.pod.sandboxId};K8S_POD_UID=uid-1`,
      PATH: process.env['PATH'],
    });

    const cached = JSON.parse(await fs.readFile(t.cacheFile, 'utf8'));
    assert.deepEqual(cached.result, res.raw);
    assert.deepEqual(cached.capabilities, caps);
    assert.deepEqual((await t.rt.cachedResult(t.pod.sandboxId))?.raw, res.raw);

    await t.rt.check(t.network, t.pod);
    await t.rt.del(undefined, t.pod);
    const all = (await readLog(t.logFile)).filter((r) => r.phase === 'start');
    assert.deepEqual(starts(all), ['ADD fake-a', 'ADD fake-b', 'CHECK fake-a', 'CHECK fake-b', 'DEL fake-b', 'DEL fake-a']);
    for (const r of all.slice(2)) {
      assert.deepEqual(r.conf!['prevResult'], res.raw, `${r.cmd} ${r.type} gets the final ADD result`);
    }
    assert.deepEqual(all[4]!.conf!['runtimeConfig'], { bandwidth: caps.bandwidth }, 'DEL gets the cached capabilities');
    assert.equal(await exists(t.cacheFile), false);
    assert.equal(await t.rt.cachedResult(t.pod.sandboxId), undefined);
  });

  it('records the intent before the first plugin runs', async () => {
    const t = await setup({ 'fake-a': { sleepMs: { ADD: 400 } } });
    const p = t.rt.add(t.network, t.pod, {});
    await new Promise((r) => setTimeout(r, 200));
    const during = JSON.parse(await fs.readFile(t.cacheFile, 'utf8'));
    assert.equal(during.result, null);
    assert.equal(during.network.name, 'fakenet');
    await p;
    assert.notEqual(JSON.parse(await fs.readFile(t.cacheFile, 'utf8')).result, null);
    await t.rt.del(undefined, t.pod);
  });

  it('rolls back the whole chain in reverse when a plugin fails ADD, with its code and msg', async () => {
    const t = await setup({ 'fake-b': { fail: { ADD: { code: 7, msg: 'bad config', details: 'field x' } } } });
    const err = await t.rt.add(t.network, t.pod, {}).catch((e: unknown) => e);
    assert.ok(err instanceof CniPluginError, String(err));
    assert.equal(err.code, 7);
    assert.equal(err.msg, 'bad config');
    assert.equal(err.kind, 'FailedPrecondition');
    assert.equal(err.message, 'CNI plugin fake-b failed (code 7): bad config: field x');
    assert.deepEqual(starts(await readLog(t.logFile)), ['ADD fake-a', 'ADD fake-b', 'DEL fake-b', 'DEL fake-a']);
    assert.equal(await exists(t.cacheFile), false, 'a clean rollback leaves no cache entry');
  });

  it('reports a plugin that dies without error JSON with its stderr', async () => {
    const t = await setup({ 'fake-a': { fail: { ADD: 'bare' } } });
    const err = await t.rt.add(t.network, t.pod, {}).catch((e: unknown) => e);
    assert.ok(err instanceof CniPluginError);
    assert.equal(err.code, 999);
    assert.match(err.message, /exit status 3.*disk on fire/);
    assert.equal(err.kind, 'Internal');
  });

  it('tries every plugin on DEL, throws the failures after, and keeps the cache for a retry', async () => {
    const t = await setup({ 'fake-b': { fail: { DEL: { code: 11, msg: 'busy' } } } });
    await t.rt.add(t.network, t.pod, {});
    await assert.rejects(t.rt.del(undefined, t.pod), (e: unknown) => e instanceof CniPluginError && e.code === 11);
    assert.deepEqual(starts(await readLog(t.logFile)).slice(2), ['DEL fake-b', 'DEL fake-a']);
    assert.equal(await exists(t.cacheFile), true);
  });

  it('after a failing cached DEL, retries with an edited config of the same network only', async () => {
    const t = await setup({ 'fake-b': { fail: { DEL: { code: 7, msg: 'cannot parse' } } } });
    await t.rt.add(t.network, t.pod, {});
    const fixedPlugins = t.network.plugins.map((p) => ({ ...p, fake: { log: t.logFile } }));
    await assert.rejects(t.rt.del({ ...t.network, name: 'othernet', plugins: fixedPlugins }, t.pod), /cannot parse/);
    assert.equal(await exists(t.cacheFile), true, 'another network is no substitute');
    await t.rt.del({ ...t.network, plugins: fixedPlugins }, t.pod);
    assert.equal(await exists(t.cacheFile), false);
    const dels = (await readLog(t.logFile)).filter((r) => r.phase === 'start' && r.cmd === 'DEL');
    assert.deepEqual(
      dels.map((r) => `${r.type}:${String(r.conf!['name'])}`),
      ['fake-b:fakenet', 'fake-a:fakenet', 'fake-b:fakenet', 'fake-a:fakenet', 'fake-b:fakenet', 'fake-a:fakenet'],
    );
  });

  it('kills a plugin that outlives its time limit, then rolls back', async () => {
    const t = await setup({ 'fake-a': { sleepMs: { ADD: 20_000 } } }, '1.0.0', { timeoutMs: 500 });
    const started = Date.now();
    await assert.rejects(
      t.rt.add(t.network, t.pod, {}),
      (e: unknown) => e instanceof SkiffError && e.kind === 'DeadlineExceeded' && /killed after 500 ms/.test(e.message),
    );
    assert.ok(Date.now() - started < 5000);
    const recs = await readLog(t.logFile);
    assert.equal(alive(recs[0]!.pid), false, 'the plugin is gone');
    assert.deepEqual(starts(recs), ['ADD fake-a', 'DEL fake-b', 'DEL fake-a']);
  });

  it('kills the running plugin when the caller aborts, and still rolls back', async () => {
    const t = await setup({ 'fake-a': { sleepMs: { ADD: 20_000 } } });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 300);
    const started = Date.now();
    await assert.rejects(t.rt.add(t.network, t.pod, {}, ac.signal), (e: unknown) => e instanceof SkiffError && e.kind === 'Cancelled');
    assert.ok(Date.now() - started < 5000);
    const recs = await readLog(t.logFile);
    assert.equal(alive(recs[0]!.pid), false);
    assert.deepEqual(starts(recs), ['ADD fake-a', 'DEL fake-b', 'DEL fake-a']);
  });

  it('serialises operations on one sandbox and runs different sandboxes concurrently', async () => {
    const t = await setup({ 'fake-a': { sleepMs: { ADD: 300, DEL: 100 } } });
    const other = { ...t.pod, sandboxId: `${t.pod.sandboxId}x` };
    const [added] = await Promise.all([t.rt.add(t.network, t.pod, {}), t.rt.del(t.network, t.pod), t.rt.add(t.network, other, {})]);
    assert.equal(added.ips.length, 1);
    const recs = await readLog(t.logFile);
    const mine = recs.filter((r) => r.id === t.pod.sandboxId);
    const lastAddEnd = Math.max(...mine.filter((r) => r.cmd === 'ADD' && r.phase === 'end').map((r) => r.t));
    const firstDelStart = Math.min(...mine.filter((r) => r.cmd === 'DEL' && r.phase === 'start').map((r) => r.t));
    assert.ok(lastAddEnd <= firstDelStart, 'DEL waited for ADD of the same sandbox');
    assert.deepEqual(starts(mine), ['ADD fake-a', 'ADD fake-b', 'DEL fake-b', 'DEL fake-a']);
    const otherStart = Math.min(...recs.filter((r) => r.id === other.sandboxId).map((r) => r.t));
    assert.ok(otherStart < lastAddEnd, 'the other sandbox did not wait');
    assert.equal(await exists(t.cacheFile), false);
    await t.rt.del(undefined, other);
  });

  it('DELs with the cached config after a crash mid-ADD, even when the conf dir changed', async () => {
    const t = await setup();
    await fs.mkdir(path.dirname(t.cacheFile), { recursive: true });
    await fs.writeFile(
      t.cacheFile,
      JSON.stringify({ version: 1, network: t.network, pod: t.pod, capabilities: {}, result: null, updatedAt: new Date().toISOString() }),
    );
    const changed: CniNetworkConfig = { ...t.network, name: 'othernet', plugins: [{ type: 'fake-b', fake: { log: t.logFile } }] };
    await t.rt.del(changed, t.pod);
    const recs = (await readLog(t.logFile)).filter((r) => r.phase === 'start');
    assert.deepEqual(starts(recs), ['DEL fake-b', 'DEL fake-a']);
    assert.equal(recs[0]!.conf!['name'], 'fakenet');
    assert.equal(recs[0]!.conf!['prevResult'], undefined, 'no result was recorded');
    assert.equal(await exists(t.cacheFile), false);
  });

  it('finishes an interrupted ADD with DEL before a new ADD; refuses a second ADD', async () => {
    const t = await setup();
    await fs.mkdir(path.dirname(t.cacheFile), { recursive: true });
    await fs.writeFile(
      t.cacheFile,
      JSON.stringify({ version: 1, network: t.network, pod: t.pod, capabilities: {}, result: null, updatedAt: new Date().toISOString() }),
    );
    await t.rt.add(t.network, t.pod, {});
    assert.deepEqual(starts(await readLog(t.logFile)), ['DEL fake-b', 'DEL fake-a', 'ADD fake-a', 'ADD fake-b']);
    await assert.rejects(t.rt.add(t.network, t.pod, {}), (e: unknown) => e instanceof SkiffError && e.kind === 'AlreadyExists');
    await t.rt.del(undefined, t.pod);
  });

  it('DEL without a cache uses the given network, and is a no-op with none', async () => {
    const t = await setup();
    await t.rt.del(undefined, t.pod);
    assert.deepEqual(await readLog(t.logFile), []);
    await t.rt.del(t.network, t.pod);
    assert.deepEqual(starts(await readLog(t.logFile)), ['DEL fake-b', 'DEL fake-a']);
  });

  it('follows the spec version: no prevResult on 0.3.1 DEL, no CHECK before 0.4.0, nothing before 0.3.0', async () => {
    const t = await setup({}, '0.3.1');
    await t.rt.add(t.network, t.pod, {});
    await assert.rejects(t.rt.check(t.network, t.pod), /has no CHECK/);
    await t.rt.del(undefined, t.pod);
    const dels = (await readLog(t.logFile)).filter((r) => r.phase === 'start' && r.cmd === 'DEL');
    assert.equal(dels.length, 2);
    for (const d of dels) assert.equal(d.conf!['prevResult'], undefined);
    const old = await setup({}, '0.2.0');
    await assert.rejects(old.rt.add(old.network, old.pod, {}), (e: unknown) => e instanceof SkiffError && e.kind === 'FailedPrecondition');
    assert.deepEqual(await readLog(old.logFile), []);
  });

  it('CHECK needs a completed ADD and honours disableCheck', async () => {
    const t = await setup({}, '1.0.0', { extra: { disableCheck: true } });
    await assert.rejects(t.rt.check(t.network, t.pod), /no completed CNI ADD/);
    await t.rt.add(t.network, t.pod, {});
    await t.rt.check(t.network, t.pod);
    assert.deepEqual(starts(await readLog(t.logFile)), ['ADD fake-a', 'ADD fake-b']);
    await t.rt.del(undefined, t.pod);
  });

  it('fails fast with the directories searched when a plugin is missing', async () => {
    const t = await setup();
    const net = { ...t.network, plugins: [...t.network.plugins, { type: 'no-such-plugin' }] };
    await assert.rejects(
      t.rt.add(net, t.pod, {}),
      (e: unknown) =>
        e instanceof SkiffError &&
        e.kind === 'FailedPrecondition' &&
        e.message === `CNI plugin "no-such-plugin" not found in /nonexistent-bin, ${binDir}`,
    );
    assert.deepEqual(await readLog(t.logFile), [], 'nothing ran');
    assert.equal(await exists(t.cacheFile), false);
  });

  it('asks a plugin for its versions', async () => {
    const t = await setup();
    assert.deepEqual(await t.rt.version('fake-a'), { cniVersion: '1.0.0', supportedVersions: ['0.3.1', '0.4.0', '1.0.0'] });
  });
});
