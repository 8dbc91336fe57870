import { readFile } from 'node:fs/promises';

import { errnoCode } from '../errors.js';

/**
 * Reads a pid file written by runc or conmon: a decimal pid, possibly without
 * a newline. Undefined when the file is missing or not (yet) a positive number,
 * since writers may be caught between create and write.
 */
export async function readPidFile(file: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return undefined;
    throw err;
  }
  const trimmed = text.trim();
  if (!/^\d+$/.test(trimmed)) return undefined;
  const pid = Number(trimmed);
  return pid > 0 ? pid : undefined;
}
