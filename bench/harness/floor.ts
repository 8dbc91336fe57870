// The floor: what a pod and a container cost with the tools alone. A named
// netns (ip netns), the same CNI plugins run by hand, and conmon + runc started
// on a prepared bundle, with no runtime logic around them. Containers get an
// overlay rootfs (mount(8)) on a busybox lower dir and run `runc start` and
// `runc exec` as the commands themselves.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { runChecked } from '../../src/host/run.js';
import { launchContainer } from '../../src/runtime/conmon.js';
import { RuncClient } from '../../src/runtime/runc.js';

function runPlugin(type: string, command: 'ADD' | 'DEL', netns: string, id: string, ifname: string, config: object): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(`/usr/lib/cni/${type}`, [], {
      env: {
        PATH: process.env['PATH'],
        CNI_COMMAND: command,
        CNI_CONTAINERID: id,
        CNI_NETNS: netns,
        CNI_IFNAME: ifname,
        CNI_PATH: '/usr/lib/cni',
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`${type} ${command}: ${out}`))));
    child.stdin.end(JSON.stringify(config));
  });
}

export class Floor {
  private readonly runc: RuncClient;
  private readonly pods: { name: string; id: string }[] = [];
  private readonly containers: { id: string; rootfs: string }[] = [];

  private constructor(
    readonly dir: string,
    private readonly bridge: string,
    private readonly subnet: string,
  ) {
    this.runc = new RuncClient({ binary: '/usr/sbin/runc', root: path.join(dir, 'runc') });
  }

  static async create(subnet: string): Promise<Floor> {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'skiff-bench-floor-'));
    const f = new Floor(dir, `skf${randomBytes(2).toString('hex')}`, subnet);
    await fs.mkdir(path.join(dir, 'pause', 'rootfs'), { recursive: true });
    await fs.copyFile('/usr/bin/catatonit', path.join(dir, 'pause', 'rootfs', 'pause'));
    await fs.chmod(path.join(dir, 'pause', 'rootfs', 'pause'), 0o755);
    const lower = path.join(dir, 'busybox');
    for (const d of ['bin', 'proc', 'dev', 'sys', 'etc', 'tmp']) await fs.mkdir(path.join(lower, d), { recursive: true });
    await fs.copyFile('/bin/busybox', path.join(lower, 'bin', 'busybox'));
    await fs.chmod(path.join(lower, 'bin', 'busybox'), 0o755);
    for (const applet of ['sh', 'sleep', 'true']) await fs.symlink('busybox', path.join(lower, 'bin', applet));
    return f;
  }

  private netConfig(type: string): object {
    const base = { cniVersion: '1.0.0', name: 'floor' };
    if (type === 'loopback') return { ...base, type };
    return {
      ...base,
      type: 'bridge',
      bridge: this.bridge,
      isGateway: true,
      ipam: { type: 'host-local', ranges: [[{ subnet: this.subnet }]], dataDir: path.join(this.dir, 'ipam') },
    };
  }

  private spec(rootfs: string, args: string[], netns: string, cgroup: string): object {
    return {
      ociVersion: '1.0.2',
      process: { terminal: false, user: { uid: 0, gid: 0 }, args, env: ['PATH=/bin'], cwd: '/', noNewPrivileges: true },
      root: { path: rootfs, readonly: true },
      mounts: [
        { destination: '/proc', type: 'proc', source: 'proc' },
        { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      ],
      linux: {
        namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network', path: netns }],
        cgroupsPath: cgroup,
      },
    };
  }

  /** netns + CNI ADD (loopback, bridge) + conmon/runc start of a pause process. */
  async startPod(): Promise<void> {
    const id = randomBytes(8).toString('hex');
    const name = `skf-${id}`;
    spawnSync('ip', ['netns', 'add', name]);
    const netns = `/run/netns/${name}`;
    await runPlugin('loopback', 'ADD', netns, id, 'lo', this.netConfig('loopback'));
    await runPlugin('bridge', 'ADD', netns, id, 'eth0', this.netConfig('bridge'));
    const bundle = path.join(this.dir, 'pods', id);
    await fs.mkdir(bundle, { recursive: true });
    await fs.writeFile(
      path.join(bundle, 'config.json'),
      JSON.stringify(this.spec(path.join(this.dir, 'pause', 'rootfs'), ['/pause', '-P'], netns, `/skiff-bench-floor/${id}`)),
    );
    await launchContainer({
      conmonPath: '/usr/bin/conmon',
      runtimePath: '/usr/sbin/runc',
      runtimeRoot: path.join(this.dir, 'runc'),
      id,
      bundle,
      logPath: path.join(bundle, 'log'),
      exitDir: path.join(this.dir, 'exits'),
      socketDir: path.join(this.dir, 'sock'),
    });
    await this.runc.start(id);
    this.pods.push({ name, id });
  }

  /** An overlay rootfs, config.json, conmon + `runc create`, then `runc start`: a running `sleep`. */
  async startContainer(): Promise<string> {
    const id = randomBytes(8).toString('hex');
    const bundle = path.join(this.dir, 'ctrs', id);
    const rootfs = path.join(bundle, 'rootfs');
    for (const d of [rootfs, path.join(bundle, 'upper'), path.join(bundle, 'work')]) await fs.mkdir(d, { recursive: true });
    await runChecked('mount', [
      '-t',
      'overlay',
      '-o',
      `lowerdir=${path.join(this.dir, 'busybox')},upperdir=${path.join(bundle, 'upper')},workdir=${path.join(bundle, 'work')}`,
      'overlay',
      rootfs,
    ]);
    this.containers.push({ id, rootfs });
    const spec = this.spec(rootfs, ['/bin/sleep', '100000'], '', `/skiff-bench-floor/${id}`) as {
      root: { readonly: boolean };
      linux: { namespaces: { type: string }[] };
    };
    spec.root.readonly = false;
    spec.linux.namespaces = spec.linux.namespaces.map((n) => (n.type === 'network' ? { type: 'network' } : n));
    await fs.writeFile(path.join(bundle, 'config.json'), JSON.stringify(spec));
    await launchContainer({
      conmonPath: '/usr/bin/conmon',
      runtimePath: '/usr/sbin/runc',
      runtimeRoot: path.join(this.dir, 'runc'),
      id,
      bundle,
      logPath: path.join(bundle, 'log'),
      exitDir: path.join(this.dir, 'exits'),
      socketDir: path.join(this.dir, 'sock'),
    });
    await runChecked('/usr/sbin/runc', ['--root', path.join(this.dir, 'runc'), 'start', id]);
    return id;
  }

  /** `runc exec <id> /bin/true`, the command alone. */
  async exec(id: string): Promise<void> {
    await runChecked('/usr/sbin/runc', ['--root', path.join(this.dir, 'runc'), 'exec', id, '/bin/true']);
  }

  async cleanup(): Promise<void> {
    for (const c of this.containers) {
      await this.runc.delete(c.id, { force: true }).catch(() => undefined);
      spawnSync('umount', [c.rootfs]);
    }
    for (const p of this.pods) {
      await this.runc.delete(p.id, { force: true }).catch(() => undefined);
      await runPlugin('bridge', 'DEL', `/run/netns/${p.name}`, p.id, 'eth0', this.netConfig('bridge')).catch(() => undefined);
      spawnSync('ip', ['netns', 'del', p.name]);
    }
    spawnSync('ip', ['link', 'del', this.bridge]);
    spawnSync('rmdir', ['/sys/fs/cgroup/memory/skiff-bench-floor']);
    for (const c of ['cpu', 'cpuacct', 'cpuset', 'devices', 'freezer', 'blkio', 'pids', 'systemd', 'unified', 'net_cls', 'perf_event'])
      spawnSync('rmdir', [`/sys/fs/cgroup/${c}/skiff-bench-floor`]);
    await fs.rm(this.dir, { recursive: true, force: true });
  }
}
