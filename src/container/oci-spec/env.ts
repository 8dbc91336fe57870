import { DEFAULT_PATH } from './defaults.js';

const keyOf = (entry: string): string => {
  const i = entry.indexOf('=');
  return i < 0 ? entry : entry.slice(0, i);
};

/**
 * The process environment, later layers replacing earlier ones by key while a
 * key keeps its first position: a default PATH, HOSTNAME (the pod's), the
 * image's Env, then the CRI envs. The image may thus override PATH and
 * HOSTNAME, and kubelet overrides everything (as with containerd).
 */
export function processEnv(
  hostname: string,
  imageEnv: readonly string[] | undefined,
  criEnvs: readonly { key: string; value: string }[],
): string[] {
  const env = new Map<string, string>();
  const put = (entry: string): void => {
    const key = keyOf(entry);
    if (key !== '') env.set(key, entry);
  };
  put(DEFAULT_PATH);
  put(`HOSTNAME=${hostname}`);
  for (const e of imageEnv ?? []) put(e);
  for (const { key, value } of criEnvs) put(`${key}=${value}`);
  return [...env.values()];
}
