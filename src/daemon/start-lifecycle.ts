import path from 'node:path';

import type { RuntimeAvailability } from '../config/check-host.js';
import type { SkiffConfig } from '../config/schema.js';
import { Bundles } from '../container/bundle.js';
import { ContainerService } from '../container/container-service.js';
import { InfraContainers } from '../container/infra-runner.js';
import type { ContainerEventBus } from '../events/container-events.js';
import { probeHostFeatures } from '../host/features.js';
import { hostMounts } from '../host/mount.js';
import type { UserNamespaceOps } from '../host/userns.js';
import type { ImageService } from '../image/image-service.js';
import type { Logger } from '../log.js';
import { type CniConfigWatcher, CniRuntime } from '../network/cni/index.js';
import { PodLifecycle } from '../pod/pod-lifecycle.js';
import { hostCgroups } from '../runtime/cgroups.js';
import { conmonMonitor } from '../runtime/conmon.js';
import { handlerFeaturesFrom } from '../runtime/handler-features.js';
import { RuntimeClients } from '../runtime/runtime-clients.js';
import { PodNamespaces } from '../sandbox/pod-namespaces.js';
import { SandboxService } from '../sandbox/sandbox-service.js';
import type { OverlaySnapshotter } from '../snapshot/overlay-snapshotter.js';

export interface Lifecycle {
  sandboxes: SandboxService;
  containers: ContainerService;
  pods: PodLifecycle;
}

/**
 * Builds the pod and container services with every dependency given at
 * construction, loads their records and reconciles them with the host.
 * Containers are recovered first: a sandbox is judged by what its processes are doing.
 */
export async function startLifecycle(
  config: SkiffConfig,
  runtimeList: readonly RuntimeAvailability[],
  userns: UserNamespaceOps,
  cniConfig: CniConfigWatcher,
  images: ImageService,
  snapshots: OverlaySnapshotter,
  events: ContainerEventBus,
  log: Logger,
): Promise<Lifecycle> {
  const host = await probeHostFeatures();
  log.debug({ host }, 'host features');
  const binaries = new Map(runtimeList.filter((r) => r.available).map((r) => [r.name, r.path]));
  const features = new Map(
    runtimeList
      .filter((r) => r.available)
      .map((r) => [r.name, r.features ?? handlerFeaturesFrom(undefined, '', { ok: false, reason: 'not probed' })]),
  );
  const runtimes = new RuntimeClients({ stateDir: config.stateDir, binaries, features, log: log.child({ part: 'runtime' }) });
  const monitor = conmonMonitor(config.conmonPath);
  const exitDir = path.join(config.stateDir, 'exits');
  const socketDir = path.join(config.stateDir, 'sockets');
  const bundles = new Bundles({ snapshots, mounts: hostMounts, userns, cgroups: hostCgroups, exitDir, socketDir });

  const namespaces = new PodNamespaces(path.join(config.stateDir, 'ns'), userns);
  await namespaces.init();
  const infra = new InfraContainers({
    stateDir: config.stateDir,
    pauseImage: config.pauseImage,
    images,
    bundles,
    runtimes,
    monitor,
    host,
    exitDir: path.join(config.stateDir, 'infra-exits'),
    socketDir,
    mounts: hostMounts,
    log: log.child({ part: 'infra' }),
  });
  const sandboxes = new SandboxService({
    stateDir: config.stateDir,
    root: config.root,
    runtimes: binaries,
    handlerFeatures: features,
    apparmor: host.apparmor,
    defaultRuntime: config.defaultRuntime,
    infraAlways: config.infraContainer === 'always',
    namespaces,
    cni: new CniRuntime({ binDirs: config.cni.binDirs, cacheDir: path.join(config.root, 'cni-cache'), log: log.child({ part: 'cni' }) }),
    cniConfig,
    infra,
    mounts: hostMounts,
    log: log.child({ part: 'sandbox' }),
  });
  const containers = new ContainerService({
    stateDir: config.stateDir,
    root: config.root,
    runtimes,
    monitor,
    bundles,
    cgroups: hostCgroups,
    images,
    events,
    host,
    exitDir,
    socketDir,
    log: log.child({ part: 'container' }),
  });
  await sandboxes.load();
  await containers.load();
  await containers.recover();
  await sandboxes.recover();
  return { sandboxes, containers, pods: new PodLifecycle(sandboxes, containers) };
}
