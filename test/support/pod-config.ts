// A CRI PodSandboxConfig (as the gRPC client sends it) with a fresh, unique name per call.
let seq = 0;

export function podConfig(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  seq++;
  return {
    metadata: { name: `pod${seq}`, uid: `uid-${process.pid}-${seq}`, namespace: 'test', attempt: 0 },
    hostname: `host${seq}`,
    labels: { app: 'test', seq: String(seq) },
    annotations: { note: 'hello' },
    linux: { securityContext: { namespaceOptions: { network: 'POD', pid: 'CONTAINER', ipc: 'POD' } } },
    ...overrides,
  };
}
