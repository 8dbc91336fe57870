import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';

/**
 * A CNI network of the test's own: a bridge name, subnet and host-local data
 * dir nobody else uses. `cleanup` removes the bridge and leases even when a test failed.
 */
export class TestNetwork {
  readonly bridge: string;
  readonly subnet: string;
  readonly gateway: string;
  readonly ipamDir: string;

  constructor(readonly dir: string) {
    const n = 1 + (randomBytes(1)[0]! % 250);
    this.bridge = `skt${randomBytes(3).toString('hex')}`;
    this.subnet = `10.234.${n}.0/24`;
    this.gateway = `10.234.${n}.1`;
    this.ipamDir = path.join(dir, 'ipam');
  }

  conflist(
    extraPlugins: object[] = [
      { type: 'portmap', capabilities: { portMappings: true }, snat: true },
      { type: 'bandwidth', capabilities: { bandwidth: true } },
    ],
  ): object {
    return {
      cniVersion: '1.0.0',
      name: 'skiff-test',
      plugins: [
        {
          type: 'bridge',
          bridge: this.bridge,
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: 'host-local',
            ranges: [[{ subnet: this.subnet, gateway: this.gateway }]],
            routes: [{ dst: '0.0.0.0/0' }],
            dataDir: this.ipamDir,
          },
        },
        ...extraPlugins,
      ],
    };
  }

  async install(confDir: string, conflist: object = this.conflist()): Promise<void> {
    await fs.mkdir(confDir, { recursive: true });
    await fs.writeFile(path.join(confDir, '10-test.conflist'), JSON.stringify(conflist));
  }

  /** IPs host-local still has leased in this network. */
  async leases(): Promise<string[]> {
    const names = await fs.readdir(path.join(this.ipamDir, 'skiff-test')).catch(() => [] as string[]);
    return names.filter((n) => /^\d+\.\d+\.\d+\.\d+$/.test(n));
  }

  /** veth interfaces attached to the bridge. */
  attached(): string[] {
    const out = spawnSync('ip', ['-o', 'link', 'show', 'master', this.bridge]);
    return out.status === 0 ? out.stdout.toString().split('\n').filter(Boolean) : [];
  }

  cleanup(): void {
    spawnSync('ip', ['link', 'del', this.bridge]);
  }
}

export function ping(ip: string): boolean {
  return spawnSync('ping', ['-c', '1', '-W', '2', ip]).status === 0;
}
