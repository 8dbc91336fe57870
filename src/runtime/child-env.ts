// The environment handed to runc and conmon. Deliberately minimal: the
// daemon's own variables (NODE_OPTIONS, proxies, credentials…) have no business
// in a container runtime's process table, and conmon passes its environment on to runc.

const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

export function runtimeChildEnv(extra: Record<string, string> = {}): Record<string, string> {
  return { PATH: process.env['PATH'] || DEFAULT_PATH, ...extra };
}
