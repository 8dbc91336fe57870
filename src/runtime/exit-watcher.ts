// Watches conmon's exit directory. conmon writes <dir>/<container id> holding
// the decimal exit code (no newline) the moment the container exits; it writes
// through glib's g_file_set_contents, i.e. a temp file `<id>.XXXXXX` renamed
// into place, so a complete file appears atomically and temp names are skipped.
// fs.watch alone can miss events (overflow, watcher errors), hence a scan at
// start and a slow safety rescan.
import { EventEmitter } from 'node:events';
import { type FSWatcher, watch } from 'node:fs';
import { access, mkdir, readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';

import { errnoCode } from '../errors.js';
import type { Logger } from '../log.js';

/** glib's temp-file suffix: six random characters. */
const TEMP_NAME = /\.[A-Za-z0-9]{6}$/;

export interface ExitWatcherOptions {
  /** Safety rescan period (default 5 s). */
  rescanMs?: number;
  log?: Logger;
}

export interface ExitWatcherEvents {
  exit: [id: string, code: number, at: Date];
}

/**
 * Emits ('exit', id, code, at) once per exit file; `at` is the file's mtime,
 * which is when conmon saw the exit, even if the daemon was down at the time.
 * An id whose file disappears (the container was removed) may fire again later.
 */
export class ExitWatcher extends EventEmitter<ExitWatcherEvents> {
  private readonly seen = new Set<string>();
  private readonly pending = new Set<string>();
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private scanning: Promise<void> | undefined;
  private stopped = false;
  private readonly rescanMs: number;
  private readonly log: Logger | undefined;

  constructor(
    readonly dir: string,
    opts: ExitWatcherOptions = {},
  ) {
    super();
    this.rescanMs = opts.rescanMs ?? 5000;
    this.log = opts.log;
  }

  /** Creates the directory if needed, starts watching, and reports exits already on disk. */
  async start(): Promise<void> {
    await mkdir(this.dir, { recursive: true });
    this.stopped = false;
    this.openWatcher();
    await this.scan();
    this.timer = setInterval(() => {
      if (!this.watcher) this.openWatcher(); // it failed earlier: try again
      void this.scan();
    }, this.rescanMs);
    this.timer.unref(); // never the reason the daemon stays up
  }

  stop(): void {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    this.watcher?.close();
    this.watcher = undefined;
  }

  /** Forgets an id, so that a new exit file under the same name is reported again. */
  forget(id: string): void {
    this.seen.delete(id);
  }

  /** Reads the whole directory; resolves once every file found has been looked at. */
  scan(): Promise<void> {
    // One scan at a time; a request during a scan waits for it and starts another.
    const next = (this.scanning ?? Promise.resolve()).then(() => this.scanOnce());
    this.scanning = next.catch(() => undefined);
    return next;
  }

  private async scanOnce(): Promise<void> {
    if (this.stopped) return;
    let names: string[];
    try {
      names = await readdir(this.dir);
    } catch (err) {
      this.log?.warn({ err, dir: this.dir }, 'exit dir scan failed');
      return;
    }
    const present = new Set(names);
    // The listing may predate a file reported by the watcher meanwhile: forget an id
    // only once its file is confirmed gone.
    const missing = [...this.seen].filter((id) => !present.has(id));
    await Promise.all([
      ...missing.map(async (id) => {
        if (!(await exists(join(this.dir, id)))) this.seen.delete(id);
      }),
      ...names.map((n) => this.check(n)),
    ]);
  }

  private openWatcher(): void {
    try {
      const w = watch(this.dir, { persistent: false }, (_event, name) => {
        if (name) void this.check(name.toString());
        else void this.scan(); // the kernel did not say which file: look at all
      });
      w.on('error', (err) => {
        this.log?.warn({ err, dir: this.dir }, 'exit dir watcher failed; relying on rescans');
        w.close();
        if (this.watcher === w) this.watcher = undefined;
      });
      this.watcher = w;
    } catch (err) {
      this.log?.warn({ err, dir: this.dir }, 'cannot watch exit dir; relying on rescans');
    }
  }

  private async check(name: string): Promise<void> {
    if (this.stopped || name.startsWith('.') || TEMP_NAME.test(name)) return;
    if (this.seen.has(name) || this.pending.has(name)) return;
    this.pending.add(name);
    try {
      const path = join(this.dir, name);
      const [code, st] = await Promise.all([readExitCode(this.dir, name), stat(path).catch(() => undefined)]);
      if (code === undefined || st === undefined || this.stopped || this.seen.has(name)) return;
      this.seen.add(name);
      this.emit('exit', name, code, st.mtime);
    } finally {
      this.pending.delete(name);
    }
  }
}

/** The exit code conmon recorded for `id`, or undefined when there is no (valid) exit file. */
export async function readExitCode(dir: string, id: string): Promise<number | undefined> {
  let text: string;
  try {
    text = await readFile(join(dir, id), 'utf8');
  } catch (err) {
    const code = errnoCode(err);
    if (code === 'ENOENT' || code === 'EISDIR') return undefined;
    throw err;
  }
  const t = text.trim();
  return /^-?\d+$/.test(t) ? Number(t) : undefined;
}

/**
 * Whether conmon recorded an OOM kill for the container. conmon 2.1.6 (cgroup
 * v1: memory.oom_control eventfd; v2: memory.events) creates an empty file named
 * `oom` both in its persist dir (-0) and in its working directory, which
 * launchContainer sets to the bundle: pass either directory. The cgroup's own
 * counter (cgroups.ts oomKillCount) is the fallback when conmon was not watching.
 */
export function oomKilled(bundleOrPersistDir: string): Promise<boolean> {
  return exists(join(bundleOrPersistDir, 'oom'));
}

async function exists(path: string): Promise<boolean> {
  try {
    await access(path);
    return true;
  } catch {
    return false;
  }
}
