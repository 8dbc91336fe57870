import { failedPrecondition, SkiffError } from '../../errors.js';
import type { Logger } from '../../log.js';
import type { CniNetworkConfig } from './conf-dir.js';
import type { PluginInvoker } from './invoke.js';
import { netnsForDel } from './netns-probe.js';
import { CNI_ERROR_CODES, CniPluginError } from './plugin-error.js';
import { parseAddResult } from './result.js';
import type { CniCapabilities, CniPodInfo } from './types.js';
import { CHECK_AND_DEL_PREVRESULT_VERSION, MIN_CNI_VERSION, versionAtLeast } from './version.js';

export interface ChainContext {
  invoker: PluginInvoker;
  log: Logger;
  network: CniNetworkConfig;
  pod: CniPodInfo;
  caps: CniCapabilities;
}

const pluginType = (p: Record<string, unknown>): string => String(p['type']);

/** Spec 0.1/0.2 networks have no chaining result format: refuse them up front. */
export function assertSupportedVersion(network: CniNetworkConfig): void {
  if (!versionAtLeast(network.cniVersion, MIN_CNI_VERSION)) {
    throw failedPrecondition(`CNI network ${network.name} uses spec ${network.cniVersion}; Skiff supports ${MIN_CNI_VERSION} and newer`);
  }
}

export type AddOutcome = { ok: true; result: Record<string, unknown> } | { ok: false; error: unknown; rolledBack: boolean };

/**
 * ADD through the chain in order, each plugin getting the previous one's result
 * as prevResult (passed as printed: plugins of one list share the list's
 * cniVersion, so no conversion is needed). On failure the whole chain is DELeted
 * in reverse, best-effort and without the caller's signal: a cancelled ADD must
 * still give back what it took.
 */
export async function addChain(ctx: ChainContext, signal?: AbortSignal): Promise<AddOutcome> {
  let prev: Record<string, unknown> | undefined;
  try {
    for (const plugin of ctx.network.plugins) {
      const type = pluginType(plugin);
      const out = await ctx.invoker.call({
        command: 'ADD',
        plugin,
        networkName: ctx.network.name,
        cniVersion: ctx.network.cniVersion,
        pod: ctx.pod,
        caps: ctx.caps,
        prevResult: prev,
        signal,
      });
      if (!out) throw new CniPluginError(type, CNI_ERROR_CODES.internal, 'ADD succeeded but printed no result');
      parseAddResult(type, out); // validate early: the next plugin and the cache both rely on it
      prev = out;
    }
    if (!prev) throw new SkiffError('Internal', `CNI network ${ctx.network.name} has no plugins`);
    return { ok: true, result: prev };
  } catch (error) {
    ctx.log.warn({ err: error, network: ctx.network.name }, 'CNI ADD failed; deleting the chain');
    let rolledBack = true;
    try {
      await delChain(ctx, prev);
    } catch (delErr) {
      rolledBack = false;
      ctx.log.error({ err: delErr, network: ctx.network.name }, 'CNI DEL after a failed ADD failed; the cached intent keeps it retryable');
    }
    return { ok: false, error, rolledBack };
  }
}

/**
 * DEL through the chain in reverse. Every plugin is tried even when one fails
 * (each holds its own resources); the failures are thrown together at the end.
 * prevResult is the last ADD result when known and the spec version has it (0.4.0+).
 */
export async function delChain(ctx: ChainContext, prevResult: Record<string, unknown> | undefined, signal?: AbortSignal): Promise<void> {
  const netns = await netnsForDel(ctx.pod.netnsPath);
  if (netns !== ctx.pod.netnsPath)
    ctx.log.info({ netns: ctx.pod.netnsPath }, 'netns path is not a network namespace; DEL runs without CNI_NETNS');
  const withPrev = versionAtLeast(ctx.network.cniVersion, CHECK_AND_DEL_PREVRESULT_VERSION) ? prevResult : undefined;
  const errors: unknown[] = [];
  for (const plugin of [...ctx.network.plugins].reverse()) {
    try {
      await ctx.invoker.call({
        command: 'DEL',
        plugin,
        networkName: ctx.network.name,
        cniVersion: ctx.network.cniVersion,
        pod: ctx.pod,
        caps: ctx.caps,
        prevResult: withPrev,
        netns,
        signal,
      });
    } catch (err) {
      // A cancelled DEL stops here: the remaining plugins would be killed the same way.
      if (err instanceof SkiffError && err.kind === 'Cancelled') throw err;
      errors.push(err);
    }
  }
  if (errors.length === 1) throw errors[0];
  if (errors.length > 1) {
    const msg = errors.map((e) => (e instanceof Error ? e.message : String(e))).join('; ');
    throw new SkiffError('Internal', `CNI DEL of network ${ctx.network.name} failed in ${errors.length} plugins: ${msg}`, {
      cause: errors,
    });
  }
}

/** CHECK in chain order against the cached ADD result; the first failure stops it. */
export async function checkChain(ctx: ChainContext, prevResult: Record<string, unknown>, signal?: AbortSignal): Promise<void> {
  for (const plugin of ctx.network.plugins) {
    await ctx.invoker.call({
      command: 'CHECK',
      plugin,
      networkName: ctx.network.name,
      cniVersion: ctx.network.cniVersion,
      pod: ctx.pod,
      caps: ctx.caps,
      prevResult,
      signal,
    });
  }
}
