// Builds a minimal OCI bundle by hand for runtime tests: a rootfs holding only
// busybox-static and its applet links, and a config.json written here (no image,
// no spec builder), so the runtime adapters are tested on their own.
import { copyFile, mkdir, symlink, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

export const BUSYBOX = '/bin/busybox';
const APPLETS = ['sh', 'sleep', 'echo', 'cat', 'true', 'yes', 'head', 'tail', 'ls'];
const CAPS = ['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID', 'CAP_NET_BIND_SERVICE'];

export interface BundleOptions {
  args: string[];
  /** Absolute, so that runc does not nest it under the test runner's own cgroup. */
  cgroupsPath: string;
  memoryLimit?: number;
  terminal?: boolean;
}

export async function makeBundle(bundle: string, opts: BundleOptions): Promise<{ bundle: string; rootfs: string }> {
  const rootfs = join(bundle, 'rootfs');
  for (const d of ['bin', 'proc', 'dev', 'sys', 'tmp', 'etc']) await mkdir(join(rootfs, d), { recursive: true });
  await copyFile(BUSYBOX, join(rootfs, 'bin', 'busybox'));
  for (const a of APPLETS) await symlink('busybox', join(rootfs, 'bin', a));
  const config = {
    ociVersion: '1.0.2',
    process: {
      terminal: opts.terminal ?? false,
      user: { uid: 0, gid: 0 },
      args: opts.args,
      env: ['PATH=/bin'],
      cwd: '/',
      capabilities: { bounding: CAPS, effective: CAPS, permitted: CAPS },
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: false },
    hostname: 'skiff-test',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
      {
        destination: '/dev/pts',
        type: 'devpts',
        source: 'devpts',
        options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'],
      },
      { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
      { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    ],
    linux: {
      cgroupsPath: opts.cgroupsPath,
      resources: {
        devices: [{ allow: false, access: 'rwm' }],
        ...(opts.memoryLimit !== undefined ? { memory: { limit: opts.memoryLimit } } : {}),
      },
      namespaces: [{ type: 'pid' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }, { type: 'network' }],
      maskedPaths: ['/proc/kcore', '/proc/keys', '/proc/timer_list'],
      readonlyPaths: ['/proc/sys', '/proc/sysrq-trigger'],
    },
  };
  await writeFile(join(bundle, 'config.json'), JSON.stringify(config, null, 2));
  return { bundle, rootfs };
}
