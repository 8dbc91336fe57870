import type { CniNetworkConfig } from './conf-dir.js';
import type { CniRuntime } from './network.js';
import type { CniPodInfo } from './types.js';

/**
 * The pod's `lo` is brought up by the runtime itself rather than by the admin's
 * list (as containerd does): every pod needs it whatever network is configured,
 * and it must not depend on the conf dir being present or correct.
 */
export const LOOPBACK_NETWORK: CniNetworkConfig = Object.freeze({
  file: '<built-in>',
  name: 'cni-loopback',
  cniVersion: '1.0.0',
  plugins: [{ type: 'loopback' }],
  raw: { cniVersion: '1.0.0', name: 'cni-loopback', type: 'loopback' },
});

const onLo = (pod: CniPodInfo): CniPodInfo => ({ ...pod, ifName: 'lo' });

export async function setupLoopback(runtime: Pick<CniRuntime, 'runStateless'>, pod: CniPodInfo, signal?: AbortSignal): Promise<void> {
  await runtime.runStateless('ADD', LOOPBACK_NETWORK, onLo(pod), signal);
}

/** Safe with the netns already gone (the plugin then has nothing to do). */
export async function teardownLoopback(runtime: Pick<CniRuntime, 'runStateless'>, pod: CniPodInfo, signal?: AbortSignal): Promise<void> {
  await runtime.runStateless('DEL', LOOPBACK_NETWORK, onLo(pod), signal);
}
