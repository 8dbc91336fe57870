// ExecSync: a command run in a running container with the container's own
// process settings (user, environment, cwd, capabilities), output bounded.
import { failedPrecondition, invalidArgument } from '../errors.js';
import type { RuntimeProvider } from '../runtime/oci-runtime.js';
import type { ExecResult } from '../runtime/runc.js';
import type { Bundles } from './bundle.js';
import { bundleRefOf, type ContainerRecord } from './record.js';

const MAX_EXEC_OUTPUT = 16 * 1024 * 1024;

export class ExecSync {
  /** The container's process spec, read from its bundle once (probes exec every second). */
  private readonly processSpecs = new Map<string, Record<string, unknown>>();

  constructor(private readonly deps: { runtimes: RuntimeProvider; bundles: Bundles }) {}

  async run(record: ContainerRecord, cmd: string[], timeoutSec: number, signal: AbortSignal): Promise<ExecResult> {
    if (record.status.state !== 'running') throw failedPrecondition(`container ${record.id} is not running`);
    if (cmd.length === 0) throw invalidArgument('cmd is required');
    const processSpec = { ...(await this.processSpecOf(record)), args: cmd, terminal: false };
    return this.deps.runtimes.get(record.runtimeHandler).exec(record.id, processSpec, {
      ...(timeoutSec > 0 ? { timeoutMs: timeoutSec * 1000 } : {}),
      signal,
      maxOutputBytes: MAX_EXEC_OUTPUT,
    });
  }

  /** The container's own process settings (user, env, cwd, capabilities), for execs. */
  async processSpecOf(record: ContainerRecord): Promise<Record<string, unknown>> {
    let spec = this.processSpecs.get(record.id);
    if (!spec) {
      spec = (await this.deps.bundles.readSpec(bundleRefOf(record))).process as unknown as Record<string, unknown>;
      this.processSpecs.set(record.id, spec);
    }
    return spec;
  }

  forget(id: string): void {
    this.processSpecs.delete(id);
  }
}
