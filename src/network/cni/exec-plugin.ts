import { SkiffError } from '../../errors.js';
import { runProcess } from '../../host/run-process.js';
import { CNI_ERROR_CODES, CniPluginError } from './plugin-error.js';
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
export async function execPlugin(req: PluginExecRequest): Promise<PluginExecOutput> {
  const timeoutMs = req.timeoutMs ?? DEFAULT_PLUGIN_TIMEOUT_MS;
  const what = `CNI plugin ${req.plugin} ${req.command}`;
  if (req.signal?.aborted) throw new SkiffError('Cancelled', `${what} not started: cancelled`);
  let res;
  try {
    res = await runProcess(req.file, [], {
      env: req.env,
      input: JSON.stringify(req.stdin),
      timeoutMs,
      ...(req.signal ? { signal: req.signal } : {}),
      maxStdout: MAX_STDOUT,
      maxStderr: MAX_STDERR_KEPT,
      killOnOverflow: true,
      processGroup: true,
    });
  } catch (e) {
    throw new SkiffError('Internal', `${what}: cannot run ${req.file}: ${(e as Error).message}`, { cause: e });
  }
  const stderr = res.stderr.buffer().toString('utf8');
  if (res.killedFor) throw killError(what, res.killedFor, timeoutMs, stderr);
  return interpret(req.plugin, req.command, res.code, res.signal, res.stdout.buffer().toString('utf8').trim(), stderr.trim());
}

function killError(what: string, why: 'timeout' | 'abort' | 'overflow', timeoutMs: number, stderr: string): SkiffError {
  const tail = stderr.trim() ? ` (stderr: ${stderr.trim().slice(-500)})` : '';
  if (why === 'timeout') return new SkiffError('DeadlineExceeded', `${what} killed after ${timeoutMs} ms${tail}`);
  if (why === 'abort') return new SkiffError('Cancelled', `${what} killed: cancelled${tail}`);
  return new SkiffError('Internal', `${what} killed: more than ${MAX_STDOUT} bytes on stdout`);
}

/** Turns an exited plugin's status and output into a result or a CniPluginError. */
function interpret(
  plugin: string,
  command: CniCommand,
  code: number | null,
  sig: NodeJS.Signals | null,
  stdout: string,
  stderr: string,
): PluginExecOutput {
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
