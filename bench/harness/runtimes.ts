// The two runtimes every benchmark compares, started the same way: a test
// registry serving busybox and a pause image, Skiff (the built daemon) and
// Debian's containerd, each with a bridge network of its own, both pulling
// registry.k8s.io/pause from the registry.
import { spawnSync } from 'node:child_process';
import { promises as fs } from 'node:fs';
import path from 'node:path';

import { TestDaemon } from '../../test/support/daemon.js';
import { busyboxImage, pauseImage, pushImage } from '../../test/support/images.js';
import { TestRegistry } from '../../test/support/registry.js';
import { Containerd } from './containerd.js';

export const PAUSE = 'registry.k8s.io/pause:3.10';

function conflist(bridge: string, subnet: string, ipam: string): string {
  return JSON.stringify({
    cniVersion: '1.0.0',
    name: 'bench',
    plugins: [
      { type: 'bridge', bridge, isGateway: true, ipMasq: false, ipam: { type: 'host-local', ranges: [[{ subnet }]], dataDir: ipam } },
      { type: 'portmap', capabilities: { portMappings: true } },
    ],
  });
}

export interface BenchRuntimes {
  registry: TestRegistry;
  /** The busybox image both pull. */
  image: string;
  skiff: TestDaemon;
  containerd: Containerd;
  /** Stops both, removes their bridges and the registry. */
  stop(): Promise<void>;
}

/**
 * Starts both runtimes. `net` names the bridges (`sk<net>0`, `ct<net>0`) and
 * the second octet of their subnets, so that benchmarks never share either.
 */
export async function startBenchRuntimes(net: { name: string; octet: number }, skiffLogLevel = 'info'): Promise<BenchRuntimes> {
  const registry = await TestRegistry.start();
  await pushImage(registry.url, 'pause', '3.10', pauseImage());
  await pushImage(registry.url, 'bench/busybox', '1', busyboxImage());
  const image = `${registry.host}/bench/busybox:1`;
  const skBridge = `sk${net.name}0`;
  const ctBridge = `ct${net.name}0`;

  const skiff = await TestDaemon.start({ topToml: `pause_image = "${PAUSE}"`, args: ['--log-level', skiffLogLevel] });
  await fs.mkdir(path.join(skiff.registryConfigDir, 'registry.k8s.io'), { recursive: true });
  await fs.writeFile(
    path.join(skiff.registryConfigDir, 'registry.k8s.io', 'hosts.toml'),
    `server = "https://registry.k8s.io"\n[host."http://${registry.host}"]\ncapabilities = ["pull", "resolve"]\n`,
  );
  await fs.writeFile(
    path.join(skiff.cniConfDir, '10-bench.conflist'),
    conflist(skBridge, `10.${net.octet}.0.0/16`, path.join(skiff.dir, 'ipam')),
  );
  const ctdCni = path.join(skiff.dir, 'containerd-net.d');
  await fs.mkdir(ctdCni, { recursive: true });
  await fs.writeFile(
    path.join(ctdCni, '10-bench.conflist'),
    conflist(ctBridge, `10.${net.octet + 1}.0.0/16`, path.join(skiff.dir, 'ctd-ipam')),
  );
  const containerd = await Containerd.start({
    registryHosts: [registry.host],
    mirrors: { 'registry.k8s.io': registry.host },
    cniConfDir: ctdCni,
    pauseImage: PAUSE,
  });
  return {
    registry,
    image,
    skiff,
    containerd,
    stop: async () => {
      await containerd.stop().catch(() => undefined);
      await skiff.destroy();
      await registry.stop();
      spawnSync('ip', ['link', 'del', skBridge]);
      spawnSync('ip', ['link', 'del', ctBridge]);
    },
  };
}
