import { existsSync, promises as fs } from 'node:fs';
import path from 'node:path';
import { SkiffError } from '../errors.js';
import { isMountPoint, mountOverlay, unmount } from '../host/mount.js';
import type { ImageService } from '../image/image-service.js';
import type { Logger } from '../log.js';
import { launchContainer } from '../runtime/conmon.js';
import { removeCgroup } from '../runtime/cgroups.js';
import type { InfraRunner } from '../sandbox/sandbox-service.js';
import type { InfraProcess, SandboxRecord } from '../sandbox/types.js';
import type { OverlaySnapshotter } from '../snapshot/overlay-snapshotter.js';
import { writeJsonAtomic } from '../store/atomic-file.js';
import type { ContainerService } from './container-service.js';
import { buildSpec } from './spec/build-spec.js';
import { baseContainerConfig } from './base-config.js';
import type { ContainerConfig } from './types.js';

/** The infra container's config: the pause image as it is, no mounts, no limits. */
function infraConfig(image: string): ContainerConfig {
  const base = baseContainerConfig('POD', image);
  return {
    ...base,
    linux: {
      // Kubelet's sandbox values: smallest CPU share, the sandbox OOM score (clamped on this host).
      resources: { ...base.linux.resources, cpuShares: 2, oomScoreAdj: -998 },
      securityContext: { ...base.linux.securityContext, readonlyRootfs: true, noNewPrivs: true },
    },
  };
}

/**
 * The pause process of pods that need one (a shared PID namespace, or every
 * pod when configured so): the configured pause image run by conmon + runc,
 * joining the pod's pinned network, UTS and IPC namespaces with a PID
 * namespace of its own that the pod's containers then join.
 */
export class InfraContainers implements InfraRunner {
  constructor(
    private readonly o: {
      stateDir: string;
      conmonPath: string;
      pauseImage: string;
      images: ImageService;
      snapshots: OverlaySnapshotter;
      containers: ContainerService;
      log: Logger;
    },
  ) {}

  private bundle(id: string): string {
    return path.join(this.o.stateDir, 'infra', id);
  }

  async start(record: SandboxRecord, signal: AbortSignal): Promise<InfraProcess> {
    const image = this.o.images.find(this.o.pauseImage) ?? (await this.o.images.pull(this.o.pauseImage, undefined, signal));
    const top = image.layers[image.layers.length - 1];
    if (!top) throw new SkiffError('FailedPrecondition', `pause image ${this.o.pauseImage} has no layers`);
    const id = record.id;
    const bundle = this.bundle(id);
    const rootfs = path.join(bundle, 'rootfs');
    await fs.mkdir(rootfs, { recursive: true });
    const { options } = await this.o.snapshots.prepareActive(`infra-${id}`, top.chainId);
    await mountOverlay(rootfs, options);
    const spec = buildSpec({
      id,
      rootfs,
      config: infraConfig(this.o.pauseImage),
      image: image.config,
      sandbox: record,
      user: { uid: 0, gid: 0, additionalGids: [] },
      minOomScoreAdj: Number((await fs.readFile('/proc/self/oom_score_adj', 'utf8')).trim()) || 0,
      boundingCaps: [],
      cgroupV2: existsSync('/sys/fs/cgroup/cgroup.controllers'),
    });
    await writeJsonAtomic(path.join(bundle, 'config.json'), spec);
    const runtimeRoot = path.join(this.o.stateDir, 'runtime', record.runtimeHandler);
    const runc = this.o.containers.runc(record.runtimeHandler);
    const launched = await launchContainer({
      conmonPath: this.o.conmonPath,
      id,
      name: `infra-${record.name}`,
      bundle,
      runtimePath: runc.binary,
      runtimeRoot,
      logPath: path.join(bundle, 'infra.log'),
      exitDir: path.join(this.o.stateDir, 'exits'),
      socketDir: path.join(this.o.stateDir, 'sockets'),
      stdin: false,
      stdinOnce: false,
      tty: false,
    });
    await runc.start(id, launched.pid);
    this.o.log.debug({ sandbox: id, pid: launched.pid }, 'infra container started');
    return { containerId: id, pid: launched.pid, conmonPid: launched.conmonPid };
  }

  async stop(record: SandboxRecord): Promise<void> {
    if (!record.infra) return;
    const runc = this.o.containers.runc(record.runtimeHandler);
    await runc.kill(record.infra.containerId, 'SIGKILL', { all: true }).catch(() => undefined);
    for (let i = 0; i < 100; i++) {
      const st = await runc.state(record.infra.containerId).catch(() => undefined);
      if (!st || st.status === 'stopped') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await runc.delete(record.infra.containerId, { force: true }).catch(() => undefined);
  }

  async remove(record: SandboxRecord): Promise<void> {
    const id = record.infra?.containerId ?? record.id;
    const bundle = this.bundle(id);
    await unmount(path.join(bundle, 'rootfs'));
    await this.o.snapshots.removeActive(`infra-${id}`);
    await removeCgroup(`${record.cgroupParent === '/' ? '' : record.cgroupParent}/${id}`).catch(() => undefined);
    await fs.rm(path.join(this.o.stateDir, 'exits', id), { force: true });
    await fs.rm(path.join(this.o.stateDir, 'sockets', id), { recursive: true, force: true });
    if (!isMountPoint(path.join(bundle, 'rootfs'))) await fs.rm(bundle, { recursive: true, force: true });
  }

  async alive(record: SandboxRecord): Promise<boolean> {
    if (!record.infra) return false;
    const st = await this.o.containers.runc(record.runtimeHandler).state(record.infra.containerId).catch(() => undefined);
    return st?.status === 'running';
  }
}
