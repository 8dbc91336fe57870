// The OCI spec builder's public surface.
export { buildSpec, type SpecInput } from './build-spec.js';
export { resolveUser, type ResolvedUser, type UserRequest } from './users.js';
export { requiresHostPropagation, type HostPropagationNeed } from './mounts.js';
export { CRI_ANNOTATIONS, SECCOMP_NOT_APPLIED } from './annotations.js';
export type * from './oci-spec.js';
export { cgroupResources } from './resources.js';
