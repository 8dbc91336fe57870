import net from 'node:net';
import path from 'node:path';

import { invalidArgument } from '../errors.js';
import { readJsonIfExists, writeJsonAtomic } from '../store/atomic-file.js';

/** Validates one CIDR such as 10.88.0.0/16 or fd00::/64. */
export function isCidr(text: string): boolean {
  const slash = text.indexOf('/');
  if (slash < 0) return false;
  const addr = text.slice(0, slash);
  const bits = text.slice(slash + 1);
  const family = net.isIP(addr);
  if (family === 0 || !/^\d{1,3}$/.test(bits)) return false;
  return Number(bits) <= (family === 4 ? 32 : 128);
}

/**
 * The node's pod CIDR(s) as kubelet last sent them in UpdateRuntimeConfig,
 * persisted so a restarted daemon still knows them (CNI uses them later).
 */
export class PodCidrStore {
  private cidrs: string[] = [];
  private readonly file: string;

  constructor(rootDir: string) {
    this.file = path.join(rootDir, 'network', 'pod-cidr.json');
  }

  async load(): Promise<void> {
    const saved = await readJsonIfExists<{ cidrs?: unknown }>(this.file);
    if (saved && Array.isArray(saved.cidrs)) this.cidrs = saved.cidrs.filter((c): c is string => typeof c === 'string');
  }

  get(): readonly string[] {
    return this.cidrs;
  }

  /** Accepts kubelet's comma-separated form ("10.1.0.0/24,fd00::/64"); empty means unchanged. */
  async update(podCidr: string): Promise<void> {
    const trimmed = podCidr.trim();
    if (trimmed === '') return;
    const list = trimmed.split(',').map((c) => c.trim());
    const bad = list.find((c) => !isCidr(c));
    if (bad !== undefined) throw invalidArgument(`pod_cidr: "${bad}" is not a valid CIDR`);
    if (list.join(',') === this.cidrs.join(',')) return;
    await writeJsonAtomic(this.file, { cidrs: list });
    this.cidrs = list;
  }
}
