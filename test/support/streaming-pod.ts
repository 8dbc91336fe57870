// A daemon with one running pod for streaming tests of other clients
// (client-node, crictl): registry with busybox, CNI, the pod, and containers
// created on demand.
import { TestDaemon } from './daemon.js';
import { busyboxImage, pushImage } from './images.js';
import { TestNetwork } from './network.js';
import { podConfig } from './pod-config.js';
import { TestRegistry } from './registry.js';

export class StreamingPod {
  private n = 0;

  private constructor(
    readonly registry: TestRegistry,
    readonly d: TestDaemon,
    readonly netw: TestNetwork,
    readonly image: string,
    readonly podId: string,
  ) {}

  static async start(): Promise<StreamingPod> {
    const registry = await TestRegistry.start();
    let d: TestDaemon | undefined;
    let netw: TestNetwork | undefined;
    try {
      await pushImage(registry.url, 'test/busybox', '1', busyboxImage({ env: ['PATH=/bin'] }));
      d = await TestDaemon.start();
      netw = new TestNetwork(d.dir);
      await netw.install(d.cniConfDir);
      const image = `${registry.host}/test/busybox:1`;
      await d.img('PullImage', { image: { image } });
      await d.waitNetworkReady();
      const podId = (await d.rt<{ podSandboxId: string }>('RunPodSandbox', { config: podConfig({ logDirectory: `${d.dir}/logs` }) }))
        .podSandboxId;
      return new StreamingPod(registry, d, netw, image, podId);
    } catch (err) {
      await d?.destroy();
      netw?.cleanup();
      await registry.stop();
      throw err;
    }
  }

  /** Creates and starts a container in the pod; its id. */
  async run(config: Record<string, unknown>): Promise<string> {
    this.n++;
    const { containerId } = await this.d.rt<{ containerId: string }>('CreateContainer', {
      podSandboxId: this.podId,
      config: { metadata: { name: `c${this.n}`, attempt: 0 }, image: { image: this.image }, logPath: `c${this.n}.log`, ...config },
    });
    await this.d.rt('StartContainer', { containerId });
    return containerId;
  }

  async destroy(): Promise<void> {
    await this.d.destroy();
    this.netw.cleanup();
    await this.registry.stop();
  }
}
