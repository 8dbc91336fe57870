import { spawnChild } from '../../host/spawn.js';
import { SkiffError } from '../../errors.js';
import { CniPluginError, CNI_ERROR_CODES } from './plugin-error.js';
import type { CniCommand } from './types.js';

export const DEFAULT_PLUGIN_TIMEOUT_MS = 60_000;

// Results are a few KiB; anything far larger is a broken plugin, not data to keep.
const MAX_STDOUT = 4 << 20;
const MAX_STDERR_KEPT = 16 << 10;

export interface PluginExecRequest {
  /** The plugin type, for messages. */
  plugin: string;
  /** Absolute path of the executable (see findPlugin). */
  file: string;
  command: CniCommand;
  env: Record<string, string>;
  /** Written to stdin as JSON. */
  stdin: unknown;
  timeoutMs?: number;
  signal?: AbortSignal | undefined;
}

export interface PluginExecOutput {
  /** Parsed stdout; undefined when the plugin printed nothing (normal for DEL/CHECK). */
  result: Record<string, unknown> | undefined;
  /** The tail of stderr, for logs (plugins log there). */
  stderr: string;
}

/**
 * Runs one plugin once. The plugin gets its own process group so a timeout or
 * an abort can SIGKILL it together with anything it started (iptables, the
 * IPAM plugin it delegates to): a half-killed chain would keep holding locks.
 * The promise settles only after the plugin has exited, so callers never run
 * the next step (such as a rollback DEL) while the previous one is still alive.
 */
export function execPlugin(req: PluginExecRequest): Promise<PluginExecOutput> {
  const timeoutMs = req.timeoutMs ?? DEFAULT_PLUGIN_TIMEOUT_MS;
  const what = `CNI plugin ${req.plugin} ${req.command}`;
  return new Promise<PluginExecOutput>((resolve, reject) => {
    if (req.signal?.aborted) {
      reject(new SkiffError('Cancelled', `${what} not started: cancelled`));
      return;
    }
    const child = spawnChild(req.file, [], { env: req.env, stdio: ['pipe', 'pipe', 'pipe'], detached: true });
    const out: Buffer[] = [];
    let outLen = 0;
    let err = '';
    let killedFor: 'timeout' | 'abort' | 'overflow' | undefined;
    let settled = false;

    const kill = (why: NonNullable<typeof killedFor>): void => {
      if (killedFor) return;
      killedFor = why;
      if (child.pid === undefined) {
        child.kill('SIGKILL'); // not started yet: killed as soon as it is
        return;
      }
      try {
        process.kill(-child.pid, 'SIGKILL'); // the whole group, by its id (= the plugin's PID)
      } catch {
        try {
          process.kill(child.pid, 'SIGKILL');
        } catch {
          // already gone
        }
      }
    };
    const timer = setTimeout(() => kill('timeout'), timeoutMs);
    const onAbort = (): void => kill('abort');
    req.signal?.addEventListener('abort', onAbort, { once: true });

    const finish = (fn: () => void): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.signal?.removeEventListener('abort', onAbort);
      fn();
    };

    child.stdout!.on('data', (chunk: Buffer) => {
      outLen += chunk.length;
      if (outLen > MAX_STDOUT) {
        kill('overflow');
        return;
      }
      out.push(chunk);
    });
    child.stderr!.on('data', (chunk: Buffer) => {
      err = (err + chunk.toString('utf8')).slice(-MAX_STDERR_KEPT);
    });
    // A plugin that exits before reading its config closes stdin under us: that is
    // reported through its exit status, not as an EPIPE crash here.
    child.stdin!.on('error', () => {});
    child.on('error', (e: Error) => finish(() => reject(new SkiffError('Internal', `${what}: cannot run ${req.file}: ${e.message}`, { cause: e }))));

    // After a kill we settle on 'exit': a stray grandchild may keep the pipes open.
    child.on('exit', () => {
      if (killedFor) finish(() => reject(killError(what, killedFor!, timeoutMs, err)));
    });
    child.on('close', (code: number | null, sig: NodeJS.Signals | null) => {
      if (killedFor) {
        finish(() => reject(killError(what, killedFor!, timeoutMs, err)));
        return;
      }
      const stdout = Buffer.concat(out).toString('utf8').trim();
      finish(() => {
        try {
          resolve(interpret(req.plugin, req.command, code, sig, stdout, err.trim()));
        } catch (e) {
          reject(e);
        }
      });
    });

    child.stdin!.end(JSON.stringify(req.stdin));
  });
}

function killError(what: string, why: 'timeout' | 'abort' | 'overflow', timeoutMs: number, stderr: string): SkiffError {
  const tail = stderr.trim() ? ` (stderr: ${stderr.trim().slice(-500)})` : '';
  if (why === 'timeout') return new SkiffError('DeadlineExceeded', `${what} killed after ${timeoutMs} ms${tail}`);
  if (why === 'abort') return new SkiffError('Cancelled', `${what} killed: cancelled${tail}`);
  return new SkiffError('Internal', `${what} killed: more than ${MAX_STDOUT} bytes on stdout`);
}

/** Turns an exited plugin's status and output into a result or a CniPluginError. */
function interpret(plugin: string, command: CniCommand, code: number | null, sig: NodeJS.Signals | null, stdout: string, stderr: string): PluginExecOutput {
  let parsed: unknown;
  let parseError: string | undefined;
  if (stdout !== '') {
    try {
      parsed = JSON.parse(stdout);
    } catch (e) {
      parseError = (e as Error).message;
    }
  }
  if (code === 0) {
    if (parseError !== undefined || (parsed !== undefined && (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)))) {
      throw new CniPluginError(plugin, CNI_ERROR_CODES.internal, 'output is not a JSON object', stdout.slice(0, 500));
    }
    return { result: parsed as Record<string, unknown> | undefined, stderr };
  }
  // The spec's error shape: {"code": n, "msg": "...", "details": "..."} on stdout.
  if (typeof parsed === 'object' && parsed !== null && typeof (parsed as { code?: unknown }).code === 'number') {
    const e = parsed as { code: number; msg?: unknown; details?: unknown };
    const msg = typeof e.msg === 'string' && e.msg !== '' ? e.msg : 'no message';
    const details = typeof e.details === 'string' ? e.details : '';
    throw new CniPluginError(plugin, e.code, msg, details);
  }
  // No structured error: the exit status plus whatever diagnostics exist.
  const status = sig ? `killed by ${sig}` : `exit status ${code}`;
  const diag = stdout !== '' ? stdout.slice(0, 1000) : stderr.slice(-1000);
  throw new CniPluginError(plugin, CNI_ERROR_CODES.internal, `${command} ended with ${status} and no error JSON`, diag);
}
