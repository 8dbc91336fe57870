// Security requests applied to real containers: seccomp, capabilities,
// privileged, read-only rootfs, no_new_privs. Each is checked from inside a
// busybox container, and what cannot be applied must be refused at the call.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import * as grpc from '@grpc/grpc-js';

import { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS } from '../../src/container/oci-spec/defaults.js';
import { TestDaemon } from '../support/daemon.js';
import { buildImage, fullBusyboxEntries, layer, pauseImage, pushImage } from '../support/images.js';
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
    await pushImage(registry.url, 'test/pause', '1', pauseImage());
    d = await TestDaemon.start({ topToml: `pause_image = "${registry.host}/test/pause:1"` });
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
    // The host's device nodes are there (one the defaults lack), usable: the device cgroup allows all.
    const hostOnly = ['/dev/fuse', '/dev/loop-control', '/dev/kmsg'].find((p) => existsSync(p));
    if (hostOnly) {
      assert.equal((await sh(id, `test -c ${hostOnly} && echo node`)).out, 'node\n');
      assert.notEqual((await sh(await running({}), `test -e ${hostOnly} && echo node`)).out, 'node\n');
    }
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

  it("masked and read-only paths: kubelet's defaults mask /proc/kcore and make /proc/sys read-only; empty lists (procMount Unmasked) open both", async () => {
    // Kubelet sends these same lists for procMount Default.
    const masked = await running({ maskedPaths: DEFAULT_MASKED_PATHS, readonlyPaths: DEFAULT_READONLY_PATHS });
    // /proc/kcore where the kernel has it; else another masked file it does have.
    const file = ['/proc/kcore', '/proc/timer_list'].find((f) => existsSync(f));
    assert.ok(file, 'no masked /proc file on this kernel');
    const read = await sh(masked, `wc -c < ${file}`);
    assert.equal(read.out.trim(), '0', read.err);
    assert.notEqual((await sh(await running({ maskedPaths: [], readonlyPaths: [] }), `wc -c < ${file}`)).out.trim(), '0');
    assert.match((await sh(masked, 'grep " /proc/sys " /proc/self/mounts')).out, /\bro\b/);
    assert.notEqual((await sh(masked, 'echo 1 > /proc/sys/kernel/domainname')).code, 0);
    const unmasked = await running({ maskedPaths: [], readonlyPaths: [] });
    assert.equal((await sh(unmasked, 'grep -c " /proc/kcore " /proc/self/mounts')).out.trim(), '0');
    assert.equal((await sh(unmasked, 'grep -c " /proc/sys " /proc/self/mounts')).out.trim(), '0');
  });

  it('users and groups: id -u/-g/-G and ContainerStatus.user for each combination and both supplemental groups policies', async () => {
    // The image: app (1000, group 1000) is listed in extra (2000) by /etc/group.
    const cases: { sc: Record<string, unknown>; id: string; groups: string[] }[] = [
      { sc: {}, id: '0 0 0', groups: ['0'] },
      { sc: { runAsUser: { value: 1000 } }, id: '1000 1000 1000 2000', groups: ['1000', '2000'] },
      { sc: { runAsUsername: 'app' }, id: '1000 1000 1000 2000', groups: ['1000', '2000'] },
      { sc: { runAsUser: { value: 1000 }, runAsGroup: { value: 3000 } }, id: '1000 3000 3000 2000', groups: ['2000', '3000'] },
      { sc: { runAsUser: { value: 4242 } }, id: '4242 0 0', groups: ['0'] },
      {
        sc: { runAsUser: { value: 1000 }, supplementalGroups: ['1234'] },
        id: '1000 1000 1000 1234 2000',
        groups: ['1000', '1234', '2000'],
      },
      {
        sc: { runAsUser: { value: 1000 }, supplementalGroups: ['1234'], supplementalGroupsPolicy: 'Strict' },
        id: '1000 1000 1000 1234',
        groups: ['1000', '1234'],
      },
      { sc: { runAsUsername: 'app', supplementalGroupsPolicy: 'Strict' }, id: '1000 1000 1000', groups: ['1000'] },
    ];
    for (const c of cases) {
      const id = await running(c.sc);
      const out = (await sh(id, 'echo $(id -u) $(id -g) $(id -G)')).out.trim();
      assert.equal(out, c.id, JSON.stringify(c.sc));
      const st = await d.rt<{ status: { user: { linux: { uid: string; gid: string; supplementalGroups: string[] } } } }>(
        'ContainerStatus',
        {
          containerId: id,
        },
      );
      const [uid, gid] = c.id.split(' ');
      assert.deepEqual(st.status.user.linux, { uid, gid, supplementalGroups: c.groups }, JSON.stringify(c.sc));
    }
  });

  it('a recursive read-only bind makes its submounts read-only too; a plain read-only bind does not', async () => {
    const top = path.join(profiles, 'rro');
    const sub = path.join(top, 'sub');
    mkdirSync(sub, { recursive: true });
    assert.equal(spawnSync('mount', ['-t', 'tmpfs', 'tmpfs', sub]).status, 0);
    try {
      const mount = (recursiveReadOnly: boolean) => ({ containerPath: '/data', hostPath: top, readonly: true, recursiveReadOnly });
      const make = async (recursiveReadOnly: boolean): Promise<string> => {
        n++;
        const { containerId } = await d.rt<{ containerId: string }>('CreateContainer', {
          podSandboxId: podId,
          config: {
            metadata: { name: `rro${n}`, attempt: 0 },
            image: { image },
            command: ['sleep', '3600'],
            mounts: [mount(recursiveReadOnly)],
          },
        });
        await d.rt('StartContainer', { containerId });
        return containerId;
      };
      const rro = await make(true);
      const r = await sh(rro, 'touch /data/sub/f');
      assert.notEqual(r.code, 0);
      assert.match(r.err, /Read-only file system/);
      assert.notEqual((await sh(rro, 'touch /data/f')).code, 0);
      const plain = await make(false);
      assert.equal((await sh(plain, 'touch /data/sub/f && echo wrote')).out, 'wrote\n');
      assert.notEqual((await sh(plain, 'touch /data/f')).code, 0);
      // Where the handler cannot (not readonly here): refused, naming the mount.
      await assert.rejects(
        d.rt('CreateContainer', {
          podSandboxId: podId,
          config: {
            metadata: { name: 'rro-bad', attempt: 0 },
            image: { image },
            mounts: [{ containerPath: '/data', hostPath: top, readonly: false, recursiveReadOnly: true }],
          },
        }),
        (err: grpc.ServiceError) => err.code === grpc.status.INVALID_ARGUMENT && /\/data/.test(err.details),
      );
    } finally {
      spawnSync('umount', ['-l', sub]);
    }
  });

  it('Status: per-handler recursive read-only mounts and user namespaces, supplemental groups policy', async () => {
    const st = await d.rt<{
      runtimeHandlers: { name: string; features: { recursiveReadOnlyMounts: boolean; userNamespaces: boolean } }[];
      features: { supplementalGroupsPolicy: boolean };
    }>('Status', {});
    const byName = new Map(st.runtimeHandlers.map((h) => [h.name, h.features]));
    // runc joins user namespaces and this kernel idmaps overlay layers (probed at start-up).
    assert.deepEqual(byName.get(''), { recursiveReadOnlyMounts: true, userNamespaces: true });
    assert.deepEqual(byName.get('runc'), { recursiveReadOnlyMounts: true, userNamespaces: true });
    assert.equal(st.features.supplementalGroupsPolicy, true);
  });

  it('a user-namespaced pod: root inside is an unprivileged host uid, the image and volumes belong to it, its pause shares the namespace', async () => {
    const mapping = [{ containerId: 0, hostId: 200000, length: 65536 }];
    const usernsPod = (pid: 'POD' | 'CONTAINER'): Record<string, unknown> =>
      podConfig({
        logDirectory: `${d.dir}/logs`,
        linux: {
          securityContext: {
            namespaceOptions: { network: 'POD', pid, ipc: 'POD', usernsOptions: { mode: 'POD', uids: mapping, gids: mapping } },
          },
        },
      });
    const volume = path.join(profiles, 'userns-volume');
    mkdirSync(volume, { recursive: true });
    writeFileSync(path.join(volume, 'from-host'), 'x');
    for (const pid of ['CONTAINER', 'POD'] as const) {
      const pod = (await d.rt<{ podSandboxId: string }>('RunPodSandbox', { config: usernsPod(pid) })).podSandboxId;
      n++;
      const { containerId } = await d.rt<{ containerId: string }>('CreateContainer', {
        podSandboxId: pod,
        config: {
          metadata: { name: `userns${n}`, attempt: 0 },
          image: { image },
          command: ['sleep', '3600'],
          mounts: [{ containerPath: '/vol', hostPath: volume }],
          linux: {
            securityContext: {
              namespaceOptions: { network: 'POD', pid, ipc: 'POD', usernsOptions: { mode: 'POD', uids: mapping, gids: mapping } },
            },
          },
        },
      });
      await d.rt('StartContainer', { containerId });
      const r = await sh(
        containerId,
        'cat /proc/self/uid_map; id -u; stat -c "%u %g" /bin/busybox /vol/from-host; touch /made /vol/from-pod-' + pid + ' && echo wrote',
      );
      assert.match(r.out, /^\s*0\s+200000\s+65536\n0\n0 0\n0 0\nwrote\n$/, r.err);
      // On the host the container's root is uid 200000, and what it wrote is 200000's.
      const st = await d.rt<{ info: Record<string, string> }>('ContainerStatus', { containerId, verbose: true });
      const hostPid = (JSON.parse(st.info['info'] ?? '{}') as { pid?: number }).pid ?? 0;
      assert.ok(hostPid > 0);
      assert.match(readFileSync(`/proc/${hostPid}/status`, 'utf8'), /^Uid:\s+200000\s/m);
      // The rootfs stores it under the pod's host uid; the idmapped volume under the volume's own owner (root).
      assert.equal(statSync(path.join(d.stateDir, 'containers', containerId, 'rootfs', 'made')).uid, 200000);
      assert.equal(statSync(path.join(volume, `from-pod-${pid}`)).uid, 0);
      if (pid === 'POD') assert.equal((await sh(containerId, 'cat /proc/1/comm')).out.trim(), 'pause');
      await d.rt('StopPodSandbox', { podSandboxId: pod });
      await d.rt('RemoveContainer', { containerId });
      await d.rt('RemovePodSandbox', { podSandboxId: pod });
    }
    // Nothing of those pods stays mounted: idmapped layers, volumes and the user namespace pin.
    const left = readFileSync('/proc/self/mounts', 'utf8')
      .split('\n')
      .filter((l) => l.includes(volume) || / \S+\/(l|v)\/\d+ /.test(l) || /\.user /.test(l));
    assert.deepEqual(left, []);
  });

  it('user namespace requests that cannot work are refused, and nothing is left', async () => {
    const before = (await d.rt<{ items: unknown[] }>('ListPodSandbox', {})).items.length;
    const userns = (usernsOptions: Record<string, unknown>, network = 'POD'): Record<string, unknown> =>
      podConfig({ linux: { securityContext: { namespaceOptions: { network, pid: 'CONTAINER', ipc: 'POD', usernsOptions } } } });
    const mapping = [{ containerId: 0, hostId: 100000, length: 65536 }];
    await assert.rejects(
      d.rt('RunPodSandbox', { config: userns({ mode: 'POD', uids: mapping, gids: mapping }, 'NODE') }),
      (err: grpc.ServiceError) => err.code === grpc.status.INVALID_ARGUMENT && /host's network/.test(err.details),
    );
    const shifted = [{ containerId: 1, hostId: 100000, length: 65536 }];
    await assert.rejects(
      d.rt('RunPodSandbox', { config: userns({ mode: 'POD', uids: shifted, gids: shifted }) }),
      (err: grpc.ServiceError) => err.code === grpc.status.INVALID_ARGUMENT && /container id 0/.test(err.details),
    );
    const two = [...mapping, { containerId: 65536, hostId: 300000, length: 10 }];
    await assert.rejects(
      d.rt('RunPodSandbox', { config: userns({ mode: 'POD', uids: two, gids: two }) }),
      (err: grpc.ServiceError) => err.code === grpc.status.INVALID_ARGUMENT && /exactly one/.test(err.details),
    );
    await assert.rejects(
      d.rt('RunPodSandbox', { config: userns({ mode: 'CONTAINER' }) }),
      (err: grpc.ServiceError) => err.code === grpc.status.INVALID_ARGUMENT,
    );
    // An idmapped mount in a pod without a user namespace cannot be applied.
    await assert.rejects(
      d.rt('CreateContainer', {
        podSandboxId: podId,
        config: {
          metadata: { name: 'idmap-bad', attempt: 0 },
          image: { image },
          mounts: [{ containerPath: '/vol', hostPath: profiles, uidMappings: mapping, gidMappings: mapping }],
        },
      }),
      (err: grpc.ServiceError) => err.code === grpc.status.INVALID_ARGUMENT && /user namespace/.test(err.details),
    );
    // The host's user namespace, said explicitly, is what every pod has.
    const hostUsers = (await d.rt<{ podSandboxId: string }>('RunPodSandbox', { config: userns({ mode: 'NODE' }) })).podSandboxId;
    await d.rt('StopPodSandbox', { podSandboxId: hostUsers });
    await d.rt('RemovePodSandbox', { podSandboxId: hostUsers });
    assert.equal((await d.rt<{ items: unknown[] }>('ListPodSandbox', {})).items.length, before);
    assert.deepEqual(
      readdirSync(path.join(d.stateDir, 'ns')).filter((f) => f.endsWith('.user')),
      [],
    );
  });

  it(
    'AppArmor: RuntimeDefault and Unconfined run on a host without AppArmor; a Localhost profile is refused',
    { skip: existsSync('/sys/kernel/security/apparmor') && 'the host has AppArmor' },
    async () => {
      await running({ apparmor: { profileType: 'RuntimeDefault' } });
      await running({ apparmor: { profileType: 'Unconfined' } });
      await assert.rejects(create({ apparmor: { profileType: 'Localhost', localhostRef: 'my-profile' } }), (err: grpc.ServiceError) => {
        assert.equal(err.code, grpc.status.FAILED_PRECONDITION);
        assert.match(err.details, /my-profile/);
        return true;
      });
      await assert.rejects(
        create({ apparmorProfile: 'localhost/my-profile' }),
        (err: grpc.ServiceError) => err.code === grpc.status.FAILED_PRECONDITION,
      );
    },
  );

  it('pod hostnames and sysctls are checked before anything is made', async () => {
    for (const hostname of ['bad host', 'evil\n10.0.0.1 bank', 'x'.repeat(65)]) {
      await assert.rejects(d.rt('RunPodSandbox', { config: podConfig({ hostname }) }), (err: grpc.ServiceError) => {
        assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
        assert.match(err.details, /hostname/);
        return true;
      });
    }
    const hostNet = podConfig({
      linux: {
        sysctls: { 'net.ipv4.ip_forward': '1' },
        securityContext: { namespaceOptions: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } },
      },
    });
    await assert.rejects(
      d.rt('RunPodSandbox', { config: hostNet }),
      (err: grpc.ServiceError) => err.code === grpc.status.INVALID_ARGUMENT && /net\.ipv4\.ip_forward/.test(err.details),
    );
    const hostIpc = podConfig({
      linux: {
        sysctls: { 'kernel.shm_rmid_forced': '1' },
        securityContext: { namespaceOptions: { network: 'POD', pid: 'CONTAINER', ipc: 'NODE' } },
      },
    });
    await assert.rejects(
      d.rt('RunPodSandbox', { config: hostIpc }),
      (err: grpc.ServiceError) => err.code === grpc.status.INVALID_ARGUMENT && /kernel\.shm_rmid_forced/.test(err.details),
    );
  });

  it("the daemon's directories are private, its lock file 0600, and runtime temporary files stay out of /tmp", async () => {
    const mode = (p: string): number => statSync(p).mode & 0o777;
    assert.ok((mode(d.root) & 0o077) === 0o011 || (mode(d.root) & 0o077) === 0, `root ${mode(d.root).toString(8)}`);
    for (const sub of ['runtime', 'runtime-tmp', 'exits', 'sockets', 'ns', 'execs'])
      assert.equal(mode(path.join(d.stateDir, sub)), 0o700, sub);
    // Tops of per-container and per-pod directories: traversable, not listable; each one below is 0700.
    for (const sub of ['containers', 'infra', 'pods']) assert.equal(mode(path.join(d.stateDir, sub)), 0o711, sub);
    for (const sub of ['containers', 'pods'])
      for (const one of readdirSync(path.join(d.stateDir, sub)))
        assert.equal(mode(path.join(d.stateDir, sub, one)), 0o700, `${sub}/${one}`);
    for (const sub of ['content', 'snapshots', 'sandboxes', 'images']) assert.equal(mode(path.join(d.root, sub)), 0o700, sub);
    assert.equal(mode(path.join(d.root, 'skiff.lock')), 0o600);
    const tmpBefore = readdirSync(tmpdir()).filter((f) => f.startsWith('skiff-exec-')).length;
    const id = await running({});
    await assert.rejects(
      d.rt('ExecSync', { containerId: id, cmd: ['sleep', '5'], timeout: '1' }),
      (err: grpc.ServiceError) => err.code === grpc.status.DEADLINE_EXCEEDED,
    );
    await sh(id, 'true');
    assert.equal(readdirSync(tmpdir()).filter((f) => f.startsWith('skiff-exec-')).length, tmpBefore);
  });

  it("a shared-PID pod's pause process runs under the pod's seccomp profile; killing it makes the pod NOTREADY and refuses new containers", async () => {
    const pod = podConfig({
      logDirectory: `${d.dir}/logs`,
      linux: {
        securityContext: { namespaceOptions: { network: 'POD', pid: 'POD', ipc: 'POD' }, seccomp: { profileType: 'RuntimeDefault' } },
      },
    });
    const shared = (await d.rt<{ podSandboxId: string }>('RunPodSandbox', { config: pod })).podSandboxId;
    const first = await running({ namespaceOptions: { network: 'POD', pid: 'POD', ipc: 'POD' } }, shared);
    assert.equal((await sh(first, 'cat /proc/1/comm')).out.trim(), 'pause');
    const info = await d.rt<{ info: Record<string, string> }>('PodSandboxStatus', { podSandboxId: shared, verbose: true });
    const pausePid = (JSON.parse(info.info['info'] ?? '{}') as { pid?: number }).pid ?? 0;
    assert.ok(pausePid > 1, 'pause pid');
    const pauseStatus = readFileSync(`/proc/${pausePid}/status`, 'utf8');
    assert.equal(statusField(pauseStatus, 'Seccomp'), '2');
    assert.equal(statusField(pauseStatus, 'NoNewPrivs'), '1');
    assert.equal(statusField(pauseStatus, 'CapEff'), '0000000000000000');
    process.kill(pausePid, 'SIGKILL');
    const deadline = Date.now() + 15_000;
    let state = '';
    while (Date.now() < deadline) {
      state = (await d.rt<{ status: { state: string } }>('PodSandboxStatus', { podSandboxId: shared })).status.state;
      if (state === 'SANDBOX_NOTREADY') break;
      await new Promise((r) => setTimeout(r, 200));
    }
    assert.equal(state, 'SANDBOX_NOTREADY');
    await assert.rejects(
      create({ namespaceOptions: { network: 'POD', pid: 'POD', ipc: 'POD' } }, shared),
      (err: grpc.ServiceError) => err.code === grpc.status.FAILED_PRECONDITION,
    );
    await d.rt('StopPodSandbox', { podSandboxId: shared });
  });
});
