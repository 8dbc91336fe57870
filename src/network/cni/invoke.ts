import { SkiffError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { DEFAULT_PLUGIN_TIMEOUT_MS, execPlugin } from './exec-plugin.js';
import { findPlugin } from './find-plugin.js';
import { pluginEnv } from './plugin-env.js';
import { buildPluginConfig } from './runtime-config.js';
import type { CniCapabilities, CniCommand, CniPodInfo } from './types.js';
import { RUNTIME_CNI_VERSION } from './version.js';

export interface PluginCall {
  command: Exclude<CniCommand, 'VERSION'>;
  /** The plugin entry from the list. */
  plugin: Record<string, unknown>;
  networkName: string;
  cniVersion: string;
  pod: CniPodInfo;
  caps: CniCapabilities;
  prevResult?: Record<string, unknown> | undefined;
  /** Overrides pod.netnsPath for CNI_NETNS (DEL may blank it). */
  netns?: string | undefined;
  signal?: AbortSignal | undefined;
}

/** Finds, configures and runs single plugins; knows nothing of chains or caches. */
export class PluginInvoker {
  constructor(
    readonly binDirs: string[],
    private readonly log: Logger,
    readonly timeoutMs = DEFAULT_PLUGIN_TIMEOUT_MS,
  ) {}

  async call(c: PluginCall): Promise<Record<string, unknown> | undefined> {
    const type = String(c.plugin['type']);
    const file = await findPlugin(type, this.binDirs);
    const stdin = buildPluginConfig({
      plugin: c.plugin,
      networkName: c.networkName,
      cniVersion: c.cniVersion,
      caps: c.caps,
      prevResult: c.prevResult,
    });
    const env = pluginEnv(c.command, this.binDirs, c.pod, c.netns);
    const started = performance.now();
    const log = this.log.child({ plugin: type, command: c.command, network: c.networkName, sandboxId: c.pod.sandboxId });
    try {
      const out = await execPlugin({ plugin: type, file, command: c.command, env, stdin, timeoutMs: this.timeoutMs, signal: c.signal });
      log.debug({ ms: Math.round(performance.now() - started), ...(out.stderr ? { stderr: out.stderr } : {}) }, 'CNI plugin done');
      return out.result;
    } catch (err) {
      log.debug({ ms: Math.round(performance.now() - started), err }, 'CNI plugin failed');
      throw err;
    }
  }

  /** VERSION: which spec versions the plugin speaks. Needs no container. */
  async version(type: string, signal?: AbortSignal): Promise<{ cniVersion: string; supportedVersions: string[] }> {
    const file = await findPlugin(type, this.binDirs);
    const out = await execPlugin({
      plugin: type,
      file,
      command: 'VERSION',
      env: pluginEnv('VERSION', this.binDirs),
      stdin: { cniVersion: RUNTIME_CNI_VERSION },
      timeoutMs: this.timeoutMs,
      signal,
    });
    const r = out.result;
    if (!r || typeof r['cniVersion'] !== 'string') throw new SkiffError('Internal', `CNI plugin ${type} VERSION printed no cniVersion`);
    // Spec 0.1.0 plugins answer without a list; they support only their own version.
    const list = Array.isArray(r['supportedVersions'])
      ? r['supportedVersions'].filter((v): v is string => typeof v === 'string')
      : [r['cniVersion']];
    return { cniVersion: r['cniVersion'], supportedVersions: list };
  }
}
