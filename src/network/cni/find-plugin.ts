import { constants as fsc, promises as fs } from 'node:fs';
import path from 'node:path';

import { invalidArgument, SkiffError } from '../../errors.js';

/**
 * Finds the executable for a plugin `type`, trying binDirs in order.
 * `type` comes from a config file, so it must be a bare file name: a path
 * would let a config run any program on the host.
 */
export async function findPlugin(type: string, binDirs: string[]): Promise<string> {
  if (type === '' || type === '.' || type === '..' || type.includes('/') || type.includes('\0')) {
    throw invalidArgument(`invalid CNI plugin type ${JSON.stringify(type)}`);
  }
  for (const dir of binDirs) {
    const file = path.join(dir, type);
    try {
      const st = await fs.stat(file);
      if (!st.isFile()) continue;
      await fs.access(file, fsc.X_OK);
      return file;
    } catch {
      // absent or not executable here: try the next directory
    }
  }
  throw new SkiffError(
    'FailedPrecondition',
    `CNI plugin "${type}" not found in ${binDirs.length ? binDirs.join(', ') : '(no plugin directories configured)'}`,
  );
}
