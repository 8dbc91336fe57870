// What the streaming server runs against: exec and attach on the container
// service, port-forward dials into the pod's network namespace.
import type { ContainerService } from '../container/container-service.js';
import { failedPrecondition } from '../errors.js';
import { dialPort } from '../network/port-dialer.js';
import type { SandboxService } from '../sandbox/sandbox-service.js';
import type { StreamBackend } from '../streaming/stream-server.js';

export function streamBackend(containers: ContainerService, sandboxes: SandboxService): StreamBackend {
  return {
    openExec: (req) => (sinks, size) =>
      containers.openExec(req.containerId, { cmd: req.cmd, tty: req.tty, stdin: req.stdin, ...(size ? { size } : {}) }, sinks),
    openAttach: (req) => (sinks, size) => containers.openAttach(req.containerId, { stdin: req.stdin, ...(size ? { size } : {}) }, sinks),
    portDialer: (podId) => {
      const pod = sandboxes.resolve(podId);
      if (pod.status.state !== 'ready') throw failedPrecondition(`pod sandbox ${pod.id} is not ready`);
      // No pinned namespace: the pod is on the host's network.
      const netns = pod.pins.net;
      return (port, onData) => dialPort(netns, port, onData);
    },
  };
}
