// The pod's life across both services: a pod is stopped by stopping its
// containers and then its sandbox, removed by removing its containers and
// then its sandbox, and a container is created only in a ready pod. The
// sandbox service never calls the container service; this is the one place
// that knows the order.
import type { ContainerService } from '../container/container-service.js';
import type { ContainerConfig } from '../container/types.js';
import type { Logger } from '../log.js';
import type { SandboxService } from '../sandbox/sandbox-service.js';
import type { SandboxConfig } from '../sandbox/types.js';
import { KeyedMutex } from '../store/keyed-mutex.js';

export class PodLifecycle {
  /** Per pod: a stop or remove does not interleave with a container being created in it. */
  private readonly pods = new KeyedMutex();

  constructor(
    private readonly sandboxes: SandboxService,
    private readonly containers: ContainerService,
  ) {}

  runPod(config: SandboxConfig, signal: AbortSignal, log: Logger): Promise<string> {
    return this.sandboxes.run(config, signal, log);
  }

  async stopPod(id: string, log: Logger): Promise<void> {
    const pod = this.sandboxes.find(id);
    if (!pod) return; // kubelet relies on stop of an unknown pod succeeding
    await this.pods.run(pod.id, async () => {
      await this.containers.stopAll(pod.id, log);
      await this.sandboxes.stop(pod.id, log);
    });
  }

  async removePod(id: string, log: Logger): Promise<void> {
    const pod = this.sandboxes.find(id);
    if (!pod) return;
    await this.pods.run(pod.id, async () => {
      await this.containers.stopAll(pod.id, log);
      await this.containers.removeAll(pod.id, log);
      await this.sandboxes.remove(pod.id, log);
    });
  }

  async createContainer(sandboxId: string, config: ContainerConfig, signal: AbortSignal, log: Logger): Promise<string> {
    const pod = this.sandboxes.resolve(sandboxId);
    return this.pods.run(pod.id, () => this.containers.create(this.sandboxes.get(pod.id) ?? pod, config, signal, log));
  }
}
