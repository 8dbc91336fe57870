// CreateContainer: the record first (intent), then the rootfs, the user, the
// OCI spec and the bundle; any failure undoes all of it.
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';

import { failedPrecondition, invalidArgument, notFound } from '../errors.js';
import { checkHostPropagation } from '../host/mount-propagation.js';
import type { Logger } from '../log.js';
import type { HandlerFeatures } from '../runtime/handler-features.js';
import type { SandboxRecord } from '../sandbox/types.js';
import { checkUserNamespace } from '../security/user-namespace.js';
import { nowNs } from '../time.js';
import { type BundleRef, cgroupsPathOf, podRootfsIdmap, type RootfsIdmap, rootfsOf } from './bundle.js';
import type { ContainerRecords } from './container-records.js';
import type { ContainerDeps } from './deps.js';
import { buildSpec } from './oci-spec/build-spec.js';
import { hostDevices } from './oci-spec/devices.js';
import { resolveHostPath } from './oci-spec/host-path.js';
import { requiresHostPropagation } from './oci-spec/mounts.js';
import { resolveUser } from './oci-spec/users.js';
import { bundleRefOf, CONTAINER_RECORD_VERSION, type ContainerRecord } from './record.js';
import type { ContainerConfig, ContainerMount } from './types.js';

/** The name kubelet's retries are recognised by. */
export function containerName(sandbox: SandboxRecord, config: ContainerConfig): string {
  const p = sandbox.config.metadata;
  return `${config.metadata.name}_${p.name}_${p.namespace}_${p.uid}_${config.metadata.attempt}`;
}

export function createFingerprint(sandbox: SandboxRecord, config: ContainerConfig): string {
  return JSON.stringify({ sandbox: sandbox.id, config });
}

/** Creates the container; resolves with its id once it is `created`. */
export async function createContainer(
  records: ContainerRecords,
  deps: ContainerDeps,
  name: string,
  sandbox: SandboxRecord,
  config: ContainerConfig,
  signal: AbortSignal,
  callLog: Logger,
): Promise<string> {
  const image = deps.images.find(config.image);
  if (!image) throw notFound(`image "${config.image}" not found`);
  const top = image.layers.at(-1);
  if (!top) throw failedPrecondition(`image ${image.id} has no layers`);
  let runtimePath: string;
  let features: HandlerFeatures;
  try {
    runtimePath = deps.runtimes.get(sandbox.runtimeHandler).binary;
    features = deps.runtimes.features(sandbox.runtimeHandler);
  } catch (err) {
    throw failedPrecondition(`runtime handler "${sandbox.runtimeHandler}" of the pod is not available`, { cause: err });
  }
  checkContainerUserNamespace(sandbox, config, features);
  const id = randomBytes(32).toString('hex');
  const bundle = path.join(deps.stateDir, 'containers', id);
  const record: ContainerRecord = {
    version: CONTAINER_RECORD_VERSION,
    id,
    name,
    sandboxId: sandbox.id,
    config,
    fingerprint: createFingerprint(sandbox, config),
    image: image.repoTags[0] ?? config.image,
    imageId: image.id,
    imageRef: image.repoDigests[0] ?? image.id,
    runtimeHandler: sandbox.runtimeHandler,
    runtimePath,
    bundle,
    rootfs: rootfsOf(bundle),
    logPath: config.logPath ? path.join(sandbox.config.logDirectory, config.logPath) : '',
    cgroupsPath: cgroupsPathOf(sandbox.cgroupParent, id),
    stopSignal: image.config.config?.StopSignal || 'SIGTERM',
    createdAt: nowNs(),
    status: {
      state: 'creating',
      user: { uid: 0, gid: 0, additionalGids: [] },
      resources: config.linux.resources,
      startedAt: '0',
      finishedAt: '0',
      exitCode: 0,
      reason: '',
      message: '',
      pid: 0,
      conmonPid: 0,
    },
  };
  const log = callLog.child({ container: id, name });
  const ref = bundleRefOf(record);
  await records.put(record); // intent: recovery can undo what follows
  try {
    const userns = podRootfsIdmap(sandbox);
    await deps.bundles.mountRootfs(ref, top.chainId, userns);
    signal.throwIfAborted();
    for (const need of requiresHostPropagation(config.mounts)) checkHostPropagation(need.path, need.mode);
    config = await idmapVolumes(deps, ref, sandbox, config, userns);
    const user = await resolveUser(record.rootfs, config, image.config.config?.User);
    const pidPath = pidNamespacePath(records, sandbox, config);
    const ns = config.linux.securityContext.namespaceOptions;
    // A pod that does not share its PID namespace has none to join: PID mode POD means a namespace of its own.
    const specConfig =
      ns.pid === 'POD' && pidPath === undefined
        ? {
            ...config,
            linux: {
              ...config.linux,
              securityContext: { ...config.linux.securityContext, namespaceOptions: { ...ns, pid: 'CONTAINER' as const } },
            },
          }
        : config;
    const spec = buildSpec({
      id,
      rootfs: record.rootfs,
      config: specConfig,
      image: image.config,
      sandbox,
      user,
      host: deps.host,
      cgroupsPath: record.cgroupsPath,
      handler: { name: sandbox.runtimeHandler, recursiveReadOnlyMounts: features.recursiveReadOnlyMounts },
      hostDevices,
      ...(pidPath ? { pidNamespacePath: pidPath } : {}),
      ...(sandbox.hostsPath && existsSync(sandbox.hostsPath) ? { hostsPath: sandbox.hostsPath } : {}),
    });
    await deps.bundles.writeSpec(ref, spec);
    await records.setStatus(id, { state: 'created', user });
    deps.events.publish({ containerId: id, sandboxId: sandbox.id, type: 'created' });
    log.info('container created');
    return id;
  } catch (err) {
    await deps.bundles.remove(ref).catch((e: unknown) => log.error({ err: e }, 'rollback failed'));
    await records.delete(id);
    throw err;
  }
}

/** A container's user namespace is its pod's: it may repeat the pod's request, never differ from it. */
function checkContainerUserNamespace(sandbox: SandboxRecord, config: ContainerConfig, features: HandlerFeatures): void {
  const want = config.linux.securityContext.namespaceOptions.userNamespace;
  const field = 'linux.security_context.namespace_options.userns_options';
  checkUserNamespace(want, field, sandbox.runtimeHandler, features.userNamespaces);
  const pod = sandbox.config.namespaces.userNamespace;
  const podMode = pod?.mode ?? 'NODE';
  if ((want?.mode ?? podMode) !== podMode || (want?.mode === 'POD' && JSON.stringify(want) !== JSON.stringify(pod)))
    throw invalidArgument(`${field}: differs from the pod's user namespace`);
}

/**
 * In a user-namespaced pod every CRI mount is idmapped with the pod's
 * mapping, so that the volumes kubelet made as the host's root belong to the
 * pod's root. An explicit mapping must be the pod's; outside such a pod none
 * can be applied. Propagation would not cross the idmapped copy: refused.
 */
async function idmapVolumes(
  deps: ContainerDeps,
  ref: BundleRef,
  sandbox: SandboxRecord,
  config: ContainerConfig,
  userns: RootfsIdmap | undefined,
): Promise<ContainerConfig> {
  const pod = sandbox.config.namespaces.userNamespace;
  const mounts: ContainerMount[] = [];
  for (const [i, m] of config.mounts.entries()) {
    const what = `mount ${m.containerPath}`;
    if (!userns) {
      if (m.idmap) throw invalidArgument(`${what}: an idmapped mount needs a pod with its own user namespace`);
      mounts.push(m);
      continue;
    }
    if (m.idmap && JSON.stringify(m.idmap) !== JSON.stringify({ uids: pod?.uids, gids: pod?.gids }))
      throw invalidArgument(`${what}: uid/gid mappings must be the pod's own`);
    if (m.propagation !== 'private')
      throw failedPrecondition(`${what}: mount propagation is not supported in a pod with its own user namespace`);
    const source = resolveHostPath(m.hostPath, what);
    const hostPath = await deps.bundles.idmapVolume(ref, i, source, userns).catch((err: unknown) => {
      throw failedPrecondition(`${what}: cannot idmap ${source} for the pod's user namespace: ${(err as Error).message}`, { cause: err });
    });
    mounts.push({ ...m, hostPath });
  }
  return { ...config, mounts };
}

function pidNamespacePath(records: ContainerRecords, sandbox: SandboxRecord, config: ContainerConfig): string | undefined {
  const ns = config.linux.securityContext.namespaceOptions;
  if (ns.pid === 'POD') {
    const infra = sandbox.status.infra;
    if (!infra) {
      if (sandbox.config.namespaces.pid !== 'POD') return undefined;
      throw failedPrecondition(`pod ${sandbox.id} has no infra process holding its shared PID namespace`);
    }
    return infra.pidNamespace ?? `/proc/${infra.pid}/ns/pid`;
  }
  if (ns.pid === 'TARGET') {
    const target = records.get(ns.targetId);
    if (!target || target.status.state !== 'running') throw failedPrecondition(`target container "${ns.targetId}" is not running`);
    return `/proc/${target.status.pid}/ns/pid`;
  }
  return undefined;
}
