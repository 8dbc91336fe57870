import { promises as fs } from 'node:fs';
import path from 'node:path';

import type { RuntimeAvailability } from '../config/check-host.js';
import type { SkiffConfig } from '../config/schema.js';
import { ContainerStats } from '../container/container-stats.js';
import { ContainerEventBus } from '../events/container-events.js';
import { probeIdmappedLayers } from '../host/idmap-probe.js';
import { hostUserNamespaces } from '../host/userns.js';
import { mountPointOf } from '../image/disk-usage.js';
import type { Logger } from '../log.js';
import { CniConfigWatcher } from '../network/cni/conf-dir.js';
import { PodCidrStore } from '../network/pod-cidr.js';
import { probeHandlerFeatures } from '../runtime/handler-features.js';
import type { CriBackend } from '../server/backend.js';
import { CriServer } from '../server/grpc-server.js';
import { StreamServer } from '../streaming/stream-server.js';
import { RUNTIME_VERSION } from '../version.js';
import { claimSocketPath, InstanceLock } from './instance-lock.js';
import { securePrivateDirs } from './private-dirs.js';
import { startImages } from './start-images.js';
import { startLifecycle } from './start-lifecycle.js';
import { streamBackend } from './stream-backend.js';

type Closer = () => Promise<void> | void;

/**
 * Starts the daemon's parts in order and returns a function that stops them in
 * reverse. If a step fails, what already started is stopped before rethrowing.
 */
export async function bootDaemon(
  config: SkiffConfig,
  configSource: string | undefined,
  availability: RuntimeAvailability[],
  log: Logger,
): Promise<() => Promise<void>> {
  const closers: Closer[] = [];
  const stop = async (): Promise<void> => {
    for (const close of closers.reverse().splice(0)) {
      try {
        await close();
      } catch (err) {
        log.error({ err }, 'error while stopping');
      }
    }
  };
  try {
    const rootLock = await InstanceLock.acquire(config.root, 'root directory');
    closers.push(() => rootLock.release());
    if (path.resolve(config.stateDir) !== path.resolve(config.root)) {
      const stateLock = await InstanceLock.acquire(config.stateDir, 'state directory');
      closers.push(() => stateLock.release());
    }
    await securePrivateDirs(config.root, config.stateDir);
    const userns = hostUserNamespaces();
    const idmap = await probeIdmappedLayers(userns, config.root, config.stateDir);
    const runtimes = await Promise.all(
      availability.map(async (r) => (r.available ? { ...r, features: await probeHandlerFeatures(r.path, idmap) } : r)),
    );
    log.debug({ runtimes }, 'runtime handlers');

    const podCidrs = new PodCidrStore(config.root);
    await podCidrs.load();

    const cni = new CniConfigWatcher(config.cni.confDir, (state) =>
      state.ready
        ? log.info({ file: state.network.file, network: state.network.name }, 'CNI network config loaded')
        : log.warn({ reason: state.reason }, 'CNI network not ready'),
    );
    await cni.start();
    closers.push(() => cni.stop());

    const images = await startImages(config, log);
    closers.push(() => images.close());

    const events = new ContainerEventBus();
    const { sandboxes, containers, pods } = await startLifecycle(
      config,
      runtimes,
      userns,
      cni,
      images.service,
      images.snapshots,
      events,
      log,
    );
    closers.push(() => containers.close());
    closers.push(() => sandboxes.close());

    const stats = new ContainerStats(containers, sandboxes, images.snapshots, log.child({ part: 'stats' }));
    const streaming = new StreamServer({
      address: config.stream.address,
      port: config.stream.port,
      ...(config.stream.tlsCertFile ? { tls: { certFile: config.stream.tlsCertFile, keyFile: config.stream.tlsKeyFile } } : {}),
      idleTimeoutMs: config.stream.idleTimeoutSeconds * 1000,
      backend: streamBackend(containers, sandboxes),
      log: log.child({ part: 'streaming' }),
    });
    const streamUrl = await streaming.listen();
    closers.push(() => streaming.close());
    const parts: CriBackend = {
      config,
      configSource,
      runtimes,
      cni,
      podCidrs,
      images: images.service,
      pods,
      sandboxes,
      containers,
      events,
      stats,
      streaming,
      imageFsMountpoint: await mountPointOf(config.root),
    };
    await claimSocketPath(config.listen);
    const server = new CriServer(log, parts);
    await server.listen(config.listen);
    closers.push(async () => {
      await server.close();
      await fs.rm(config.listen, { force: true });
    });

    log.info(
      { version: RUNTIME_VERSION, socket: config.listen, streaming: streamUrl, config: configSource ?? '(embedded defaults)' },
      `skiff ${RUNTIME_VERSION} serving CRI on ${config.listen}`,
    );
    return stop;
  } catch (err) {
    await stop();
    throw err;
  }
}
