import type { RuntimeServiceHandlers } from '../generated/runtime/v1/RuntimeService.js';
import type { StatusResponse } from '../generated/runtime/v1/StatusResponse.js';
import type { Logger } from '../log.js';
import { CRI_API_VERSION, RUNTIME_NAME, RUNTIME_VERSION } from '../version.js';
import type { CriBackend } from './backend.js';
import { unary } from './instrument.js';

/** Version, Status, RuntimeConfig and UpdateRuntimeConfig. */
export function runtimeInfoHandlers(
  log: Logger,
  parts: CriBackend,
): Pick<RuntimeServiceHandlers, 'Version' | 'Status' | 'RuntimeConfig' | 'UpdateRuntimeConfig'> {
  return {
    Version: unary(log, 'Version', () => ({
      // The kubelet runtime API version field; containerd and CRI-O both answer 0.1.0.
      version: '0.1.0',
      runtimeName: RUNTIME_NAME,
      runtimeVersion: RUNTIME_VERSION,
      runtimeApiVersion: CRI_API_VERSION,
    })),

    Status: unary(log, 'Status', (req): StatusResponse => {
      const network = parts.cni.current();
      const response: StatusResponse = {
        status: {
          conditions: [
            { type: 'RuntimeReady', status: true, reason: '', message: '' },
            network.ready
              ? { type: 'NetworkReady', status: true, reason: '', message: '' }
              : {
                  type: 'NetworkReady',
                  status: false,
                  reason: 'NetworkPluginNotReady',
                  message: `Network plugin returns error: cni config uninitialized: ${network.reason}`,
                },
          ],
        },
        // The default handler is also listed under "" (how kubelet and critest look it up).
        // Each handler's features were probed at start-up (runtime/handler-features.ts).
        runtimeHandlers: parts.runtimes
          .filter((r) => r.available)
          .flatMap((r) =>
            (r.name === parts.config.defaultRuntime ? ['', r.name] : [r.name]).map((name) => ({
              name,
              features: {
                recursiveReadOnlyMounts: r.features?.recursiveReadOnlyMounts ?? false,
                userNamespaces: r.features?.userNamespaces ?? false,
              },
            })),
          ),
        features: { supplementalGroupsPolicy: true, userNamespacesHostNetwork: false },
      };
      if (req.verbose) {
        response.info = {
          config: JSON.stringify(parts.config),
          configSource: parts.configSource ?? '(embedded defaults)',
          runtimes: JSON.stringify(parts.runtimes),
          cniConfig: JSON.stringify(network.ready ? { file: network.network.file, name: network.network.name } : { error: network.reason }),
          podCidrs: JSON.stringify(parts.podCidrs.get()),
          streamServerUrl: parts.streaming.url,
        };
      }
      return response;
    }),

    RuntimeConfig: unary(log, 'RuntimeConfig', () => ({
      linux: { cgroupDriver: parts.config.cgroupDriver === 'systemd' ? 'SYSTEMD' : 'CGROUPFS' },
    })),

    UpdateRuntimeConfig: unary(log, 'UpdateRuntimeConfig', async (req) => {
      await parts.podCidrs.update(req.runtimeConfig?.networkConfig?.podCidr ?? '');
      return {};
    }),
  };
}
