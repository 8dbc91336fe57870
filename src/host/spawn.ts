// Every program Skiff runs is started here. Node's own spawn forks the whole
// daemon (libuv uses fork()), which stops the event loop for 5-15 ms per child
// as the daemon grows; native/spawner.c is a tiny helper that forks instead and
// relays the child's pipes. When it is missing (not built) or dies, children
// are started by Node as before: same interface, slower.
// One file on purpose: the helper's framed pipe protocol has two ends here
// (the shared helper and each child's streams) that change together.
import { type ChildProcess, spawn as nodeSpawn, spawnSync } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { accessSync, constants as fsConstants } from 'node:fs';
import type { Socket } from 'node:net';
import { constants as osConstants } from 'node:os';
import path from 'node:path';
import { Readable, Writable } from 'node:stream';

import { REPO_ROOT } from '../version.js';

export type StdioMode = 'ignore' | 'pipe' | 'inherit';

export interface SpawnOptions {
  /** One entry per child fd, from 0. */
  stdio: StdioMode[];
  env?: NodeJS.ProcessEnv;
  cwd?: string;
  /** A session (and process group) of its own, led by the child. */
  detached?: boolean;
}

/** What callers use of a child: the subset ChildProcess and the helper's children share. */
export interface Child extends EventEmitter {
  readonly pid: number | undefined;
  readonly stdin: Writable | null;
  readonly stdout: Readable | null;
  readonly stderr: Readable | null;
  readonly stdio: readonly (Readable | Writable | null | undefined)[];
  kill(signal?: NodeJS.Signals | number): boolean;
  unref(): void;
}

/** The built helper; SKIFF_SPAWNER overrides it ("node" starts children with Node itself). */
export function spawnerPath(): string | undefined {
  const env = process.env['SKIFF_SPAWNER'];
  if (env === 'node') return undefined;
  const p = env || path.join(REPO_ROOT, 'dist', 'native', 'skiff-spawner');
  try {
    accessSync(p, fsConstants.X_OK);
  } catch {
    return undefined;
  }
  // Once per helper start: the file must be our helper, not anything executable.
  const check = spawnSync(p, ['--check'], { encoding: 'utf8', timeout: 5000 });
  return check.status === 0 && check.stdout.trim() === CHECK_REPLY ? p : undefined;
}

export function spawnChild(file: string, args: readonly string[], opts: SpawnOptions): Child {
  const helper = Spawner.shared();
  if (helper) return helper.spawn(file, args, opts);
  return nodeSpawn(file, args, {
    stdio: opts.stdio,
    env: opts.env ?? process.env,
    ...(opts.cwd !== undefined ? { cwd: opts.cwd } : {}),
    detached: opts.detached ?? false,
  }) as unknown as Child;
}

/** The helper's pid while it runs (for diagnostics and tests). */
export function spawnerPid(): number | undefined {
  return Spawner.current()?.pid;
}

const MODE = { ignore: 0, pipe: 1, inherit: 2 } as const;
/** What `skiff-spawner --check` prints (native/spawner.c). */
const CHECK_REPLY = 'skiff-spawner 1';
const ERRNO_NAMES = new Map(Object.entries(osConstants.errno).map(([name, n]) => [n, name]));
const SIGNAL_NAMES = new Map(Object.entries(osConstants.signals).map(([name, n]) => [n, name as NodeJS.Signals]));

/** One long-lived helper per daemon process. */
class Spawner {
  private static instance: Spawner | undefined;
  private static unavailable = false;

  private readonly proc: ChildProcess;
  private readonly children = new Map<number, HelperChild>();
  private nextId = 1;
  private inbuf: Buffer = Buffer.alloc(0);
  private dead = false;
  private active = 0;
  private corked = false;

  static current(): Spawner | undefined {
    return Spawner.instance && !Spawner.instance.dead ? Spawner.instance : undefined;
  }

  get pid(): number | undefined {
    return this.proc.pid;
  }

  static shared(): Spawner | undefined {
    if (Spawner.instance && !Spawner.instance.dead) return Spawner.instance;
    if (Spawner.unavailable) return undefined;
    const file = spawnerPath();
    if (!file) {
      Spawner.unavailable = true;
      return undefined;
    }
    Spawner.instance = new Spawner(file);
    return Spawner.instance;
  }

  private constructor(file: string) {
    this.proc = nodeSpawn(file, [], { stdio: ['pipe', 'pipe', 'inherit'] });
    this.proc.stdout!.on('data', (d: Buffer) => this.onData(d));
    this.proc.stdin!.on('error', () => {}); // its death is handled on 'exit'
    // It could not be started at all: Node starts the children from now on.
    this.proc.on('error', () => {
      Spawner.unavailable = true;
      this.onDeath();
    });
    this.proc.on('exit', () => this.onDeath());
    this.setRef(false);
  }

  spawn(file: string, args: readonly string[], opts: SpawnOptions): HelperChild {
    const id = this.nextId++;
    const child = new HelperChild(this, id, file, opts.stdio);
    this.children.set(id, child);
    const strings: Buffer[] = [];
    const str = (s: string): void => {
      strings.push(Buffer.from(s, 'utf8'), Buffer.alloc(1));
    };
    const u32 = (n: number): void => {
      const b = Buffer.alloc(4);
      b.writeUInt32LE(n);
      strings.push(b);
    };
    const head = Buffer.alloc(5 + opts.stdio.length);
    head.writeUInt32LE(opts.detached ? 1 : 0, 0);
    head[4] = opts.stdio.length;
    opts.stdio.forEach((m, i) => (head[5 + i] = MODE[m]));
    strings.push(head);
    str(opts.cwd ?? '');
    str(file);
    u32(args.length + 1);
    str(file);
    for (const a of args) str(a);
    const env = Object.entries(opts.env ?? process.env).filter((e): e is [string, string] => e[1] !== undefined);
    u32(env.length);
    for (const [k, v] of env) str(`${k}=${v}`);
    this.send('S', id, Buffer.concat(strings));
    this.track(+1);
    return child;
  }

  send(type: 'S' | 'W' | 'C', id: number, payload: Buffer): void {
    if (this.dead) return;
    const head = Buffer.alloc(9);
    head.writeUInt32LE(5 + payload.length, 0);
    head.write(type, 4, 'latin1');
    head.writeUInt32LE(id, 5);
    // Frames sent in one tick (spawn, its input, its close) leave in one write.
    const stdin = this.proc.stdin!;
    if (!this.corked) {
      this.corked = true;
      stdin.cork();
      process.nextTick(() => {
        this.corked = false;
        stdin.uncork();
      });
    }
    stdin.write(Buffer.concat([head, payload]));
  }

  /** Keeps the daemon's loop alive only while some child is running (so tests and tools can exit). */
  track(delta: number): void {
    const before = this.active;
    this.active += delta;
    if (before === 0 && this.active > 0) this.setRef(true);
    else if (before > 0 && this.active === 0) this.setRef(false);
  }

  forget(id: number): void {
    this.children.delete(id);
  }

  private setRef(on: boolean): void {
    for (const s of [this.proc.stdin, this.proc.stdout] as unknown as (Socket | null)[]) {
      if (on) s?.ref();
      else s?.unref();
    }
    if (on) this.proc.ref();
    else this.proc.unref();
  }

  private onData(d: Buffer): void {
    this.inbuf = this.inbuf.length ? Buffer.concat([this.inbuf, d]) : d;
    let off = 0;
    while (this.inbuf.length - off >= 4) {
      const len = this.inbuf.readUInt32LE(off);
      if (this.inbuf.length - off - 4 < len) break;
      const frame = this.inbuf.subarray(off + 4, off + 4 + len);
      off += 4 + len;
      const child = this.children.get(frame.readUInt32LE(1));
      if (!child) continue;
      const type = String.fromCharCode(frame[0]!);
      const body = frame.subarray(5);
      switch (type) {
        case 'P':
          child.onSpawned(body.readUInt32LE(0));
          break;
        case 'F':
          child.onFailed(body.readUInt32LE(0));
          break;
        case 'D':
          child.onOutput(body[0]!, Buffer.from(body.subarray(1)));
          break;
        case 'E':
          child.onEnd(body[0]!);
          break;
        case 'X': {
          const code = body.readInt32LE(0);
          const sig = body.readInt32LE(4);
          child.onExit(code >= 0 ? code : null, sig > 0 ? (SIGNAL_NAMES.get(sig) ?? null) : null);
          break;
        }
      }
    }
    this.inbuf = off === this.inbuf.length ? Buffer.alloc(0) : this.inbuf.subarray(off);
  }

  /** The helper is gone: its children run on, but we cannot follow them any more. */
  private onDeath(): void {
    if (this.dead) return;
    this.dead = true;
    for (const child of this.children.values()) child.onHelperDeath();
    this.children.clear();
  }
}

class HelperChild extends EventEmitter implements Child {
  pid: number | undefined;
  readonly stdio: (Readable | Writable | null)[];
  private openOutputs = 0;
  private exit: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private pendingKill: NodeJS.Signals | number | undefined;
  private counted = true;
  private finished = false;

  constructor(
    private readonly owner: Spawner,
    private readonly id: number,
    private readonly file: string,
    modes: StdioMode[],
  ) {
    super();
    this.stdio = modes.map((m, fd) => {
      if (m !== 'pipe') return null;
      if (fd === 0) {
        return new Writable({
          write: (chunk: Buffer, _enc, cb) => {
            const b = Buffer.alloc(1 + chunk.length);
            b[0] = 0;
            chunk.copy(b, 1);
            this.owner.send('W', this.id, b);
            cb();
          },
          final: (cb) => {
            this.owner.send('C', this.id, Buffer.from([0]));
            cb();
          },
        });
      }
      this.openOutputs++;
      let closed = false;
      const close = (): void => {
        if (closed) return;
        closed = true;
        this.outputClosed();
      };
      const r = new Readable({
        read: () => {},
        destroy: (err, cb) => {
          // The caller stopped listening (a detached child keeps its end): let the helper close ours.
          if (!r.readableEnded) this.owner.send('C', this.id, Buffer.from([fd]));
          close();
          cb(err);
        },
      });
      r.once('end', close);
      return r;
    });
  }

  get stdin(): Writable | null {
    return (this.stdio[0] as Writable | null | undefined) ?? null;
  }
  get stdout(): Readable | null {
    return (this.stdio[1] as Readable | null | undefined) ?? null;
  }
  get stderr(): Readable | null {
    return (this.stdio[2] as Readable | null | undefined) ?? null;
  }

  kill(signal: NodeJS.Signals | number = 'SIGTERM'): boolean {
    if (this.exit) return false;
    if (this.pid === undefined) {
      this.pendingKill = signal;
      return true;
    }
    try {
      process.kill(this.pid, signal);
      return true;
    } catch {
      return false;
    }
  }

  unref(): void {
    if (this.counted) {
      this.counted = false;
      this.owner.track(-1);
    }
  }

  onSpawned(pid: number): void {
    this.pid = pid;
    this.emit('spawn');
    if (this.pendingKill !== undefined) this.kill(this.pendingKill);
  }

  onFailed(errno: number): void {
    const code = ERRNO_NAMES.get(errno) ?? `E${errno}`;
    const err = Object.assign(new Error(`spawn ${this.file} ${code}`), {
      errno: -errno,
      code,
      syscall: `spawn ${this.file}`,
      path: this.file,
    });
    for (const s of this.stdio) s?.destroy();
    this.finish();
    this.emit('error', err);
  }

  onOutput(fd: number, data: Buffer): void {
    const r = this.stdio[fd] as Readable | null | undefined;
    if (r && !r.destroyed) r.push(data);
  }

  onEnd(fd: number): void {
    const r = this.stdio[fd] as Readable | null | undefined;
    if (r && !r.destroyed) r.push(null);
  }

  onExit(code: number | null, signal: NodeJS.Signals | null): void {
    this.exit = { code, signal };
    const stdin = this.stdin;
    if (stdin && !stdin.writableFinished) stdin.destroy();
    this.owner.send('C', this.id, Buffer.from([0]));
    this.emit('exit', code, signal);
    this.maybeClose();
  }

  onHelperDeath(): void {
    for (const s of this.stdio) s?.destroy();
    if (this.pid === undefined) {
      this.finish();
      this.emit('error', new Error(`spawn ${this.file}: the spawner helper exited`));
    } else if (!this.exit) {
      this.onExit(null, 'SIGKILL');
    }
  }

  private outputClosed(): void {
    this.openOutputs--;
    this.maybeClose();
  }

  private maybeClose(): void {
    if (!this.exit || this.openOutputs > 0 || this.finished) return;
    this.finish();
    this.emit('close', this.exit.code, this.exit.signal);
  }

  private finish(): void {
    if (this.finished) return;
    this.finished = true;
    this.owner.forget(this.id);
    this.unref();
  }
}
