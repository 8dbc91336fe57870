import { alreadyExists } from '../errors.js';

/** The live record that holds a name, as the reservation rule sees it. */
export interface NameHolder {
  id: string;
  fingerprint: string;
  /** May a retry of the same request be answered with this record? */
  reusable: boolean;
}

/**
 * Kubelet retries a slow create with the same name. The rule, for pods and
 * containers alike: a retry of the request in flight gets the same promise; a
 * retry of one that finished gets the record's id; the same name with another
 * request is ALREADY_EXISTS until the holder is removed.
 */
export class NameReservations {
  private readonly inflight = new Map<string, { fingerprint: string; promise: Promise<string> }>();

  /** `what` names the kind in messages ("pod sandbox", "container"). */
  constructor(private readonly what: string) {}

  reserve(name: string, fingerprint: string, holder: NameHolder | undefined, create: () => Promise<string>): Promise<string> {
    const pending = this.inflight.get(name);
    if (pending) {
      if (pending.fingerprint === fingerprint) return pending.promise;
      throw alreadyExists(`${this.what} name "${name}" is being created with a different config`);
    }
    if (holder) {
      if (holder.reusable && holder.fingerprint === fingerprint) return Promise.resolve(holder.id);
      throw alreadyExists(`${this.what} name "${name}" is reserved by ${holder.id}`);
    }
    const promise = create().finally(() => this.inflight.delete(name));
    this.inflight.set(name, { fingerprint, promise });
    return promise;
  }
}
