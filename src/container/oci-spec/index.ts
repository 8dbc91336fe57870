// The OCI spec builder's public surface.
export { CRI_ANNOTATIONS } from './annotations.js';
export { buildSpec, type SpecInput } from './build-spec.js';
export { type HostPropagationNeed, requiresHostPropagation } from './mounts.js';
export type * from './oci-spec.js';
export { cgroupResources } from './resources.js';
export { type ResolvedUser, resolveUser, type UserRequest } from './users.js';
