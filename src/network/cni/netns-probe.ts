import { promises as fs } from 'node:fs';

import { errnoCode } from '../../errors.js';

// statfs(2) f_type of a namespace file (include/uapi/linux/magic.h).
const NSFS_MAGIC = 0x6e736673;

/**
 * The CNI_NETNS to hand a plugin on DEL.
 *
 * - The pin is a live network namespace: its path.
 * - The path is gone: still its path; plugins treat "does not exist" as
 *   nothing left inside and release the rest.
 * - The path exists but is no namespace (a pin file left unmounted, e.g. after a
 *   reboot: /run is on disk here): every plugin fails with "unknown FS magic",
 *   so DEL would fail forever. The spec lets the runtime omit CNI_NETNS on DEL, and
 *   plugins then clean up what lives outside the namespace (IPAM, iptables), so
 *   we pass an empty value.
 */
export async function netnsForDel(netnsPath: string): Promise<string> {
  if (netnsPath === '') return '';
  try {
    const st = await fs.statfs(netnsPath);
    return st.type === NSFS_MAGIC ? netnsPath : '';
  } catch (err) {
    return errnoCode(err) === 'ENOENT' ? netnsPath : '';
  }
}
