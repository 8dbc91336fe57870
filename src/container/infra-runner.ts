import { promises as fs } from 'node:fs';
import path from 'node:path';

import { SkiffError } from '../errors.js';
import type { HostFeatures } from '../host/features.js';
import type { HostMounts } from '../host/mount.js';
import type { ImageRecord } from '../image/image-store.js';
import type { Logger } from '../log.js';
import { ExitWatcher } from '../runtime/exit-watcher.js';
import type { ContainerMonitor, RuntimeProvider } from '../runtime/oci-runtime.js';
import type { InfraRunner } from '../sandbox/infra.js';
import type { InfraProcess, SandboxRecord } from '../sandbox/types.js';
import { baseContainerConfig } from './base-config.js';
import { type BundleRef, type Bundles, cgroupsPathOf, podRootfsIdmap, rootfsOf } from './bundle.js';
import { buildSpec } from './oci-spec/build-spec.js';
import type { ContainerConfig } from './types.js';

/** The infra container's config: the pause image as it is, no mounts, no limits, the pod's security context. */
function infraConfig(image: string, sandbox: SandboxRecord): ContainerConfig {
  const base = baseContainerConfig('POD', image);
  const { seccomp, apparmor } = sandbox.config;
  return {
    ...base,
    linux: {
      // Kubelet's sandbox values: smallest CPU share, the sandbox OOM score (clamped to what the host allows).
      resources: { ...base.linux.resources, cpuShares: 2, oomScoreAdj: -998 },
      // The pod's own security context applies to it: its seccomp profile, privileged when the pod is.
      securityContext: {
        ...base.linux.securityContext,
        readonlyRootfs: true,
        noNewPrivs: true,
        privileged: sandbox.config.privileged,
        ...(seccomp ? { seccomp } : {}),
        ...(apparmor ? { apparmor } : {}),
      },
    },
  };
}

/** The pause image, pulled on first use. */
export interface PauseImageSource {
  find(ref: string): ImageRecord | undefined;
  pull(ref: string, auth: undefined, signal: AbortSignal): Promise<ImageRecord>;
}

/**
 * The pause process of pods that need one (a shared PID namespace, or every
 * pod when configured so): the configured pause image run by the monitor and
 * runtime, joining the pod's pinned network, UTS and IPC namespaces with a PID
 * namespace of its own that the pod's containers then join.
 */
export class InfraContainers implements InfraRunner {
  constructor(
    private readonly o: {
      stateDir: string;
      pauseImage: string;
      images: PauseImageSource;
      bundles: Bundles;
      runtimes: RuntimeProvider;
      monitor: ContainerMonitor;
      host: HostFeatures;
      /** conmon's exit files for infra containers (a directory of their own). */
      exitDir: string;
      socketDir: string;
      mounts: Pick<HostMounts, 'bindMount' | 'unmount'>;
      log: Logger;
    },
  ) {
    this.exits = new ExitWatcher(o.exitDir, { log: o.log });
  }

  private readonly exits: ExitWatcher;

  private pinPath(record: SandboxRecord): string {
    return path.join(this.bundle(record).dir, 'pidns');
  }

  private bundle(record: SandboxRecord): BundleRef {
    const id = record.status.infra?.containerId ?? record.id;
    return {
      id,
      dir: path.join(this.o.stateDir, 'infra', id),
      snapshotKey: `infra-${id}`,
      cgroupsPath: cgroupsPathOf(record.cgroupParent, id),
    };
  }

  async start(record: SandboxRecord, signal: AbortSignal): Promise<InfraProcess> {
    const image = this.o.images.find(this.o.pauseImage) ?? (await this.o.images.pull(this.o.pauseImage, undefined, signal));
    const top = image.layers.at(-1);
    if (!top) throw new SkiffError('FailedPrecondition', `pause image ${this.o.pauseImage} has no layers`);
    const ref = this.bundle(record);
    await this.o.bundles.mountRootfs(ref, top.chainId, podRootfsIdmap(record));
    const spec = buildSpec({
      id: ref.id,
      rootfs: rootfsOf(ref.dir),
      config: infraConfig(this.o.pauseImage, record),
      image: image.config,
      sandbox: record,
      user: { uid: 0, gid: 0, additionalGids: [] },
      // The pause process needs no capabilities.
      host: { ...this.o.host, boundingCaps: [] },
      cgroupsPath: ref.cgroupsPath,
      handler: { name: record.runtimeHandler, recursiveReadOnlyMounts: false },
      // The pause process opens no devices, privileged pod or not.
      hostDevices: () => [],
    });
    await this.o.bundles.writeSpec(ref, spec);
    const runtime = this.o.runtimes.get(record.runtimeHandler);
    const launched = await this.o.monitor.launch({
      id: ref.id,
      name: `infra-${record.name}`,
      bundle: ref.dir,
      runtimePath: runtime.binary,
      runtimeRoot: runtime.root,
      logPath: path.join(ref.dir, 'infra.log'),
      exitDir: this.o.exitDir,
      socketDir: this.o.socketDir,
      stdin: false,
      stdinOnce: false,
      tty: false,
    });
    // Pinned before the process runs: from here on containers join the pin, not the pid.
    const pin = this.pinPath(record);
    await fs.writeFile(pin, '', { mode: 0o600 });
    await this.o.mounts.bindMount(`/proc/${launched.pid}/ns/pid`, pin);
    await runtime.start(ref.id, launched.pid);
    this.o.log.debug({ sandbox: record.id, pid: launched.pid }, 'infra container started');
    return { containerId: ref.id, pid: launched.pid, conmonPid: launched.conmonPid, pidNamespace: pin };
  }

  async stop(record: SandboxRecord): Promise<void> {
    const infra = record.status.infra;
    if (!infra) return;
    const runtime = this.o.runtimes.get(record.runtimeHandler);
    await runtime.kill(infra.containerId, 'SIGKILL', { all: true }).catch((err: unknown) => this.o.log.debug({ err }, 'infra kill'));
    for (let i = 0; i < 100; i++) {
      const st = await runtime.state(infra.containerId).catch(() => undefined);
      if (!st || st.status === 'stopped') break;
      await new Promise((r) => setTimeout(r, 20));
    }
    await runtime.delete(infra.containerId, { force: true }).catch((err: unknown) => this.o.log.debug({ err }, 'infra delete'));
  }

  async remove(record: SandboxRecord): Promise<void> {
    await this.o.mounts.unmount(this.pinPath(record));
    await this.o.bundles.remove(this.bundle(record));
    const id = record.status.infra?.containerId ?? record.id;
    await fs.rm(path.join(this.o.exitDir, id), { force: true });
    this.exits.forget(id);
  }

  async watchExits(onExit: (infraId: string) => void): Promise<void> {
    this.exits.on('exit', (id) => onExit(id));
    await this.exits.start();
  }

  close(): void {
    this.exits.stop();
  }

  async alive(record: SandboxRecord): Promise<boolean> {
    const infra = record.status.infra;
    if (!infra) return false;
    const st = await this.o.runtimes
      .get(record.runtimeHandler)
      .state(infra.containerId)
      .catch(() => undefined);
    return st?.status === 'running';
  }
}
