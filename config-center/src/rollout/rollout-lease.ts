import { randomUUID } from 'node:crypto';
import type { Logger } from '@celeriac/logger';
import type { RolloutStore } from './rollout-store.js';

/**
 * Whether this replica drives rollouts. With a shared store that is the holder of the store's
 * lease: taken or renewed by `renew`, given up by `release`, and lost when another replica holds
 * it, a save is refused by its fence, or it was not renewed in time. With a store of one process
 * the replica always leads (`lead` without a lease).
 */
export class RolloutLease {
  /** This replica's lease token, also the fence of its saves and the owner of the commands it takes. */
  readonly token = randomUUID();
  private leading = false;
  private renewedAt = 0;

  /**
   * @param ms How long the lease lasts without renewal.
   * @param lost Called when this replica stops driving (what it read as a driver must be read again).
   */
  constructor(
    private readonly store: RolloutStore,
    private readonly logger: Logger,
    readonly ms: number,
    private readonly lost: () => void,
  ) {}

  /** True while this replica drives rollouts. */
  get held(): boolean {
    return this.leading;
  }

  /** Starts driving: with a store of one process, or once a lease `renew` took is resumed from. */
  lead(): void {
    this.leading = true;
  }

  /**
   * Takes or renews the lease; true only when this call took it while not driving (the caller then
   * resumes from the saved records and calls `lead`).
   */
  async renew(): Promise<boolean> {
    let held: boolean;
    try {
      held = await this.store.acquireLease(this.token, this.ms);
    } catch (error) {
      this.logger.warn({ event: 'center.rollout_lease_failed', err: error }, 'could not renew the rollout lease');
      return false;
    }
    if (!held) {
      this.stepDown('another replica holds the lease');
      return false;
    }
    this.renewedAt = Date.now();
    return !this.leading;
  }

  /** Steps down when the lease was not renewed for most of its time: another replica may hold it by now. */
  stepDownIfStale(): void {
    if (this.leading && Date.now() - this.renewedAt > this.ms * 0.8) this.stepDown('its lease ran out');
  }

  /** Stops driving, and says why in the log. */
  stepDown(why: string): void {
    if (!this.leading) return;
    this.leading = false;
    this.lost();
    this.logger.warn(
      { event: 'center.rollout_lease_lost', reason: why },
      `this replica no longer drives rollouts: ${why}`,
    );
  }

  /** Gives the lease up (on close), so another replica takes over without waiting for it to run out. */
  async release(): Promise<void> {
    if (!this.leading) return;
    this.leading = false;
    await this.store.releaseLease(this.token).catch(() => undefined);
  }
}
