// The status the Kubernetes remotecommand protocols (v4 and later) send on
// the error stream when a session ends: Success, or Failure with the exit code
// as a NonZeroExitCode cause, which clients turn into the exit code.

export const nonZeroExitMessage = (code: number): string => `command terminated with non-zero exit code: exit status ${code}`;

/** An exec's exit code, or undefined for an attach that ended: Success. */
export function exitStatus(exitCode: number | undefined): Record<string, unknown> {
  if (!exitCode) return { metadata: {}, status: 'Success' };
  return {
    metadata: {},
    status: 'Failure',
    message: nonZeroExitMessage(exitCode),
    reason: 'NonZeroExitCode',
    details: { causes: [{ reason: 'ExitCode', message: String(exitCode) }] },
  };
}

export function errorStatus(message: string): Record<string, unknown> {
  return { metadata: {}, status: 'Failure', message, reason: 'InternalError' };
}

/** Exec/attach subprotocols, preferred first. */
export const EXEC_PROTOCOLS = [
  'v5.channel.k8s.io',
  'v4.channel.k8s.io',
  'v3.channel.k8s.io',
  'v2.channel.k8s.io',
  'channel.k8s.io',
] as const;

/** v4 and later carry a JSON status on the error stream; older ones plain text, nothing on success. */
export const statusIsJson = (protocol: string): boolean => protocol === 'v4.channel.k8s.io' || protocol === 'v5.channel.k8s.io';
