import type { FleetLimit, FleetSlot } from '@celeriac/broker';
import type { Logger } from '@celeriac/logger';
import type { Job } from './job-custody.js';

/** A slot held by a job, with what its renewal needs. */
export interface HeldSlot extends FleetSlot {
  limitId: string;
  leaseMs: number;
  laneId: string;
  /** Date.now() when it was taken. */
  since: number;
}

/** The broker calls the slot leases make (part of `FleetLimiterTarget`). */
export interface FleetSlotTarget {
  release(slots: readonly FleetSlot[]): Promise<number>;
  renew(leaseMs: number, slots: readonly FleetSlot[]): Promise<number>;
}

/** What the slot leases work with. */
export interface FleetSlotLeasesOptions {
  target: FleetSlotTarget;
  logger: Logger;
  /** A job's slot is over: it was held for `ms`. */
  onHoldEnded(slot: HeldSlot, ms: number): void;
  /** Slots were given back to the broker (others may be free now). */
  onReleased(): void;
}

/**
 * The fleet concurrency slots held by jobs that passed their limits: renewed while the job is
 * held or runs, given back once it is over (or left to expire when that fails).
 */
export class FleetSlotLeases {
  private readonly o: FleetSlotLeasesOptions;
  /** Slots held by jobs that passed (released once the job is over). */
  private readonly slots = new Map<Job, HeldSlot[]>();
  private releasing: HeldSlot[] = [];
  private lastRenew = 0;

  constructor(options: FleetSlotLeasesOptions) {
    this.o = options;
  }

  /** Jobs holding slots. */
  get size(): number {
    return this.slots.size;
  }

  /** Every slot held, job by job. */
  *held(): IterableIterator<HeldSlot> {
    for (const held of this.slots.values()) yield* held;
  }

  /** `job` got the slot `member` of `key` (of `limit`, through the lane `laneId`), from now on. */
  hold(job: Job, key: string, member: string, limit: FleetLimit, laneId: string): void {
    const held = this.slots.get(job) ?? [];
    held.push({ key, member, limitId: limit.id, leaseMs: limit.leaseMs, laneId, since: Date.now() });
    this.slots.set(job, held);
  }

  /** The shortest lease held (ms); infinite when none is. */
  shortestLeaseMs(): number {
    let min = Number.POSITIVE_INFINITY;
    for (const held of this.slots.values()) for (const s of held) min = Math.min(min, s.leaseMs);
    return min;
  }

  /** Gives back the slots of jobs that are over; cheap when none is held. */
  sweep(): void {
    if (this.slots.size === 0) return;
    let freed = false;
    const now = Date.now();
    for (const [job, held] of this.slots) {
      if (job.state === 'held' || job.state === 'running' || job.state === 'running_acked') continue;
      this.slots.delete(job);
      this.releasing.push(...held);
      freed = true;
      for (const slot of held) this.o.onHoldEnded(slot, now - slot.since);
    }
    if (!freed) return;
    const batch = this.releasing;
    this.releasing = [];
    this.o.target.release(batch).then(
      () => this.o.onReleased(),
      (error: unknown) => {
        // Not retried: the lease expires on its own (the slot is back within it).
        this.o.logger.warn(
          { event: 'worker.fleet_limit_failed', operation: 'release', slots: batch.length, err: error },
          'Could not give fleet concurrency slots back; they return when their leases expire',
        );
      },
    );
  }

  /** Renews every lease once a quarter of the shortest one passed since the last renewal. */
  renewIfDue(now: number): void {
    if (this.slots.size === 0) return;
    if (now - this.lastRenew < this.shortestLeaseMs() / 4) return;
    this.lastRenew = now;
    const byLease = new Map<number, HeldSlot[]>();
    for (const held of this.slots.values()) {
      for (const slot of held) {
        byLease.set(slot.leaseMs, [...(byLease.get(slot.leaseMs) ?? []), slot]);
      }
    }
    for (const [lease, slots] of byLease) {
      this.o.target.renew(lease, slots).catch((error: unknown) => {
        this.o.logger.warn(
          { event: 'worker.fleet_limit_failed', operation: 'renew', slots: slots.length, err: error },
          'Could not renew fleet concurrency leases; retrying at the next renewal',
        );
      });
    }
  }

  /** Shutdown: every slot held or being given back, forgotten here (the caller releases them). */
  takeAll(): HeldSlot[] {
    const held = [...this.slots.values()].flat().concat(this.releasing);
    this.slots.clear();
    return held;
  }
}
