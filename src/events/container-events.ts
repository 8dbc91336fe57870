import { EventEmitter } from 'node:events';

import { nowNsBig } from '../time.js';

export type ContainerEventType = 'created' | 'started' | 'stopped' | 'deleted';

export interface ContainerEvent {
  containerId: string;
  sandboxId: string;
  type: ContainerEventType;
  /** Nanoseconds since the epoch. */
  createdAt: bigint;
}

/**
 * Container lifecycle events for kubelet's evented PLEG. Subscribers get every
 * event after they subscribe; a slow subscriber buffers in its own queue, bounded,
 * and is dropped when it falls too far behind rather than slowing the runtime.
 */
export class ContainerEventBus {
  private readonly emitter = new EventEmitter();

  constructor() {
    this.emitter.setMaxListeners(0);
  }

  publish(e: Omit<ContainerEvent, 'createdAt'>): void {
    this.emitter.emit('event', { ...e, createdAt: nowNsBig() });
  }

  /** Async iteration over events until the signal aborts (or the subscriber overflows). */
  async *subscribe(signal: AbortSignal, maxQueue = 10000): AsyncGenerator<ContainerEvent> {
    const queue: ContainerEvent[] = [];
    let wake: (() => void) | undefined;
    let overflow = false;
    const onEvent = (e: ContainerEvent): void => {
      if (queue.length >= maxQueue) overflow = true;
      else queue.push(e);
      wake?.();
    };
    const onAbort = (): void => wake?.();
    this.emitter.on('event', onEvent);
    signal.addEventListener('abort', onAbort);
    try {
      while (!signal.aborted && !overflow) {
        const next = queue.shift();
        if (next) {
          yield next;
          continue;
        }
        await new Promise<void>((resolve) => (wake = resolve));
        wake = undefined;
      }
    } finally {
      this.emitter.off('event', onEvent);
      signal.removeEventListener('abort', onAbort);
    }
  }
}
