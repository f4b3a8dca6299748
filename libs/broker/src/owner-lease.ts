import type { Logger } from '@celeriac/logger';
import type { Redis } from 'ioredis';
import { heldKey, inflightKey, leaseKey, OWNERS_KEY, startedKey, UNACKED_INDEX_KEY } from './keys.js';
import type { BrokerScripts } from './scripts/load-scripts.js';

/** Shortest renewal interval, whatever the lease TTL. */
const MIN_RENEW_MS = 10;

type LeaseState = 'none' | 'held' | 'failing' | 'released';

/**
 * The lease of one owner (a consumer with an `ownerId`): `celeriac.lease.<ownerId>` with a TTL,
 * renewed every third of it on its own timer, and the owner's entry in `celeriac.owners` (the
 * queues whose in-flight lists it may have, and its redelivery limit, which every restore of its
 * messages applies, whoever restores). Each renewal also refreshes the `unacked_index`
 * score of every tag the owner holds, so no restore takes back what a live owner works on, not
 * even a Python worker's kombu restore. Logs `broker.lease.state` on every change.
 */
export class OwnerLease {
  private timer: NodeJS.Timeout | null = null;
  private state: LeaseState = 'none';
  private readonly queues = new Set<string>();
  private renewing: Promise<void> | null = null;
  private lastOkMs = 0;
  private readonly renewMs: number;

  constructor(
    private readonly redis: () => Redis & BrokerScripts,
    private readonly logger: Logger,
    readonly ownerId: string,
    readonly ttlMs: number,
    private readonly redeliveryLimit: number,
  ) {
    this.renewMs = Math.max(MIN_RENEW_MS, Math.floor(ttlMs / 3));
  }

  /** Takes the lease now, then renews it on the timer. */
  async start(): Promise<void> {
    await this.renew();
    this.schedule();
  }

  /** Queues whose in-flight lists this owner may use; recorded (awaited) before the first move from a new one. */
  async register(queues: readonly string[]): Promise<void> {
    let fresh = false;
    for (const queue of queues) {
      if (!this.queues.has(queue)) {
        this.queues.add(queue);
        fresh = true;
      }
    }
    if (fresh) await this.renewNow(true);
  }

  /** The in-flight list keys of every queue registered so far. */
  inflightKeys(): string[] {
    return [...this.queues].map((queue) => inflightKey(this.ownerId, queue));
  }

  private schedule(): void {
    if (this.state === 'released') return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.renew().finally(() => this.schedule());
    }, this.renewMs);
    this.timer.unref();
  }

  private renew(): Promise<void> {
    this.renewing ??= this.renewNow(false).finally(() => {
      this.renewing = null;
    });
    return this.renewing;
  }

  private async renewNow(strict: boolean): Promise<void> {
    if (this.state === 'released') return;
    const value = JSON.stringify({
      queues: [...this.queues],
      redelivery_limit: this.redeliveryLimit,
      at: Date.now(),
    });
    try {
      await this.redis().renewLease(
        5,
        leaseKey(this.ownerId),
        heldKey(this.ownerId),
        UNACKED_INDEX_KEY,
        OWNERS_KEY,
        startedKey(this.ownerId),
        this.ownerId,
        String(this.ttlMs),
        String(Date.now() / 1000),
        value,
      );
      this.lastOkMs = Date.now();
      this.setState('held');
    } catch (error) {
      const expired = this.lastOkMs > 0 && Date.now() - this.lastOkMs >= this.ttlMs;
      this.logger.warn(
        { event: 'broker.lease_renew_failed', owner_id: this.ownerId, expired, err: error },
        expired
          ? 'could not renew the lease for a whole lease TTL: what this consumer holds may be restored and run again'
          : 'could not renew the lease; retrying',
      );
      this.setState('failing');
      if (strict) throw error;
    }
  }

  /** Stops renewing and drops the lease (and, when nothing is left held, the owner's records). */
  async release(redis: Redis & BrokerScripts): Promise<void> {
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    if (this.state === 'released') return;
    await this.renewing;
    this.setState('released');
    const id = this.ownerId;
    const keys = [leaseKey(id), heldKey(id), OWNERS_KEY, startedKey(id), ...this.inflightKeys()];
    await redis.releaseOwner(keys.length, ...keys, this.ownerId).catch((err: unknown) => {
      this.logger.warn(
        { event: 'broker.lease_release_failed', owner_id: this.ownerId, err },
        'could not drop the lease at close; it expires by itself',
      );
    });
  }

  private setState(state: LeaseState): void {
    if (state === this.state) return;
    const from = this.state;
    this.state = state;
    const fields = {
      event: 'broker.lease.state',
      from,
      to: state,
      owner_id: this.ownerId,
      ttl_ms: this.ttlMs,
    } as const;
    if (state === 'failing') this.logger.warn(fields, 'lease renewal failing');
    else this.logger.debug(fields, `lease ${state}`);
  }
}
