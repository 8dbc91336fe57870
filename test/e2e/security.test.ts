// Security requests applied to real containers: seccomp, capabilities,
// privileged, read-only rootfs, no_new_privs. Each is checked from inside a
// busybox container, and what cannot be applied must be refused at the call.
import assert from 'node:assert/strict';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import * as grpc from '@grpc/grpc-js';

import { TestDaemon } from '../support/daemon.js';
import { buildImage, fullBusyboxEntries, layer, pushImage } from '../support/images.js';
import { TestNetwork } from '../support/network.js';
import { podConfig } from '../support/pod-config.js';
import { TestRegistry } from '../support/registry.js';
import { euidProbe } from '../support/static-programs.js';
import type { TarEntry } from '../support/tar-writer.js';

interface ExecResult {
  stdout: Buffer;
  stderr: Buffer;
  exitCode: number;
}

const statusField = (text: string, field: string): string | undefined => new RegExp(`^${field}:\\s*(\\S+)`, 'm').exec(text)?.[1];

describe('security requests', () => {
  let registry: TestRegistry;
  let d: TestDaemon;
  let netw: TestNetwork;
  let image: string;
  let podId: string;
  let privilegedPodId: string;
  let n = 0;
  const profiles = mkdtempSync(path.join(tmpdir(), 'skiff-profiles-'));

  const create = (sc: Record<string, unknown>, pod = podId): Promise<{ containerId: string }> => {
    n++;
    return d.rt<{ containerId: string }>('CreateContainer', {
      podSandboxId: pod,
      config: {
        metadata: { name: `sec${n}`, attempt: 0 },
        image: { image },
        command: ['sleep', '3600'],
        logPath: `sec${n}.log`,
        linux: { securityContext: sc },
      },
    });
  };
  const running = async (sc: Record<string, unknown>, pod = podId): Promise<string> => {
    const { containerId } = await create(sc, pod);
    await d.rt('StartContainer', { containerId });
    return containerId;
  };
  const sh = async (containerId: string, script: string): Promise<{ out: string; err: string; code: number }> => {
    const r = await d.rt<ExecResult>('ExecSync', { containerId, cmd: ['sh', '-c', script], timeout: '10' });
    return { out: r.stdout.toString(), err: r.stderr.toString(), code: r.exitCode };
  };
  const procStatus = async (id: string): Promise<string> => (await sh(id, 'cat /proc/self/status')).out;

  before(async () => {
    registry = await TestRegistry.start();
    const probe: TarEntry = { type: 'file', name: 'bin/euid-probe', mode: 0o4755, uid: 0, gid: 0, data: euidProbe() };
    await pushImage(registry.url, 'test/busybox-full', '1', buildImage([layer(fullBusyboxEntries([probe]))], { env: ['PATH=/bin'] }));
    d = await TestDaemon.start();
    netw = new TestNetwork(d.dir);
    await netw.install(d.cniConfDir);
    image = `${registry.host}/test/busybox-full:1`;
    await d.img('PullImage', { image: { image } });
    await d.waitNetworkReady();
    podId = (await d.rt<{ podSandboxId: string }>('RunPodSandbox', { config: podConfig({ logDirectory: `${d.dir}/logs` }) })).podSandboxId;
    const privileged = podConfig({ logDirectory: `${d.dir}/logs` });
    (privileged['linux'] as { securityContext: Record<string, unknown> }).securityContext['privileged'] = true;
    privilegedPodId = (await d.rt<{ podSandboxId: string }>('RunPodSandbox', { config: privileged })).podSandboxId;
  });
  after(async () => {
    await d?.destroy();
    netw?.cleanup();
    await registry?.stop();
    rmSync(profiles, { recursive: true, force: true });
  });

  it('seccomp RuntimeDefault: filter mode 2, unshare -U refused with EPERM, ordinary commands run', async () => {
    const id = await running({ seccomp: { profileType: 'RuntimeDefault' } });
    assert.equal(statusField(await procStatus(id), 'Seccomp'), '2');
    const unshare = await sh(id, 'unshare -U true');
    assert.notEqual(unshare.code, 0);
    assert.match(unshare.err, /Operation not permitted/);
    const ordinary = await sh(id, 'echo hi > /tmp/f && cat /tmp/f && ls / >/dev/null && wc -c < /tmp/f');
    assert.equal(ordinary.out, 'hi\n3\n');
    assert.equal(ordinary.code, 0);
  });

  it('seccomp Unconfined and unset: no filter; the deprecated path field works too', async () => {
    assert.equal(statusField(await procStatus(await running({ seccomp: { profileType: 'Unconfined' } })), 'Seccomp'), '0');
    assert.equal(statusField(await procStatus(await running({})), 'Seccomp'), '0');
    assert.equal(statusField(await procStatus(await running({ seccompProfilePath: 'runtime/default' })), 'Seccomp'), '2');
  });

  it('seccomp Localhost: a profile denying chmod denies it', async () => {
    const profile = path.join(profiles, 'no-chmod.json');
    writeFileSync(
      profile,
      JSON.stringify({
        defaultAction: 'SCMP_ACT_ALLOW',
        syscalls: [{ names: ['chmod', 'fchmod', 'fchmodat', 'fchmodat2'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }],
      }),
    );
    const id = await running({ seccomp: { profileType: 'Localhost', localhostRef: profile } });
    const r = await sh(id, 'touch /tmp/x && chmod 600 /tmp/x');
    assert.notEqual(r.code, 0);
    assert.match(r.err, /Operation not permitted/);
    assert.equal((await sh(id, 'touch /tmp/y && echo made')).out, 'made\n');
  });

  it('seccomp Localhost: a missing profile is refused at CreateContainer, naming it, and leaves nothing', async () => {
    const missing = path.join(profiles, 'missing.json');
    const before = (await d.rt<{ containers: unknown[] }>('ListContainers', {})).containers.length;
    const bundlesBefore = readdirSync(path.join(d.stateDir, 'containers')).length;
    await assert.rejects(create({ seccomp: { profileType: 'Localhost', localhostRef: missing } }), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
      assert.ok(err.details.includes(missing), err.details);
      return true;
    });
    assert.equal((await d.rt<{ containers: unknown[] }>('ListContainers', {})).containers.length, before);
    assert.equal(readdirSync(path.join(d.stateDir, 'containers')).length, bundlesBefore);
    // The same at the pod level, at RunPodSandbox.
    const pod = podConfig();
    (pod['linux'] as { securityContext: Record<string, unknown> }).securityContext['seccomp'] = {
      profileType: 'Localhost',
      localhostRef: missing,
    };
    await assert.rejects(d.rt('RunPodSandbox', { config: pod }), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
      assert.ok(err.details.includes(missing), err.details);
      return true;
    });
  });

  it('capabilities: drop ALL gives none, the defaults are the default set, NET_ADMIN lets ip change the loopback MTU', async () => {
    const none = await running({ capabilities: { dropCapabilities: ['ALL'] } });
    assert.equal(statusField(await procStatus(none), 'CapEff'), '0000000000000000');
    const defaults = await running({});
    // chown dac_override fowner fsetid kill setgid setuid setpcap net_bind_service net_raw sys_chroot mknod audit_write setfcap
    assert.equal(statusField(await procStatus(defaults), 'CapEff'), '00000000a80425fb');
    assert.notEqual((await sh(defaults, 'ip link set lo mtu 65536')).code, 0);
    const netAdmin = await running({ capabilities: { addCapabilities: ['NET_ADMIN'] } });
    const r = await sh(netAdmin, 'ip link set lo mtu 65536 && cat /sys/class/net/lo/mtu');
    assert.equal(r.out, '65536\n', r.err);
    await assert.rejects(create({ capabilities: { addCapabilities: ['CAP_NOT_A_THING'] } }), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
      assert.match(err.details, /CAP_NOT_A_THING/);
      return true;
    });
  });

  it('privileged in a privileged pod: no seccomp even when asked, /sys writable; refused in an unprivileged pod', async () => {
    const id = await running({ privileged: true, seccomp: { profileType: 'RuntimeDefault' } }, privilegedPodId);
    assert.equal(statusField(await procStatus(id), 'Seccomp'), '0');
    assert.match((await sh(id, 'grep " /sys " /proc/self/mounts')).out, /\brw\b/);
    await assert.rejects(create({ privileged: true }), (err: grpc.ServiceError) => err.code === grpc.status.INVALID_ARGUMENT);
  });

  it('readonly rootfs refuses writes; no_new_privs is set', async () => {
    const ro = await running({ readonlyRootfs: true, noNewPrivs: true });
    const r = await sh(ro, 'touch /x');
    assert.notEqual(r.code, 0);
    assert.match(r.err, /Read-only file system/);
    assert.equal(statusField(await procStatus(ro), 'NoNewPrivs'), '1');
    assert.equal(statusField(await procStatus(await running({})), 'NoNewPrivs'), '0');
  });

  it("no_new_privs keeps a setuid binary at the caller's uid; without it the binary runs as its owner", async () => {
    const held = await running({ noNewPrivs: true, runAsUser: { value: 1000 } });
    assert.equal((await sh(held, 'euid-probe')).out, 'Effective uid: 1000\n');
    const free = await running({ noNewPrivs: false, runAsUser: { value: 1000 } });
    assert.equal((await sh(free, 'euid-probe')).out, 'Effective uid: 0\n');
  });
});
