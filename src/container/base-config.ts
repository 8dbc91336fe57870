import { DEFAULT_MASKED_PATHS, DEFAULT_READONLY_PATHS } from './oci-spec/defaults.js';
import type { ContainerConfig } from './types.js';

/**
 * A ContainerConfig with every field at its CRI "not set" value, apart from
 * the default masked and read-only paths: what a config built inside Skiff
 * (the infra container) starts from.
 */
export function baseContainerConfig(name: string, image: string): ContainerConfig {
  return {
    metadata: { name, attempt: 0 },
    image,
    userSpecifiedImage: '',
    imageAnnotations: {},
    imageRuntimeHandler: '',
    command: [],
    args: [],
    workingDir: '',
    envs: [],
    mounts: [],
    devices: [],
    labels: {},
    annotations: {},
    logPath: '',
    stdin: false,
    stdinOnce: false,
    tty: false,
    linux: {
      resources: {
        cpuPeriod: 0,
        cpuQuota: 0,
        cpuShares: 0,
        memoryLimitInBytes: 0,
        oomScoreAdj: 0,
        cpusetCpus: '',
        cpusetMems: '',
        hugepageLimits: [],
        unified: {},
        memorySwapLimitInBytes: 0,
      },
      securityContext: {
        capabilities: { add: [], drop: [] },
        privileged: false,
        namespaceOptions: { network: 'POD', pid: 'CONTAINER', ipc: 'POD', targetId: '' },
        runAsUsername: '',
        readonlyRootfs: false,
        supplementalGroups: [],
        supplementalGroupsPolicy: 'Merge',
        noNewPrivs: false,
        // What kubelet sends for procMount Default.
        maskedPaths: [...DEFAULT_MASKED_PATHS],
        readonlyPaths: [...DEFAULT_READONLY_PATHS],
      },
    },
  };
}
