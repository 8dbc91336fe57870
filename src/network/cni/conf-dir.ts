import { type FSWatcher, promises as fs, watch } from 'node:fs';
import path from 'node:path';

import { errnoCode } from '../../errors.js';

export interface CniNetworkConfig {
  /** The file the network came from. */
  file: string;
  name: string;
  cniVersion: string;
  /** Plugin configurations in chain order (a .conf file is a chain of one). */
  plugins: Record<string, unknown>[];
  /** The raw list as parsed, for prevResult chaining later. */
  raw: Record<string, unknown>;
}

export type CniConfigState = { ready: true; network: CniNetworkConfig } | { ready: false; reason: string };

const EXTENSIONS = new Set(['.conf', '.conflist', '.json']);

/** Parses one CNI config file (single plugin or list); throws with the problem. */
export function parseCniConfig(file: string, text: string): CniNetworkConfig {
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch (err) {
    throw new Error(`${file}: invalid JSON: ${(err as Error).message}`, { cause: err });
  }
  if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) throw new Error(`${file}: not a JSON object`);
  const obj = raw as Record<string, unknown>;
  const name = obj['name'];
  if (typeof name !== 'string' || name === '') throw new Error(`${file}: missing "name"`);
  const cniVersion = typeof obj['cniVersion'] === 'string' ? obj['cniVersion'] : '0.4.0';
  let plugins: Record<string, unknown>[];
  if (Array.isArray(obj['plugins'])) {
    plugins = obj['plugins'] as Record<string, unknown>[];
    if (plugins.length === 0) throw new Error(`${file}: "plugins" is empty`);
  } else if (path.extname(file) === '.conflist') {
    throw new Error(`${file}: a .conflist needs a "plugins" array`);
  } else {
    plugins = [obj];
  }
  for (const [i, p] of plugins.entries()) {
    if (typeof p !== 'object' || p === null || typeof p['type'] !== 'string') throw new Error(`${file}: plugin ${i} has no "type"`);
  }
  return { file, name, cniVersion, plugins, raw: obj };
}

/** Reads the conf dir and returns the lexically first valid network. */
export async function loadCniConfigDir(dir: string): Promise<CniConfigState> {
  let names: string[];
  try {
    names = (await fs.readdir(dir)).filter((n) => EXTENSIONS.has(path.extname(n))).sort();
  } catch (err) {
    if (errnoCode(err) === 'ENOENT') return { ready: false, reason: `no network config found in ${dir} (directory does not exist)` };
    return { ready: false, reason: `cannot read ${dir}: ${(err as Error).message}` };
  }
  const problems: string[] = [];
  for (const name of names) {
    const file = path.join(dir, name);
    try {
      return { ready: true, network: parseCniConfig(file, await fs.readFile(file, 'utf8')) };
    } catch (err) {
      problems.push((err as Error).message);
    }
  }
  return {
    ready: false,
    reason: problems.length ? `no valid network config in ${dir}: ${problems.join('; ')}` : `no network config found in ${dir}`,
  };
}

/**
 * Keeps the current CNI network in memory so Status never touches disk: reloads
 * on directory changes, and re-checks slowly while the directory is missing.
 */
export class CniConfigWatcher {
  private state: CniConfigState = { ready: false, reason: 'not loaded yet' };
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private reloading: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly dir: string,
    private readonly onChange: (state: CniConfigState) => void = () => {},
    private readonly recheckMs = 2000,
  ) {}

  current(): CniConfigState {
    return this.state;
  }

  async start(): Promise<void> {
    await this.reload();
    // A slow re-check covers a directory created later and editors that replace it.
    this.timer = setInterval(() => void this.reload(), this.recheckMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.watcher?.close();
    this.watcher = undefined;
  }

  /** Reloads now; concurrent calls coalesce into one more pass. */
  reload(): Promise<void> {
    if (this.reloading) {
      this.again = true;
      return this.reloading;
    }
    this.reloading = (async () => {
      do {
        this.again = false;
        const next = await loadCniConfigDir(this.dir);
        const changed = JSON.stringify(next) !== JSON.stringify(this.state);
        this.state = next;
        this.ensureWatch();
        if (changed) this.onChange(next);
      } while (this.again);
    })().finally(() => {
      this.reloading = undefined;
    });
    return this.reloading;
  }

  private ensureWatch(): void {
    if (this.watcher) return;
    try {
      this.watcher = watch(this.dir, { persistent: false }, () => void this.reload());
      this.watcher.on('error', () => {
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch {
      this.watcher = undefined; // directory missing: the timer retries
    }
  }
}
