import { accessSync, constants, existsSync, statSync } from 'node:fs';

import type { HandlerFeatures } from '../runtime/handler-features.js';
import { ConfigError } from './load.js';
import type { SkiffConfig } from './schema.js';

export interface RuntimeAvailability {
  name: string;
  path: string;
  available: boolean;
  /** Why the handler is unusable, when it is. */
  problem?: string;
  /** What it can apply, probed once the daemon starts (available handlers only). */
  features?: HandlerFeatures;
}

function executableProblem(file: string): string | undefined {
  try {
    if (!statSync(file).isFile()) return `${file} is not a regular file`;
    accessSync(file, constants.X_OK);
    return undefined;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    return code === 'ENOENT' ? `${file} does not exist` : `${file} is not executable (${code ?? 'error'})`;
  }
}

/**
 * Start-up checks of the host against the configuration: binaries present,
 * cgroup driver usable. Throws ConfigError for anything that makes the daemon
 * unusable; optional runtimes come back marked unavailable instead.
 */
export function checkHost(config: SkiffConfig, file: string): RuntimeAvailability[] {
  const conmonProblem = executableProblem(config.conmonPath);
  if (conmonProblem) throw new ConfigError(file, 'conmon_path', conmonProblem);
  if (config.cgroupDriver === 'systemd' && !existsSync('/run/systemd/system')) {
    throw new ConfigError(file, 'cgroup_driver', 'systemd is not running on this host; use "cgroupfs"');
  }
  return Object.entries(config.runtimes).map(([name, handler]) => {
    const problem = executableProblem(handler.path);
    if (problem && (!handler.optional || name === config.defaultRuntime)) {
      throw new ConfigError(file, `runtimes.${name}.path`, problem);
    }
    return problem ? { name, path: handler.path, available: false, problem } : { name, path: handler.path, available: true };
  });
}
