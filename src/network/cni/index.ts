// The CNI runtime's public surface; the sandbox service imports from here.
export { CniRuntime, type CniRuntimeOptions } from './network.js';
export { CniPluginError, CNI_ERROR_CODES } from './plugin-error.js';
export { setupLoopback, teardownLoopback, LOOPBACK_NETWORK } from './loopback.js';
export { podIps } from './result.js';
export type { CniPodInfo, CniCapabilities, CniInterfaceIp, CniAddResult } from './types.js';
export { CniConfigWatcher, loadCniConfigDir, parseCniConfig, type CniNetworkConfig, type CniConfigState } from './conf-dir.js';
