import { alreadyExists, failedPrecondition, SkiffError } from '../../errors.js';
import type { Logger } from '../../log.js';
import { type CniCacheEntry, CniResultCache } from './cache.js';
import { addChain, assertSupportedVersion, type ChainContext, checkChain, delChain } from './chain.js';
import type { CniNetworkConfig } from './conf-dir.js';
import { DEFAULT_PLUGIN_TIMEOUT_MS } from './exec-plugin.js';
import { findPlugin } from './find-plugin.js';
import { PluginInvoker } from './invoke.js';
import { cniArgs, validateContainerId, validateIfName } from './plugin-env.js';
import { parseAddResult } from './result.js';
import { KeyedSerializer } from './sandbox-lock.js';
import { type CniAddResult, type CniCapabilities, type CniPodInfo, DEFAULT_IFNAME } from './types.js';
import { CHECK_AND_DEL_PREVRESULT_VERSION, versionAtLeast } from './version.js';

export interface CniRuntimeOptions {
  /** Plugin directories, searched in order (also passed to plugins as CNI_PATH). */
  binDirs: string[];
  /** One `<sandboxId>.json` per attached sandbox, e.g. <root>/cni-cache. */
  cacheDir: string;
  log: Logger;
  /** Limit for each single plugin execution; default 60 s. */
  pluginTimeoutMs?: number;
}

const sameNetwork = (a: CniNetworkConfig, b: CniNetworkConfig): boolean =>
  a.name === b.name && a.cniVersion === b.cniVersion && JSON.stringify(a.plugins) === JSON.stringify(b.plugins);

function validatePod(pod: CniPodInfo): void {
  validateContainerId(pod.sandboxId);
  validateIfName(pod.ifName ?? DEFAULT_IFNAME);
  cniArgs(pod); // refuses values that CNI_ARGS cannot carry, before anything runs
}

/**
 * Attaches pod sandboxes to a CNI network list and detaches them, per the CNI
 * spec (1.0.0; 0.3.x/0.4.0 lists too). One cache entry per sandbox records the
 * intent before ADD and the result after, so DEL always runs with what ADD used.
 * Operations on one sandbox are serialised; different sandboxes run in parallel.
 */
export class CniRuntime {
  readonly invoker: PluginInvoker;
  private readonly cache: CniResultCache;
  private readonly lock = new KeyedSerializer();
  private readonly log: Logger;

  constructor(opts: CniRuntimeOptions) {
    this.log = opts.log.child({ component: 'cni' });
    this.invoker = new PluginInvoker(opts.binDirs, this.log, opts.pluginTimeoutMs ?? DEFAULT_PLUGIN_TIMEOUT_MS);
    this.cache = new CniResultCache(opts.cacheDir);
  }

  async add(network: CniNetworkConfig, pod: CniPodInfo, caps: CniCapabilities = {}, signal?: AbortSignal): Promise<CniAddResult> {
    validatePod(pod);
    assertSupportedVersion(network);
    return this.lock.run(
      pod.sandboxId,
      async () => {
        // Every plugin must exist before anything is changed: a missing one is a
        // config error with nothing to undo.
        for (const p of network.plugins) await findPlugin(String(p['type']), this.invoker.binDirs);

        const existing = await this.cache.read(pod.sandboxId);
        if (existing?.result) {
          throw alreadyExists(`sandbox ${pod.sandboxId} is already attached to CNI network ${existing.network.name}; DEL it first`);
        }
        if (existing) {
          // An ADD that crashed or failed to roll back left its intent: undo it first,
          // or plugins would hold two sets of resources for one sandbox.
          this.log.info(
            { sandboxId: pod.sandboxId, network: existing.network.name },
            'finishing an interrupted CNI ADD with DEL before retrying',
          );
          await this.delEntry(existing.network, existing.pod, existing.capabilities, undefined, signal);
          await this.cache.remove(pod.sandboxId);
        }

        const base = { network, pod: { ...pod }, capabilities: caps };
        await this.cache.write({ ...base, result: null }); // intent before action
        const ctx = this.context(network, pod, caps);
        const outcome = await addChain(ctx, signal);
        if (!outcome.ok) {
          if (outcome.rolledBack)
            await this.cache.remove(pod.sandboxId).catch((err) => this.log.warn({ err }, 'cannot remove CNI cache entry'));
          throw outcome.error;
        }
        try {
          await this.cache.write({ ...base, result: outcome.result });
        } catch (err) {
          // Unrecorded attachments would leak: undo (the intent entry stays if that fails too).
          await delChain(ctx, outcome.result)
            .then(
              () => this.cache.remove(pod.sandboxId),
              (delErr) => this.log.error({ err: delErr }, 'CNI DEL after a failed cache write failed'),
            )
            .catch(() => {});
          throw new SkiffError('Internal', `cannot record the CNI result of sandbox ${pod.sandboxId}: ${(err as Error).message}`, {
            cause: err,
          });
        }
        const last = network.plugins[network.plugins.length - 1]!;
        return parseAddResult(String(last['type']), outcome.result);
      },
      signal,
    );
  }

  /**
   * Detaches the sandbox. Uses the cached ADD (config, pod info, capabilities,
   * result) when there is one, else `network`; with neither there is nothing to do.
   * If DEL with the cached config fails and `network` is an edited config of the
   * same network, `network` is tried too.
   * Idempotent, fine after a failed ADD or with the netns already gone.
   */
  async del(network: CniNetworkConfig | undefined, pod: CniPodInfo, signal?: AbortSignal): Promise<void> {
    validateContainerId(pod.sandboxId);
    return this.lock.run(
      pod.sandboxId,
      async () => {
        let entry: CniCacheEntry | undefined;
        try {
          entry = await this.cache.read(pod.sandboxId);
        } catch (err) {
          this.log.warn({ err, sandboxId: pod.sandboxId }, 'unreadable CNI cache entry; DEL uses the current network config');
        }
        const net = entry?.network ?? network;
        if (!net) {
          this.log.debug({ sandboxId: pod.sandboxId }, 'no cached CNI ADD and no network given: nothing to delete');
          await this.cache.remove(pod.sandboxId);
          return;
        }
        // The spec wants DEL to get the same parameters as ADD: the cached pod info wins.
        const delPod = entry?.pod ?? pod;
        const caps = entry?.capabilities ?? {};
        const prev = entry?.result ?? undefined;
        try {
          await this.delEntry(net, delPod, caps, prev, signal);
        } catch (err) {
          // A config whose DEL can never succeed (e.g. an unparsable IPAM subnet: the
          // plugin fails DEL just as it failed ADD) would pin the sandbox forever. When
          // the caller holds an edited config of the same network, it gets a try:
          // fixing the conf dir is then the way out. Only the same name: resources
          // (IPAM dir, iptables chains) are keyed by it, so nothing of the cached
          // attachment is left behind when the cache entry goes.
          const edited =
            entry && network && network.name === entry.network.name && !sameNetwork(network, entry.network) ? network : undefined;
          if (!edited || (err instanceof SkiffError && err.kind === 'Cancelled')) throw err;
          this.log.warn(
            { err, sandboxId: pod.sandboxId, network: edited.name },
            'CNI DEL with the cached config failed; retrying with the current config',
          );
          await this.delEntry(edited, delPod, caps, prev, signal);
        }
        await this.cache.remove(pod.sandboxId);
      },
      signal,
    );
  }

  async check(network: CniNetworkConfig, pod: CniPodInfo, signal?: AbortSignal): Promise<void> {
    validatePod(pod);
    assertSupportedVersion(network);
    if (!versionAtLeast(network.cniVersion, CHECK_AND_DEL_PREVRESULT_VERSION)) {
      throw failedPrecondition(
        `CNI network ${network.name} uses spec ${network.cniVersion}, which has no CHECK (needs ${CHECK_AND_DEL_PREVRESULT_VERSION})`,
      );
    }
    return this.lock.run(
      pod.sandboxId,
      async () => {
        const entry = await this.cache.read(pod.sandboxId);
        if (!entry?.result) throw failedPrecondition(`sandbox ${pod.sandboxId} has no completed CNI ADD to check`);
        if (entry.network.name !== network.name) {
          throw failedPrecondition(`sandbox ${pod.sandboxId} is attached to CNI network ${entry.network.name}, not ${network.name}`);
        }
        if (network.raw['disableCheck'] === true) return; // the list opts out (spec)
        await checkChain(this.context(network, pod, entry.capabilities), entry.result, signal);
      },
      signal,
    );
  }

  version(pluginType: string, signal?: AbortSignal): Promise<{ cniVersion: string; supportedVersions: string[] }> {
    return this.invoker.version(pluginType, signal);
  }

  /** The completed ADD result of a sandbox, undefined while none is recorded. */
  async cachedResult(sandboxId: string): Promise<CniAddResult | undefined> {
    const entry = await this.cache.read(sandboxId);
    if (!entry?.result) return undefined;
    const last = entry.network.plugins[entry.network.plugins.length - 1];
    return parseAddResult(typeof last?.['type'] === 'string' ? last['type'] : 'unknown', entry.result);
  }

  /** Sandboxes with a cache entry (complete or interrupted), for start-up reconciliation. */
  cachedSandboxes(): Promise<string[]> {
    return this.cache.list();
  }

  /**
   * ADD or DEL for a network that keeps no state worth caching (loopback):
   * serialised with the sandbox's other CNI work, but no cache entry.
   */
  async runStateless(
    command: 'ADD' | 'DEL',
    network: CniNetworkConfig,
    pod: CniPodInfo,
    signal?: AbortSignal,
  ): Promise<CniAddResult | undefined> {
    validatePod(pod);
    assertSupportedVersion(network);
    return this.lock.run(
      pod.sandboxId,
      async () => {
        const ctx = this.context(network, pod, {});
        if (command === 'DEL') {
          await delChain(ctx, undefined, signal);
          return undefined;
        }
        const outcome = await addChain(ctx, signal);
        if (!outcome.ok) throw outcome.error;
        const last = network.plugins[network.plugins.length - 1]!;
        return parseAddResult(String(last['type']), outcome.result);
      },
      signal,
    );
  }

  private delEntry(
    network: CniNetworkConfig,
    pod: CniPodInfo,
    caps: CniCapabilities,
    result: Record<string, unknown> | undefined,
    signal?: AbortSignal,
  ): Promise<void> {
    assertSupportedVersion(network);
    return delChain(this.context(network, pod, caps), result, signal);
  }

  private context(network: CniNetworkConfig, pod: CniPodInfo, caps: CniCapabilities): ChainContext {
    return { invoker: this.invoker, log: this.log.child({ sandboxId: pod.sandboxId }), network, pod, caps };
  }
}
