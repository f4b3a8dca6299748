import {
  type FleetAcquireReply,
  type FleetLimit,
  type FleetLimitDocument,
  type FleetSlot,
  type FleetTakeReply,
  type FleetWaitingReport,
  fleetSlotMember,
  fleetSlotsKey,
} from '@celeriac/broker';
import type { Logger } from '@celeriac/logger';
import { type DeferredJob, rememberDeferred } from './fleet-limit-deferral.js';
import { FleetLimitDocumentReader } from './fleet-limit-document.js';
import { type Lane, laneDueMs, maxHeldIn, recordHold, respaceLane, takeGranted } from './fleet-limit-lane.js';
import { FleetLanes } from './fleet-limit-lanes.js';
import { stashTokens, takeStashedToken } from './fleet-limit-rate-tokens.js';
import { FleetSlotLeases } from './fleet-limit-slot-leases.js';
import { FleetLimitStages } from './fleet-limit-stages.js';
import { FleetWaitingReporter } from './fleet-limit-waiting-report.js';
import type { Job } from './job-custody.js';

export type { DeferredJob } from './fleet-limit-deferral.js';

/** The broker calls the fleet limiter makes (`FleetLimitClient` has them). */
export interface FleetLimiterTarget {
  start(): Promise<void>;
  readDocument(): Promise<FleetLimitDocument | null>;
  watch(onChange: () => void): Promise<void>;
  take(limit: FleetLimit, keyValue: string | null, want: number): Promise<FleetTakeReply>;
  acquire(limit: FleetLimit, keyValue: string | null, members: readonly string[]): Promise<FleetAcquireReply>;
  release(slots: readonly FleetSlot[]): Promise<number>;
  renew(leaseMs: number, slots: readonly FleetSlot[]): Promise<number>;
  report(ownerId: string, report: FleetWaitingReport | null): Promise<void>;
  close(): Promise<void>;
}

/** What the dispatcher gives the fleet limiter. */
export interface FleetHooks {
  /** A job passed every limit: it may run (queued; `pump()` follows once per batch). */
  onReady(job: Job): void;
  /** Starts what `onReady` queued. */
  pump(): void;
  /** Moves a waiting job to the broker's delayed set, due at `dueMs`; false when there is none (it stays here). */
  defer(job: Job, dueMs: number): boolean;
  /** New due times for jobs `defer` moved before (their limit changed or was lifted). */
  redefer(items: readonly DeferredJob[]): void;
}

/** What the fleet limiter works with. */
export interface FleetLimiterOptions extends FleetHooks {
  target: FleetLimiterTarget;
  ownerId: string;
  logger: Logger;
  /** The limits of this worker's own settings and task options: in force while Redis has no document. */
  localLimits: readonly FleetLimit[];
  /** Most jobs waiting here at once, over every limit, now (the prefetch limit, which pool_grow / pool_shrink move); more go to the delayed set. */
  maxHeld(): number;
}

/** Longest batch of tokens or slots asked for in one call. */
const MAX_BATCH = 500;
/** How long a lane waiting for a slot waits before asking again (slots free up elsewhere). */
const SLOT_POLL_MS = 100;
/** Shortest and longest timer between two asks of a rate lane. */
const MIN_WAIT_MS = 2;
const MAX_WAIT_MS = 1_000;
/** Retry after a failed call; jobs keep waiting (a limit is never passed without the broker). */
const RETRY_MS = 500;
/** The upkeep tick (waiting reports, slot renewals, the document poll): each second, or a third of the shortest lease held. */
const TICK_MS = 1_000;
/** A key value that the message does not carry. */
const MISSING_KEY = '(none)';

/**
 * Fleet-wide rate and concurrency limits, enforced together by every worker on the broker
 * (docs/fleet-limits.md). A job of a limited task or queue waits here, per limit (and per key
 * value of a per-key limit), for tokens of the limit's token bucket in Redis — asked for in
 * batches, one round trip per batch — then for a concurrency slot with a lease, renewed while it
 * runs and given back when it ends. Other tasks never wait behind it. Each lane holds a bounded
 * number of jobs; the rest go to the broker's delayed set with a due time from the limit's rate.
 * The limits come from the document in Redis (written by the agent, announced on a channel, read
 * again within a second of a change) or, when there is none, from this worker's own settings.
 */
export class FleetLimiter {
  private readonly o: FleetLimiterOptions;
  private readonly target: FleetLimiterTarget;
  private readonly lanes = new FleetLanes();
  private readonly stages = new FleetLimitStages((kind, limit) => this.lanes.obtain(kind, limit, null));
  private readonly leases: FleetSlotLeases;
  private readonly document: FleetLimitDocumentReader;
  private readonly reporter: FleetWaitingReporter;
  /** Stages each waiting job passed already (`rate:<limit id>`, `slot:<limit id>`). */
  private readonly passed = new WeakMap<Job, Set<string>>();
  private heldCount = 0;
  private ticker: NodeJS.Timeout | null = null;
  private closed = false;
  private failures = 0;
  private deferredCount = 0;

  constructor(options: FleetLimiterOptions) {
    this.o = options;
    this.target = options.target;
    this.leases = new FleetSlotLeases({
      target: options.target,
      logger: options.logger,
      onHoldEnded: (slot, ms) => {
        const lane = this.lanes.get(slot.laneId);
        if (lane !== undefined) recordHold(lane, ms);
      },
      // A slot freed here: lanes of this worker waiting for one ask again at once.
      onReleased: () => {
        for (const lane of this.lanes.values()) if (lane.kind === 'slot' && lane.waiting.length > 0) this.ask(lane, 0);
      },
    });
    this.document = new FleetLimitDocumentReader({
      target: options.target,
      logger: options.logger,
      localLimits: options.localLimits,
      isClosed: () => this.closed,
      onLimits: (limits) => this.setLimits(limits),
    });
    this.reporter = new FleetWaitingReporter((report) => this.target.report(this.o.ownerId, report));
    this.setLimits(options.localLimits);
  }

  /** Jobs waiting here for a fleet limit. */
  get size(): number {
    return this.heldCount;
  }

  /** Jobs waiting for a limit that binds: held, but not counted against the prefetch limit. */
  get parked(): number {
    return this.lanes.parked();
  }

  /** Jobs sent to the delayed set while waiting for a fleet limit. */
  get deferred(): number {
    return this.deferredCount;
  }

  /** The limits in force, by id. */
  limits(): FleetLimit[] {
    return this.stages.limits();
  }

  /** Connects, subscribes to announcements and reads the document in force. */
  async start(): Promise<void> {
    await this.target.start();
    await this.target.watch(() => this.document.reload());
    await this.document.reload();
    this.scheduleTick();
  }

  /** True when `job` may run now (no fleet limit applies, or all were passed); else it waits here. */
  admit(job: Job): boolean {
    if (this.stages.empty) return true;
    return this.advance(job);
  }

  /** The waiting jobs (for `inspect reserved`). */
  items(): Job[] {
    return this.lanes.waitingJobs();
  }

  /** Takes out the waiting jobs `match` selects (revoked ones) and returns them. */
  remove(match: (job: Job) => boolean): Job[] {
    const out = this.lanes.removeWaiting(match);
    this.heldCount -= out.length;
    return out;
  }

  /** Shutdown: every waiting job, taken out (the caller hands them back). */
  drain(): Job[] {
    const out = this.lanes.drainWaiting();
    this.heldCount = 0;
    return out;
  }

  /** Gives back the slots of jobs that are over; cheap when none is held. Call it when a job ends. */
  sweep(): void {
    this.leases.sweep();
  }

  /** Stops the timers, gives every slot back and drops this worker's report; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ticker !== null) clearTimeout(this.ticker);
    this.drain();
    const held = this.leases.takeAll();
    await Promise.allSettled([this.target.release(held), this.target.report(this.o.ownerId, null)]);
    await this.target.close();
  }

  /** Moves `job` through its remaining stages; true when it passed them all now. */
  private advance(job: Job): boolean {
    const stages = this.stages.of(job);
    if (stages.length === 0) return true;
    const before = this.passed.get(job);
    let now: string[] | null = null;
    for (const stage of stages) {
      if (before?.has(stage.name)) continue;
      const lane = stage.lane ?? this.lanes.obtain(stage.kind, stage.limit, keyValueOf(job, stage.limit));
      if (lane.kind === 'rate' && lane.waiting.length === 0 && takeStashedToken(lane)) {
        if (now === null) now = [];
        now.push(stage.name);
        continue;
      }
      if (now !== null) for (const name of now) this.pass(job, name);
      this.wait(job, lane);
      return false;
    }
    if (before !== undefined) this.passed.delete(job);
    return true;
  }

  private pass(job: Job, name: string): void {
    const passed = this.passed.get(job);
    if (passed === undefined) this.passed.set(job, new Set([name]));
    else passed.add(name);
  }

  private wait(job: Job, lane: Lane): void {
    if (lane.throttled && (lane.waiting.length >= maxHeldIn(lane) || this.heldCount >= this.o.maxHeld())) {
      if (this.deferOut(job, lane)) return;
    }
    lane.waiting.push(job);
    this.heldCount++;
    this.ask(lane, 0);
  }

  /** A lane whose limit binds keeps its bound: the jobs beyond it (the last ones) go to the delayed set. */
  private trim(lane: Lane): void {
    const keep = maxHeldIn(lane);
    while (lane.waiting.length > keep) {
      const job = lane.waiting[lane.waiting.length - 1] as Job;
      if (!this.deferOut(job, lane)) return;
      lane.waiting.pop();
      this.heldCount--;
    }
  }

  /** Sends `job` to the delayed set, spaced after the lane's others; false when there is none (it stays). */
  private deferOut(job: Job, lane: Lane): boolean {
    const dueMs = laneDueMs(lane);
    if (!this.o.defer(job, dueMs)) return false;
    this.passed.delete(job);
    this.deferredCount++;
    rememberDeferred(lane, job, dueMs);
    return true;
  }

  /** Asks the broker for this lane after `delayMs` (0: in this turn's batch), unless asking already. */
  private ask(lane: Lane, delayMs: number): void {
    if (lane.busy || this.closed) return;
    const at = performance.now() + delayMs;
    if (lane.timer !== null) {
      if (lane.timerAt <= at) return;
      clearTimeout(lane.timer);
    }
    lane.timerAt = at;
    lane.timer = setTimeout(() => {
      lane.timer = null;
      void this.request(lane);
    }, delayMs);
  }

  private async request(lane: Lane): Promise<void> {
    if (lane.busy || lane.waiting.length === 0 || this.closed) return;
    lane.busy = true;
    const limit = lane.limit;
    const want = Math.min(MAX_BATCH, lane.waiting.length);
    let retryMs = 0;
    try {
      if (lane.kind === 'rate') {
        const extra = lane.extra;
        const reply = await this.target.take(limit, lane.keyValue, want + extra);
        this.failures = 0;
        retryMs = this.tookTokens(lane, want, extra, reply);
      } else {
        const jobs = lane.waiting.slice(0, Math.min(want, limit.concurrency as number));
        const members = jobs.map((j) => fleetSlotMember(this.o.ownerId, j.message.id, j.delivery.deliveryTag));
        const reply = await this.target.acquire(limit, lane.keyValue, members);
        this.failures = 0;
        retryMs = this.gotSlots(lane, jobs, members, reply);
      }
    } catch (error) {
      if (this.failures === 0 || this.failures % 20 === 0) {
        this.o.logger.warn(
          {
            event: 'worker.fleet_limit_failed',
            operation: lane.kind,
            limit: limit.id,
            err: error,
            retry_in_ms: RETRY_MS,
          },
          `Could not ask the broker for fleet limit ${limit.id}; its tasks keep waiting`,
        );
      }
      this.failures++;
      retryMs = RETRY_MS;
    } finally {
      lane.busy = false;
    }
    if (lane.waiting.length > 0 && !this.closed) this.ask(lane, Math.max(retryMs, 0) || 0);
    // A per-key lane goes once idle (keys come and go); a lane for all jobs stays with its limit.
    else if (lane.keyValue !== null && lane.waiting.length === 0 && lane.timer === null) this.lanes.delete(lane.id);
  }

  /** A rate lane got `reply` to its ask for `want` tokens (plus `extra`): its jobs move on; returns when to ask again (ms). */
  private tookTokens(lane: Lane, want: number, extra: number, reply: FleetTakeReply): number {
    // Plenty left in the bucket: the next batch also takes tokens for the jobs that will follow.
    lane.extra = reply.tokensLeft >= want + extra ? Math.min(MAX_BATCH, Math.max(want, extra * 2)) : 0;
    lane.throttled = reply.granted < want;
    const spent = this.release(lane, reply.granted);
    if (lane.throttled) this.trim(lane);
    if (reply.granted > spent) stashTokens(lane, reply.granted - spent);
    if (lane.waiting.length === 0) return 0;
    return reply.granted > 0 && reply.waitMs === 0 ? 0 : clamp(reply.waitMs, MIN_WAIT_MS, MAX_WAIT_MS);
  }

  /** A slot lane got `reply` to its ask for slots for `jobs`: they hold them and move on; returns when to ask again (ms). */
  private gotSlots(lane: Lane, jobs: Job[], members: string[], reply: FleetAcquireReply): number {
    const limit = lane.limit;
    lane.throttled = reply.granted < members.length;
    const key = fleetSlotsKey(limit.id, lane.keyValue);
    for (let i = 0; i < reply.granted; i++) this.leases.hold(jobs[i] as Job, key, members[i] as string, limit, lane.id);
    this.release(lane, reply.granted, jobs);
    if (lane.throttled) this.trim(lane);
    // Renewals follow the shortest lease held: the next tick may have to come sooner.
    if (reply.granted > 0 && limit.leaseMs / 3 < TICK_MS && this.ticker !== null) {
      clearTimeout(this.ticker);
      this.scheduleTick();
    }
    if (lane.waiting.length === 0) return 0;
    return clamp(reply.waitMs || SLOT_POLL_MS, MIN_WAIT_MS, SLOT_POLL_MS);
  }

  /**
   * The first `granted` waiting jobs of the lane passed its stage (for a slot lane, `jobs` are
   * the ones asked for, which may have left the lane meanwhile); returns the number released.
   */
  private release(lane: Lane, granted: number, jobs?: Job[]): number {
    if (granted <= 0) return 0;
    const out = takeGranted(lane, granted, jobs);
    const name = `${lane.kind}:${lane.limit.id}`;
    let released = 0;
    let ready = 0;
    for (const job of out) {
      if (job.state !== 'held') continue;
      released++;
      this.heldCount--;
      this.pass(job, name);
      if (this.advance(job)) {
        this.o.onReady(job);
        ready++;
      }
    }
    if (ready > 0) this.o.pump();
    return released;
  }

  /** New limits: lanes follow them at once; jobs of a lifted limit move on. */
  private setLimits(limits: readonly FleetLimit[]): void {
    this.stages.set(limits);
    const moved: Job[] = [];
    const redue: DeferredJob[] = [];
    for (const lane of [...this.lanes.values()]) {
      const limit = this.stages.current(lane.limit);
      const keeps =
        limit !== undefined &&
        limit.key === lane.limit.key &&
        (lane.kind === 'rate' ? limit.ratePerSec !== null : limit.concurrency !== null);
      if (!keeps) {
        if (lane.timer !== null) clearTimeout(lane.timer);
        lane.timer = null;
        this.lanes.delete(lane.id);
        // A lifted limit: what this lane deferred is due now.
        const now = Date.now();
        for (const d of lane.deferred) if (d.dueMs > now) redue.push({ ...d, dueMs: now });
        moved.push(...lane.waiting);
        this.heldCount -= lane.waiting.length;
        lane.waiting = [];
        continue;
      }
      const changed = limit.ratePerSec !== lane.limit.ratePerSec || limit.concurrency !== lane.limit.concurrency;
      lane.limit = limit;
      if (changed) {
        lane.stash = 0;
        lane.extra = 0;
        lane.lastDueMs = 0;
        redue.push(...respaceLane(lane));
        if (lane.waiting.length > 0) this.ask(lane, 0);
      }
    }
    if (redue.length > 0) this.o.redefer(redue);
    let ready = 0;
    for (const job of moved) {
      if (job.state === 'held' && this.advance(job)) {
        this.o.onReady(job);
        ready++;
      }
    }
    if (ready > 0) this.o.pump();
  }

  private scheduleTick(): void {
    if (this.closed) return;
    const delayMs = Math.min(TICK_MS, this.leases.shortestLeaseMs() / 3);
    this.ticker = setTimeout(
      () => {
        this.tick();
        this.scheduleTick();
      },
      Math.max(50, delayMs),
    );
    this.ticker.unref();
  }

  private tick(): void {
    const now = Date.now();
    if (this.document.pollDue(now)) {
      void this.document.reload();
      this.lanes.dropIdle(now);
    }
    this.leases.renewIfDue(now);
    this.reporter.reportIfDue(now, this.lanes.values(), this.leases.held());
  }
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

/** The value of a per-key limit's argument in a job: a kwarg, a named param's position, or an index. */
export function keyValueOf(job: Job, limit: FleetLimit): string | null {
  const key = limit.key;
  if (key === null) return null;
  const { args, kwargs } = job.message;
  let value: unknown;
  if (Object.hasOwn(kwargs, key)) value = kwargs[key];
  else {
    const index = job.plan.params?.indexOf(key) ?? -1;
    if (index >= 0) value = args[index];
    else if (/^\d+$/.test(key)) value = args[Number(key)];
  }
  if (value === undefined) return MISSING_KEY;
  return typeof value === 'string' ? value : JSON.stringify(value);
}
