import path from 'node:path';
import type { RuntimeAvailability } from '../config/check-host.js';
import type { SkiffConfig } from '../config/schema.js';
import type { Logger } from '../log.js';
import { CniRuntime, type CniConfigWatcher } from '../network/cni/index.js';
import { PodNamespaces } from '../sandbox/pod-namespaces.js';
import { SandboxService } from '../sandbox/sandbox-service.js';

/** Loads sandbox records and reconciles them with the host before serving. */
export async function startSandboxes(config: SkiffConfig, runtimes: RuntimeAvailability[], cniConfig: CniConfigWatcher, log: Logger): Promise<SandboxService> {
  const namespaces = new PodNamespaces(path.join(config.stateDir, 'ns'));
  await namespaces.init();
  const cni = new CniRuntime({ binDirs: config.cni.binDirs, cacheDir: path.join(config.root, 'cni-cache'), log: log.child({ part: 'cni' }) });
  const sandboxes = new SandboxService({
    stateDir: config.stateDir,
    root: config.root,
    runtimes: new Map(runtimes.filter((r) => r.available).map((r) => [r.name, r.path])),
    defaultRuntime: config.defaultRuntime,
    infraAlways: config.infraContainer === 'always',
    namespaces,
    cni,
    cniConfig,
    log: log.child({ part: 'sandbox' }),
  });
  await sandboxes.load();
  return sandboxes;
}
