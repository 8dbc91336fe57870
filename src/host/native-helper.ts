import { accessSync, constants } from 'node:fs';
import path from 'node:path';

import { REPO_ROOT } from '../version.js';

/**
 * A helper built from native/ by hack/build-native.sh: `$envVar` when set,
 * else dist/native/<name>. Undefined when it is not there or not executable
 * (no C compiler at build time): callers refuse what needs it.
 */
export function nativeHelper(name: string, envVar: string): string | undefined {
  const p = process.env[envVar] || path.join(REPO_ROOT, 'dist', 'native', name);
  try {
    accessSync(p, constants.X_OK);
    return p;
  } catch {
    return undefined;
  }
}
