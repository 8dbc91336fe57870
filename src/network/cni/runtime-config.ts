import type { CniCapabilities } from './types.js';

/** Capability names as CONVENTIONS.md spells them; the same keys as CniCapabilities. */
const CAPABILITY_KEYS = ['portMappings', 'dns', 'bandwidth'] as const;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/**
 * The runtimeConfig a plugin gets: only the capabilities it declares with
 * `"capabilities": {"<name>": true}` and the runtime actually has a value for.
 * Undefined when nothing applies, so the key is left out altogether.
 */
export function runtimeConfigFor(plugin: Record<string, unknown>, caps: CniCapabilities): Record<string, unknown> | undefined {
  const declared = isObject(plugin['capabilities']) ? plugin['capabilities'] : {};
  const out: Record<string, unknown> = {};
  for (const key of CAPABILITY_KEYS) {
    if (declared[key] === true && caps[key] !== undefined) out[key] = caps[key];
  }
  return Object.keys(out).length > 0 ? out : undefined;
}

export interface PluginConfigInput {
  /** The plugin entry from the list, as the administrator wrote it. */
  plugin: Record<string, unknown>;
  /** The list's name and cniVersion, which override the entry's (spec: one version per chain). */
  networkName: string;
  cniVersion: string;
  caps: CniCapabilities;
  prevResult?: Record<string, unknown> | undefined;
}

/**
 * Derives the execution configuration sent on a plugin's stdin (spec 1.0
 * "Deriving execution configuration"): list name and version injected,
 * `capabilities` removed, `runtimeConfig` filled, `prevResult` attached.
 */
export function buildPluginConfig(input: PluginConfigInput): Record<string, unknown> {
  const conf: Record<string, unknown> = { ...input.plugin, name: input.networkName, cniVersion: input.cniVersion };
  delete conf['capabilities'];
  delete conf['prevResult'];
  const rc = runtimeConfigFor(input.plugin, input.caps);
  // A runtimeConfig written statically in the file is kept; capability values win over it.
  const staticRc = isObject(input.plugin['runtimeConfig']) ? input.plugin['runtimeConfig'] : undefined;
  if (rc || staticRc) conf['runtimeConfig'] = { ...(staticRc ?? {}), ...(rc ?? {}) };
  else delete conf['runtimeConfig'];
  if (input.prevResult) conf['prevResult'] = input.prevResult;
  return conf;
}
