// The CNI runtime's public surface; the sandbox service imports from here.
export { type CniConfigState, CniConfigWatcher, type CniNetworkConfig, loadCniConfigDir, parseCniConfig } from './conf-dir.js';
export { LOOPBACK_NETWORK, setupLoopback, teardownLoopback } from './loopback.js';
export { CniRuntime, type CniRuntimeOptions } from './network.js';
export { CNI_ERROR_CODES, CniPluginError } from './plugin-error.js';
export { podIps } from './result.js';
export type { CniAddResult, CniCapabilities, CniInterfaceIp, CniPodInfo } from './types.js';
