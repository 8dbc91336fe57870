import { invalidArgument } from '../errors.js';

/**
 * The cgroupfs path for kubelet's cgroup parent. With the cgroupfs driver a
 * systemd slice name ("kubepods-besteffort-pod1.slice") is expanded the way
 * systemd nests slices: /kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod1.slice.
 */
export function cgroupfsParent(parent: string, fallback = '/skiff'): string {
  if (parent === '') return fallback;
  if (parent.endsWith('.slice') && !parent.includes('/')) {
    const name = parent.slice(0, -'.slice'.length);
    if (name === '' || name.startsWith('-') || name.endsWith('-') || name.includes('--'))
      throw invalidArgument(`cgroup_parent "${parent}" is not a valid slice name`);
    const parts = name.split('-');
    const dirs = parts.map((_, i) => `${parts.slice(0, i + 1).join('-')}.slice`);
    return '/' + dirs.join('/');
  }
  if (!parent.startsWith('/')) throw invalidArgument(`cgroup_parent "${parent}" must be an absolute cgroupfs path or a systemd slice`);
  if (parent.split('/').includes('..')) throw invalidArgument(`cgroup_parent "${parent}" must not contain ".."`);
  return parent.replace(/\/+$/, '') || '/';
}
