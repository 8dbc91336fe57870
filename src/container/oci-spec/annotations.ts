import type { SandboxRecord } from '../../sandbox/types.js';
import type { ContainerConfig } from '../types.js';

/**
 * The keys containerd's CRI plugin writes into config.json. Tools that look at
 * OCI bundles (runc hooks, kata, NRI plugins, debugging scripts) know them, so
 * Skiff writes the same ones rather than inventing its own.
 */
export const CRI_ANNOTATIONS = {
  containerType: 'io.kubernetes.cri.container-type',
  sandboxId: 'io.kubernetes.cri.sandbox-id',
  sandboxName: 'io.kubernetes.cri.sandbox-name',
  sandboxNamespace: 'io.kubernetes.cri.sandbox-namespace',
  sandboxUid: 'io.kubernetes.cri.sandbox-uid',
  containerName: 'io.kubernetes.cri.container-name',
  imageName: 'io.kubernetes.cri.image-name',
} as const;

export function specAnnotations(config: ContainerConfig, sandbox: SandboxRecord): Record<string, string> {
  const m = sandbox.config.metadata;
  const out: Record<string, string> = {
    ...config.annotations,
    [CRI_ANNOTATIONS.containerType]: 'container',
    [CRI_ANNOTATIONS.sandboxId]: sandbox.id,
    [CRI_ANNOTATIONS.sandboxName]: m.name,
    [CRI_ANNOTATIONS.sandboxNamespace]: m.namespace,
    [CRI_ANNOTATIONS.sandboxUid]: m.uid,
    [CRI_ANNOTATIONS.containerName]: config.metadata.name,
    // The pod spec's name for the image when kubelet sent it, else the reference used.
    [CRI_ANNOTATIONS.imageName]: config.userSpecifiedImage || config.image,
  };
  return out;
}
