import type { FleetLimit } from '@celeriac/broker';
import { type Lane, laneId, newLane, type StageKind } from './fleet-limit-lane.js';
import type { Job } from './job-custody.js';

/** The fleet limiter's lanes, by id, and what it asks of all of them at once. */
export class FleetLanes {
  private readonly lanes = new Map<string, Lane>();

  /** The lane of `kind` for `limit` and `keyValue`, made on first use. */
  obtain(kind: StageKind, limit: FleetLimit, keyValue: string | null): Lane {
    const id = laneId(kind, limit, keyValue);
    let lane = this.lanes.get(id);
    if (lane === undefined) {
      lane = newLane(kind, limit, keyValue);
      this.lanes.set(id, lane);
    }
    return lane;
  }

  /** The lane with this id, if it is still there. */
  get(id: string): Lane | undefined {
    return this.lanes.get(id);
  }

  /** Forgets a lane (its limit went, or a per-key lane is idle). */
  delete(id: string): void {
    this.lanes.delete(id);
  }

  /** Every lane, live (deleting the current one while iterating is fine). */
  values(): IterableIterator<Lane> {
    return this.lanes.values();
  }

  /** Jobs waiting in lanes whose limit binds. */
  parked(): number {
    let n = 0;
    for (const lane of this.lanes.values()) if (lane.throttled) n += lane.waiting.length;
    return n;
  }

  /** Every waiting job, lane by lane. */
  waitingJobs(): Job[] {
    return [...this.lanes.values()].flatMap((lane) => lane.waiting);
  }

  /** Takes out the waiting jobs `match` selects and returns them. */
  removeWaiting(match: (job: Job) => boolean): Job[] {
    const out: Job[] = [];
    for (const lane of this.lanes.values()) {
      const keep: Job[] = [];
      for (const job of lane.waiting) (match(job) ? out : keep).push(job);
      lane.waiting = keep;
    }
    return out;
  }

  /** Takes out every waiting job and stops the lanes' timers. */
  drainWaiting(): Job[] {
    const out = this.waitingJobs();
    for (const lane of this.lanes.values()) {
      lane.waiting = [];
      if (lane.timer !== null) clearTimeout(lane.timer);
      lane.timer = null;
    }
    return out;
  }

  /** Per-key lanes with nothing waiting and no deferral spacing left go (keys come and go). */
  dropIdle(now: number): void {
    for (const lane of this.lanes.values()) {
      if (lane.keyValue === null || lane.waiting.length > 0 || lane.busy || lane.timer !== null) continue;
      if (lane.lastDueMs > now) continue;
      this.lanes.delete(lane.id);
    }
  }
}
