import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, promises as fs, readFileSync } from 'node:fs';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';

import * as grpc from '@grpc/grpc-js';

import { isAlive, listProcesses, readCmdline } from '../../src/runtime/process-tree.js';
import { TestDaemon } from '../support/daemon.js';
import { busyboxImage, pauseImage, pushImage } from '../support/images.js';
import { ping, TestNetwork } from '../support/network.js';
import { podConfig } from '../support/pod-config.js';
import { TestRegistry } from '../support/registry.js';

interface CStatus {
  id: string;
  state: string;
  exitCode: number;
  reason: string;
  message: string;
  startedAt: string;
  finishedAt: string;
  logPath: string;
  user: { linux: { uid: string; gid: string; supplementalGroups: string[] } };
  resources: { linux: { memoryLimitInBytes: string; cpuShares: string } };
  mounts: { containerPath: string }[];
  imageRef: string;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('pods sharing a PID namespace run an infra (pause) container', () => {
  it('starts the pause process, puts containers in its PID namespace, and tears it down', async () => {
    const registry = await TestRegistry.start();
    // The registry is a child of this process: a failure anywhere below must still stop it.
    try {
      await sharedPidNamespace(registry);
    } finally {
      await registry.stop();
    }
  });
});

async function sharedPidNamespace(registry: TestRegistry): Promise<void> {
  {
    await pushImage(registry.url, 'test/pause', '1', pauseImage());
    await pushImage(registry.url, 'test/busybox', '1', busyboxImage());
    const d = await TestDaemon.start({ topToml: `pause_image = "${registry.host}/test/pause:1"` });
    const netw = new TestNetwork(d.dir);
    try {
      await netw.install(d.cniConfDir);
      await d.waitNetworkReady();
      // Pulled on demand when the first pod needs it.
      const pod = (
        await d.rt<{ podSandboxId: string }>('RunPodSandbox', {
          config: podConfig({ logDirectory: path.join(d.dir, 'logs'), linux: { securityContext: { namespaceOptions: { pid: 'POD' } } } }),
        })
      ).podSandboxId;
      const info = JSON.parse(
        (await d.rt<{ info: Record<string, string> }>('PodSandboxStatus', { podSandboxId: pod, verbose: true })).info['info']!,
      ) as { pid: number };
      assert.ok(info.pid > 0, 'infra pid reported');
      assert.match(readFileSync(`/proc/${info.pid}/cmdline`, 'utf8'), /pause/);
      const image = `${registry.host}/test/busybox:1`;
      await d.img('PullImage', { image: { image } });
      const cid = (
        await d.rt<{ containerId: string }>('CreateContainer', {
          podSandboxId: pod,
          config: {
            metadata: { name: 'shared' },
            image: { image },
            command: ['sleep', '1000'],
            logPath: 's.log',
            linux: { securityContext: { namespaceOptions: { pid: 'POD' } } },
          },
        })
      ).containerId;
      await d.rt('StartContainer', { containerId: cid });
      const ps = await d.rt<{ stdout: Buffer }>('ExecSync', { containerId: cid, cmd: ['ps', '-o', 'pid,args'], timeout: '10' });
      assert.match(ps.stdout.toString(), /^\s*1 \/pause/m, 'PID 1 of the shared namespace is the pause process');
      await d.rt('StopPodSandbox', { podSandboxId: pod });
      assert.equal(await isAlive(info.pid), false, 'pause process gone after stop'); // a zombie awaiting its reaper counts as gone
      await d.rt('RemovePodSandbox', { podSandboxId: pod });
      assert.deepEqual((await d.rt<{ items: unknown[] }>('ListPodSandbox')).items, []);
    } finally {
      await d.destroy();
      netw.cleanup();
    }
    // infra_container = "always": containerd's way, a pause process for every pod.
    const always = await TestDaemon.start({ topToml: `pause_image = "${registry.host}/test/pause:1"\ninfra_container = "always"` });
    const netw2 = new TestNetwork(always.dir);
    try {
      await netw2.install(always.cniConfDir);
      await always.waitNetworkReady();
      const pod = (
        await always.rt<{ podSandboxId: string }>('RunPodSandbox', {
          config: podConfig({ linux: { securityContext: { namespaceOptions: { pid: 'CONTAINER' } } } }),
        })
      ).podSandboxId;
      const info = JSON.parse(
        (await always.rt<{ info: Record<string, string> }>('PodSandboxStatus', { podSandboxId: pod, verbose: true })).info['info']!,
      ) as { pid: number };
      assert.ok(info.pid > 0 && (await isAlive(info.pid)), 'a pause process even without a shared PID namespace');
      await always.rt('RemovePodSandbox', { podSandboxId: pod });
      assert.equal(await isAlive(info.pid), false);
    } finally {
      await always.destroy();
      netw2.cleanup();
    }
  }
}

describe('containers on runc under conmon', () => {
  let registry: TestRegistry;
  let d: TestDaemon;
  let netw: TestNetwork;
  let image: string;
  let podId: string;
  let logDir: string;
  let n = 0;

  const create = async (config: Record<string, unknown>): Promise<string> => {
    n++;
    return (
      await d.rt<{ containerId: string }>('CreateContainer', {
        podSandboxId: podId,
        config: { metadata: { name: `c${n}`, attempt: 0 }, image: { image }, logPath: `c${n}.log`, ...config },
      })
    ).containerId;
  };
  const start = (id: string) => d.rt('StartContainer', { containerId: id });
  const status = async (id: string, verbose = false) =>
    d.rt<{ status: CStatus; info: Record<string, string> }>('ContainerStatus', { containerId: id, verbose });
  const waitExit = async (id: string, ms = 15000): Promise<CStatus> => {
    const deadline = Date.now() + ms;
    for (;;) {
      const s = (await status(id)).status;
      if (s.state === 'CONTAINER_EXITED') return s;
      if (Date.now() > deadline) throw new Error(`container ${id} still ${s.state}`);
      await sleep(50);
    }
  };
  const logLines = async (id: string): Promise<string[]> =>
    (await fs.readFile((await status(id)).status.logPath, 'utf8')).split('\n').filter(Boolean);
  const logText = async (id: string): Promise<string> => (await logLines(id)).map((l) => l.split(' ').slice(3).join(' ')).join('\n');
  const run = async (config: Record<string, unknown>): Promise<{ id: string; status: CStatus; out: string }> => {
    const id = await create(config);
    await start(id);
    const st = await waitExit(id);
    return { id, status: st, out: await logText(id) };
  };

  before(async () => {
    registry = await TestRegistry.start();
    await pushImage(
      registry.url,
      'test/busybox',
      '1',
      busyboxImage({
        entrypoint: ['/bin/echo', 'from-entrypoint'],
        cmd: ['from-cmd'],
        env: ['PATH=/bin', 'FROM_IMAGE=1', 'OVERRIDE=image'],
        workingDir: '/tmp',
      }),
    );
    await pushImage(registry.url, 'test/busybox-user', '1', busyboxImage({ user: 'app', cmd: ['id'] }));
    d = await TestDaemon.start();
    netw = new TestNetwork(d.dir);
    await netw.install(d.cniConfDir);
    image = `${registry.host}/test/busybox:1`;
    await d.img('PullImage', { image: { image } });
    await d.img('PullImage', { image: { image: `${registry.host}/test/busybox-user:1` } });
    logDir = path.join(d.dir, 'logs');
    await d.waitNetworkReady();
    podId = (await d.rt<{ podSandboxId: string }>('RunPodSandbox', { config: podConfig({ logDirectory: logDir }) })).podSandboxId;
  });
  after(async () => {
    await d?.destroy();
    netw?.cleanup();
    await registry?.stop();
  });

  it('merges command, args, env and working dir as kubelet expects', async () => {
    assert.equal((await run({})).out, 'from-entrypoint from-cmd');
    assert.equal((await run({ args: ['a1', 'a2'] })).out, 'from-entrypoint a1 a2');
    assert.equal((await run({ command: ['/bin/echo', 'cmd-only'] })).out, 'cmd-only');
    assert.equal((await run({ command: ['/bin/echo'], args: ['x'] })).out, 'x');
    const env = await run({
      command: ['/bin/sh', '-c', 'echo $FROM_IMAGE $OVERRIDE $FROM_CRI; pwd'],
      envs: [
        { key: 'OVERRIDE', value: Buffer.from('cri') },
        { key: 'FROM_CRI', value: Buffer.from('yes') },
      ],
    });
    assert.equal(env.out, '1 cri yes\n/tmp');
    assert.equal((await run({ command: ['/bin/pwd'], workingDir: '/etc' })).out, '/etc');
  });

  it('runs as the image user or the CRI user, resolved in the container', async () => {
    const byImage = await run({ image: { image: `${registry.host}/test/busybox-user:1` } });
    assert.match(byImage.out, /^uid=1000\(app\) gid=1000\(app\) groups=.*2000\(extra\)/);
    assert.equal(byImage.status.user.linux.uid, '1000');
    const byUid = await run({ command: ['id'], linux: { securityContext: { runAsUser: { value: '65534' } } } });
    assert.match(byUid.out, /^uid=65534\(nobody\) gid=65534\(nogroup\)/);
    const byName = await run({
      command: ['id'],
      linux: { securityContext: { runAsUsername: 'app', runAsGroup: { value: '2000' }, supplementalGroups: ['3000'] } },
    });
    assert.match(byName.out, /^uid=1000\(app\) gid=2000\(extra\)/);
    assert.match(byName.out, /3000/);
    await assert.rejects(
      create({ command: ['id'], linux: { securityContext: { runAsGroup: { value: '2000' } } } }),
      (err: grpc.ServiceError) => {
        assert.equal(err.code, grpc.status.INVALID_ARGUMENT);
        assert.match(err.details, /run_as_group/);
        return true;
      },
    );
  });

  it('gives containers /etc/hosts, /etc/hostname and /etc/resolv.conf from the pod', async () => {
    const res = await run({
      command: ['sh', '-c', 'cat /etc/hosts /etc/hostname; grep -c . /etc/resolv.conf >/dev/null && echo resolv-ok'],
    });
    assert.match(res.out, /127\.0\.0\.1\tlocalhost/);
    assert.match(res.out, /resolv-ok/);
  });

  it('binds host paths read-only and with each propagation mode', async () => {
    const t = path.join(d.dir, 'propagation');
    await fs.mkdir(t, { recursive: true });
    assert.equal(spawnSync('mount', ['-t', 'tmpfs', 'tmpfs', t]).status, 0);
    try {
      spawnSync('mount', ['--make-rshared', t]);
      await fs.mkdir(path.join(t, 'ro'));
      await fs.writeFile(path.join(t, 'ro', 'file'), 'hello');
      const ro = await run({
        command: ['sh', '-c', 'cat /ro/file; echo; touch /ro/x 2>&1 || echo write-refused'],
        mounts: [{ containerPath: '/ro', hostPath: path.join(t, 'ro'), readonly: true }],
      });
      assert.match(ro.out, /hello/);
      assert.match(ro.out, /Read-only file system|write-refused/);

      // HostToContainer: a mount made on the host after start shows up inside.
      await fs.mkdir(path.join(t, 'later'));
      const h2c = await create({
        command: ['sh', '-c', 'for i in $(seq 100); do [ -f /h2c/later/marker ] && echo seen && exit 0; sleep 0.1; done; exit 1'],
        mounts: [{ containerPath: '/h2c', hostPath: t, propagation: 'PROPAGATION_HOST_TO_CONTAINER' }],
      });
      await start(h2c);
      assert.equal(spawnSync('mount', ['-t', 'tmpfs', 'tmpfs', path.join(t, 'later')]).status, 0);
      await fs.writeFile(path.join(t, 'later', 'marker'), 'x');
      const h2cStatus = await waitExit(h2c);
      assert.equal(h2cStatus.exitCode, 0, await logText(h2c));

      // Bidirectional: a mount made inside the container (CAP_SYS_ADMIN) shows up on the host.
      await fs.mkdir(path.join(t, 'inner'));
      const bidi = await run({
        command: ['sh', '-c', 'mount -t tmpfs none /bidi/inner && touch /bidi/inner/from-container'],
        mounts: [{ containerPath: '/bidi', hostPath: t, propagation: 'PROPAGATION_BIDIRECTIONAL' }],
        linux: { securityContext: { capabilities: { addCapabilities: ['SYS_ADMIN'] } } },
      });
      assert.equal(bidi.status.exitCode, 0, bidi.out);
      assert.ok(existsSync(path.join(t, 'inner', 'from-container')), 'the container mount propagated to the host');

      // A private source cannot propagate: refused, naming the path.
      const priv = path.join(d.dir, 'private-src');
      await fs.mkdir(priv, { recursive: true });
      await assert.rejects(
        create({ command: ['true'], mounts: [{ containerPath: '/p', hostPath: priv, propagation: 'PROPAGATION_BIDIRECTIONAL' }] }),
        (err: grpc.ServiceError) => {
          assert.equal(err.code, grpc.status.FAILED_PRECONDITION, err.details);
          assert.match(err.details, /private-src/);
          return true;
        },
      );
      await assert.rejects(
        create({ command: ['true'], mounts: [{ containerPath: '/m', hostPath: '/nonexistent/host/path' }] }),
        /nonexistent\/host\/path/,
      );
    } finally {
      spawnSync('umount', ['-R', t]);
    }
  });

  it('takes the fast paths: children through the launcher, starts through the exec fifo', async () => {
    await run({ command: ['true'] });
    const children = (await listProcesses()).filter((p) => p.ppid === d.child.pid);
    const launchers = [];
    for (const p of children) if ((await readCmdline(p.pid))?.[0]?.endsWith('/skiff-spawner')) launchers.push(p.pid);
    assert.equal(launchers.length, 1, 'one skiff-spawner child of the daemon');
    assert.match(d.output.text, /started through the exec fifo/);
  });

  it('reports the image as kubelet expects: by id in lists, by tag and repo digest in status', async () => {
    const img = (await d.img<{ image: { id: string; repoTags: string[]; repoDigests: string[] } }>('ImageStatus', { image: { image } }))
      .image;
    // kubelet creates by image id and names the pod spec's image in user_specified_image.
    const id = await create({
      image: { image: img.id, userSpecifiedImage: image, annotations: { 'example.com/a': 'b' } },
      command: ['sleep', '30'],
    });
    const item = (
      await d.rt<{ containers: { id: string; image: Record<string, unknown>; imageRef: string; imageId: string }[] }>('ListContainers', {
        filter: { id },
      })
    ).containers[0]!;
    assert.deepEqual(item.image, {
      image: img.id,
      userSpecifiedImage: image,
      annotations: { 'example.com/a': 'b' },
      runtimeHandler: '',
      imageRef: '',
    });
    assert.equal(item.imageRef, img.id, 'a list item refers to the image by the id ListImages gives');
    assert.equal(item.imageId, img.id);
    const st = (await status(id, true)) as unknown as {
      status: { image: Record<string, unknown>; imageRef: string; imageId: string };
      info: Record<string, string>;
    };
    assert.deepEqual(st.status.image, {
      image: image,
      userSpecifiedImage: image,
      annotations: { 'example.com/a': 'b' },
      runtimeHandler: '',
      imageRef: '',
    });
    assert.equal(st.status.imageRef, img.repoDigests[0]);
    assert.match(st.status.imageRef, /@sha256:[0-9a-f]{64}$/);
    assert.equal(st.status.imageId, img.id);
    const spec = (JSON.parse(st.info['info']!) as { runtimeSpec: { annotations: Record<string, string> } }).runtimeSpec;
    assert.equal(spec.annotations['io.kubernetes.cri.image-name'], image);
    await d.rt('RemoveContainer', { containerId: id });
  });

  it('reports exit code 3 and Error; 0 and Completed', async () => {
    const bad = await run({ command: ['sh', '-c', 'exit 3'] });
    assert.equal(bad.status.exitCode, 3);
    assert.equal(bad.status.reason, 'Error');
    const ok = await run({ command: ['true'] });
    assert.equal(ok.status.exitCode, 0);
    assert.equal(ok.status.reason, 'Completed');
    assert.ok(BigInt(ok.status.finishedAt) >= BigInt(ok.status.startedAt));
  });

  it('writes exact CRI log lines for stdout and stderr', async () => {
    const { id } = await run({ command: ['sh', '-c', 'echo out-line; echo err-line >&2; printf partial'] });
    const lines = await logLines(id);
    const re = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+(Z|[+-]\d\d:\d\d) (stdout|stderr) (F|P) (.*)$/;
    for (const l of lines) assert.match(l, re);
    const parsed = lines.map((l) => re.exec(l)!.slice(2, 5));
    assert.deepEqual(
      parsed.filter((p) => p[0] === 'stdout').map((p) => [p[1], p[2]]),
      [
        ['F', 'out-line'],
        ['P', 'partial'],
      ],
    );
    assert.deepEqual(
      parsed.filter((p) => p[0] === 'stderr').map((p) => [p[1], p[2]]),
      [['F', 'err-line']],
    );
  });

  it('is killed by the memory cgroup and reports OOMKilled', async () => {
    const res = await run({
      command: ['sh', '-c', 'dd if=/dev/zero of=/dev/null bs=64M count=1'],
      linux: { resources: { memoryLimitInBytes: String(15 * 1024 * 1024) } },
    });
    assert.equal(res.status.exitCode, 137);
    assert.equal(res.status.reason, 'OOMKilled');
  });

  it('applies resources to the cgroup and updates them', async () => {
    const id = await create({
      command: ['sleep', '1000'],
      linux: { resources: { memoryLimitInBytes: String(64 * 1024 * 1024), cpuShares: '512', cpuQuota: '50000', cpuPeriod: '100000' } },
    });
    await start(id);
    const info = JSON.parse((await status(id, true)).info['info']!) as { cgroupsPath: string };
    const cg = (ctl: string, file: string) => readFileSync(`/sys/fs/cgroup/${ctl}${info.cgroupsPath}/${file}`, 'utf8').trim();
    assert.equal(cg('memory', 'memory.limit_in_bytes'), String(64 * 1024 * 1024));
    assert.equal(cg('cpu', 'cpu.shares'), '512');
    assert.equal(cg('cpu', 'cpu.cfs_quota_us'), '50000');
    await d.rt('UpdateContainerResources', { containerId: id, linux: { memoryLimitInBytes: String(128 * 1024 * 1024), cpuShares: '256' } });
    assert.equal(cg('memory', 'memory.limit_in_bytes'), String(128 * 1024 * 1024));
    assert.equal(cg('cpu', 'cpu.shares'), '256');
    assert.equal((await status(id)).status.resources.linux.memoryLimitInBytes, String(128 * 1024 * 1024));
    await d.rt('StopContainer', { containerId: id, timeout: '0' });
  });

  it('kills a process that ignores SIGTERM after the timeout, and stop is idempotent', async () => {
    const id = await create({ command: ['sh', '-c', 'trap "" TERM; echo ready; while true; do sleep 1; done'] });
    await start(id);
    for (let i = 0; i < 50 && !(await logText(id).catch(() => '')).includes('ready'); i++) await sleep(50);
    const t0 = Date.now();
    await d.rt('StopContainer', { containerId: id, timeout: '1' });
    const took = Date.now() - t0;
    const st = (await status(id)).status;
    assert.equal(st.state, 'CONTAINER_EXITED');
    assert.equal(st.exitCode, 137);
    assert.ok(took >= 900 && took < 8000, `stop took ${took} ms`);
    await d.rt('StopContainer', { containerId: id, timeout: '1' });
    await d.rt('StopContainer', { containerId: 'e'.repeat(64), timeout: '1' });
  });

  it('runs ExecSync with output and exit code, and kills a timed-out command', async () => {
    const id = await create({ command: ['sleep', '1000'] });
    await start(id);
    const res = await d.rt<{ stdout: Buffer; stderr: Buffer; exitCode: number }>('ExecSync', {
      containerId: id,
      cmd: ['sh', '-c', 'echo hi; echo oops >&2; exit 4'],
      timeout: '10',
    });
    assert.equal(res.stdout.toString(), 'hi\n');
    assert.equal(res.stderr.toString(), 'oops\n');
    assert.equal(res.exitCode, 4);
    await assert.rejects(d.rt('ExecSync', { containerId: id, cmd: ['sleep', '4242'], timeout: '1' }), (err: grpc.ServiceError) => {
      assert.equal(err.code, grpc.status.DEADLINE_EXCEEDED, err.details);
      return true;
    });
    await sleep(300);
    const left = spawnSync('pgrep', ['-f', 'sleep 4242']).stdout.toString().trim();
    assert.equal(left, '', 'no sleep left behind');
    await d.rt('StopContainer', { containerId: id, timeout: '0' });
  });

  it('reopens the log after kubelet rotated it', async () => {
    const id = await create({ command: ['sh', '-c', 'while true; do echo tick; sleep 0.2; done'] });
    await start(id);
    const logPath = (await status(id)).status.logPath;
    await sleep(500);
    await fs.rename(logPath, logPath + '.1');
    await d.rt('ReopenContainerLog', { containerId: id });
    await sleep(700);
    assert.match(await fs.readFile(logPath, 'utf8'), /stdout F tick/);
    await d.rt('StopContainer', { containerId: id, timeout: '0' });
    await assert.rejects(
      d.rt('ReopenContainerLog', { containerId: id }),
      (err: grpc.ServiceError) => err.code === grpc.status.FAILED_PRECONDITION,
    );
  });

  it('reports sane stats', async () => {
    const id = await create({ command: ['sh', '-c', 'i=0; while [ $i -lt 200000 ]; do i=$((i+1)); done; echo x > /tmp/file; sleep 1000'] });
    await start(id);
    await sleep(1500);
    const s1 = await d.rt<{
      stats: {
        cpu: { usageCoreNanoSeconds: { value: string } };
        memory: { workingSetBytes: { value: string }; usageBytes: { value: string } };
        writableLayer: { usedBytes: { value: string }; inodesUsed: { value: string } };
      };
    }>('ContainerStats', { containerId: id });
    assert.ok(BigInt(s1.stats.cpu.usageCoreNanoSeconds.value) > 10_000_000n, 'some CPU used');
    const ws = BigInt(s1.stats.memory.workingSetBytes.value);
    assert.ok(ws > 0n && ws <= BigInt(s1.stats.memory.usageBytes.value));
    assert.ok(BigInt(s1.stats.writableLayer.inodesUsed.value) >= 1n);
    const list = await d.rt<{ stats: { attributes: { id: string } }[] }>('ListContainerStats', { filter: { podSandboxId: podId } });
    assert.ok(list.stats.some((s) => s.attributes.id === id));
    const ip = (await d.rt<{ status: { network: { ip: string } } }>('PodSandboxStatus', { podSandboxId: podId })).status.network.ip;
    assert.ok(ping(ip), `ping ${ip}`);
    const pod = await d.rt<{
      stats: {
        linux: {
          cpu: { usageCoreNanoSeconds: { value: string } };
          containers: unknown[];
          network: { defaultInterface: { name: string; rxBytes: { value: string }; txBytes: { value: string } } };
        };
      };
    }>('PodSandboxStats', { podSandboxId: podId });
    assert.ok(BigInt(pod.stats.linux.cpu.usageCoreNanoSeconds.value) > 0n);
    const eth0 = pod.stats.linux.network.defaultInterface;
    assert.equal(eth0.name, 'eth0');
    assert.ok(BigInt(eth0.rxBytes.value) >= 84n && BigInt(eth0.txBytes.value) >= 84n, 'the ping shows in both directions');
    await d.rt('StopContainer', { containerId: id, timeout: '0' });
  });

  it('streams lifecycle events', async () => {
    const stream = (
      d.runtime as unknown as {
        GetContainerEvents: (r: object) => grpc.ClientReadableStream<{ containerId: string; containerEventType: string }>;
      }
    ).GetContainerEvents({});
    const seen: string[] = [];
    stream.on('data', (e) => seen.push(`${e.containerId}:${e.containerEventType}`));
    stream.on('error', () => undefined);
    await sleep(100);
    const { id } = await run({ command: ['true'] });
    await d.rt('RemoveContainer', { containerId: id });
    await sleep(200);
    stream.cancel();
    assert.deepEqual(
      seen.filter((s) => s.startsWith(id)).map((s) => s.split(':')[1]),
      ['CONTAINER_CREATED_EVENT', 'CONTAINER_STARTED_EVENT', 'CONTAINER_STOPPED_EVENT', 'CONTAINER_DELETED_EVENT'],
    );
  });

  it('fails to start a missing binary, leaving the container exited with the reason', async () => {
    const id = await create({ command: ['/nonexistent-binary'] });
    await assert.rejects(start(id), /nonexistent-binary/);
    const st = (await status(id)).status;
    assert.equal(st.state, 'CONTAINER_EXITED');
    assert.equal(st.reason, 'StartError');
    assert.match(st.message, /nonexistent-binary/);
  });

  it('rejects bad requests clearly', async () => {
    await assert.rejects(
      d.rt('CreateContainer', { podSandboxId: podId, config: { metadata: { name: 'x' }, image: { image: 'nope/never:1' } } }),
      (err: grpc.ServiceError) => err.code === grpc.status.NOT_FOUND && /nope\/never/.test(err.details),
    );
    await assert.rejects(
      d.rt('CreateContainer', { podSandboxId: 'f'.repeat(64), config: { metadata: { name: 'x' }, image: { image } } }),
      (err: grpc.ServiceError) => err.code === grpc.status.NOT_FOUND,
    );
    await assert.rejects(
      d.rt('CreateContainer', { podSandboxId: podId, config: { metadata: { name: '' }, image: { image } } }),
      (err: grpc.ServiceError) => err.code === grpc.status.INVALID_ARGUMENT,
    );
    await assert.rejects(
      d.rt('ContainerStatus', { containerId: 'f'.repeat(64) }),
      (err: grpc.ServiceError) => err.code === grpc.status.NOT_FOUND,
    );
    await d.rt('RemoveContainer', { containerId: 'f'.repeat(64) });
  });

  it('keeps running containers across a daemon restart (kill -9), and still catches their exit', async () => {
    const id = await create({ command: ['sh', '-c', 'echo before; sleep 3; echo after; exit 5'] });
    await start(id);
    const dir = d.dir;
    await d.stop('SIGKILL');
    d = await TestDaemon.start({ dir });
    assert.equal((await status(id)).status.state, 'CONTAINER_RUNNING');
    const st = await waitExit(id, 10000);
    assert.equal(st.exitCode, 5);
    assert.match(await logText(id), /before\nafter/);
  });

  it('runs a host-network pod whose containers see the host interfaces', async () => {
    const pod = (
      await d.rt<{ podSandboxId: string }>('RunPodSandbox', {
        config: podConfig({
          logDirectory: logDir,
          linux: { securityContext: { namespaceOptions: { network: 'NODE', pid: 'CONTAINER', ipc: 'POD' } } },
        }),
      })
    ).podSandboxId;
    const cid = (
      await d.rt<{ containerId: string }>('CreateContainer', {
        podSandboxId: pod,
        config: { metadata: { name: 'hostnet' }, image: { image }, command: ['cat', '/proc/net/dev'], logPath: 'hostnet.log' },
      })
    ).containerId;
    await start(cid);
    await waitExit(cid);
    assert.match(await logText(cid), new RegExp(netw.bridge), 'the host bridge is visible');
    await d.rt('RemovePodSandbox', { podSandboxId: pod });
  });

  it('removes a pod with its containers and leaves no cgroup behind', async () => {
    const parent = `/skiff-e2e-${process.pid}/pod-a`;
    const pod = (
      await d.rt<{ podSandboxId: string }>('RunPodSandbox', {
        config: podConfig({
          logDirectory: logDir,
          linux: { cgroupParent: parent, securityContext: { namespaceOptions: { pid: 'CONTAINER' } } },
        }),
      })
    ).podSandboxId;
    const cid = (
      await d.rt<{ containerId: string }>('CreateContainer', {
        podSandboxId: pod,
        config: { metadata: { name: 'inpod' }, image: { image }, command: ['sleep', '1000'], logPath: 'inpod.log' },
      })
    ).containerId;
    await start(cid);
    assert.ok(existsSync(`/sys/fs/cgroup/memory${parent}/${cid}`));
    await d.rt('RemovePodSandbox', { podSandboxId: pod });
    assert.equal(existsSync(`/sys/fs/cgroup/memory/skiff-e2e-${process.pid}`), false, 'pod cgroup parents removed');
    await assert.rejects(d.rt('ContainerStatus', { containerId: cid }), (err: grpc.ServiceError) => err.code === grpc.status.NOT_FOUND);
  });

  it('mounts the rootfs of a created container again after a reboot-like loss of mounts', async () => {
    const id = await create({ command: ['echo', 'after-remount'] });
    const info = JSON.parse((await status(id, true)).info['info']!) as { bundle: string };
    const dir = d.dir;
    await d.stop();
    assert.equal(spawnSync('umount', [path.join(info.bundle, 'rootfs')]).status, 0);
    d = await TestDaemon.start({ dir });
    await start(id);
    await waitExit(id);
    assert.equal(await logText(id), 'after-remount');
  });

  it('removes a container without leaving a mount, cgroup or bundle', async () => {
    const id = await create({ command: ['sleep', '1000'] });
    await start(id);
    const info = JSON.parse((await status(id, true)).info['info']!) as { bundle: string; cgroupsPath: string };
    await d.rt('RemoveContainer', { containerId: id });
    await d.rt('RemoveContainer', { containerId: id });
    assert.equal(existsSync(info.bundle), false, 'bundle removed');
    assert.equal(existsSync(`/sys/fs/cgroup/memory${info.cgroupsPath}`), false, 'cgroup removed');
    assert.equal(readFileSync('/proc/self/mountinfo', 'utf8').includes(info.bundle), false, 'rootfs unmounted');
    assert.deepEqual((await d.rt<{ containers: { id: string }[] }>('ListContainers', { filter: { id } })).containers, []);
  });

  it('streams the same containers as ListContainers answers', async () => {
    await create({ command: ['true'] });
    const listed = (await d.rt<{ containers: { id: string }[] }>('ListContainers', {})).containers.map((c) => c.id).sort();
    const stream = (
      d.runtime as unknown as { StreamContainers: (r: object) => grpc.ClientReadableStream<{ containers: { id: string }[] }> }
    ).StreamContainers({});
    const streamed: string[] = [];
    await new Promise<void>((resolve, reject) => {
      stream.on('data', (m: { containers: { id: string }[] }) => streamed.push(...m.containers.map((c) => c.id)));
      stream.on('error', reject);
      stream.on('end', resolve);
    });
    assert.ok(listed.length > 0);
    assert.deepEqual(streamed.sort(), listed);
  });
});
