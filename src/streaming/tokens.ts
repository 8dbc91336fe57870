import { randomBytes } from 'node:crypto';

import { SkiffError } from '../errors.js';

/**
 * Pending streaming requests under random, single-use tokens that expire:
 * the URL an Exec/Attach/PortForward answer carries is all a client needs,
 * so it must be unguessable and good for one connection only.
 */
export class TokenCache<T> {
  private readonly pending = new Map<string, { value: T; expires: number }>();

  constructor(
    private readonly ttlMs = 60_000,
    private readonly max = 1000,
    private readonly now: () => number = Date.now,
  ) {}

  /** RESOURCE_EXHAUSTED when `max` requests are already waiting. */
  put(value: T): string {
    this.sweep();
    if (this.pending.size >= this.max)
      throw new SkiffError('ResourceExhausted', `${this.max} streaming requests are already waiting to be used`);
    const token = randomBytes(24).toString('base64url');
    this.pending.set(token, { value, expires: this.now() + this.ttlMs });
    return token;
  }

  /** The request, once; undefined when unknown, used or expired. */
  take(token: string): T | undefined {
    const entry = this.pending.get(token);
    this.pending.delete(token);
    if (!entry || entry.expires <= this.now()) return undefined;
    return entry.value;
  }

  private sweep(): void {
    const now = this.now();
    for (const [k, v] of this.pending) if (v.expires <= now) this.pending.delete(k);
  }
}
