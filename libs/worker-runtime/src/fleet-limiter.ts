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
import type { Job } from './job-custody.js';

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

/** A job this worker moved to the delayed set, and when it is due. */
export interface DeferredJob {
  delivery: Job['delivery'];
  taskId: string;
  task: string;
  dueMs: number;
}

/** What the fleet limiter works with. */
export interface FleetLimiterOptions extends FleetHooks {
  target: FleetLimiterTarget;
  ownerId: string;
  logger: Logger;
  /** The limits of this worker's own settings and task options: in force while Redis has no document. */
  localLimits: readonly FleetLimit[];
  /** Most jobs waiting here at once, over every limit; more go to the delayed set. */
  maxHeld: number;
}

type StageKind = 'rate' | 'slot';

interface Stage {
  kind: StageKind;
  limit: FleetLimit;
  /** `rate:<limit id>` or `slot:<limit id>`. */
  name: string;
  /** The lane of a limit without a key (one for all jobs). */
  lane: Lane | null;
}

/** A slot held by a job, with what its renewal needs. */
interface HeldSlot extends FleetSlot {
  limitId: string;
  leaseMs: number;
  laneId: string;
  /** Date.now() when it was taken. */
  since: number;
}

interface Lane {
  id: string;
  kind: StageKind;
  limit: FleetLimit;
  keyValue: string | null;
  waiting: Job[];
  busy: boolean;
  timer: NodeJS.Timeout | null;
  /** When the pending timer fires (performance.now()). */
  timerAt: number;
  /** Tokens taken from the fleet bucket and not spent yet (a rate lane under light load). */
  stash: number;
  stashUntil: number;
  /** Ask for this many extra tokens with the next batch (the bucket had plenty last time). */
  extra: number;
  /** Due time given to the last job of this lane sent to the delayed set. */
  lastDueMs: number;
  /** What this lane sent to the delayed set and is not due yet (as far as it knows): respaced when its limit changes. */
  deferred: DeferredJob[];
  /**
   * The limit binds: the last answer gave fewer than asked for. Only then do its waiting jobs
   * leave the prefetch count (so other tasks keep flowing) and the surplus go to the delayed set;
   * under a limit not reached they count as any held job, and nothing is deferred.
   */
  throttled: boolean;
  /** A slot lane: how long its jobs held their slots, on average (ms; 0 before the first). */
  avgHoldMs: number;
}

/** Longest batch of tokens or slots asked for in one call. */
const MAX_BATCH = 500;
/** Unspent tokens of a batch are dropped after this (they were counted by the fleet bucket already). */
const STASH_MS = 250;
/** How long a lane waiting for a slot waits before asking again (slots free up elsewhere). */
const SLOT_POLL_MS = 100;
/** Shortest and longest timer between two asks of a rate lane. */
const MIN_WAIT_MS = 2;
const MAX_WAIT_MS = 1_000;
/** Retry after a failed call; jobs keep waiting (a limit is never passed without the broker). */
const RETRY_MS = 500;
/** A rate lane holds about this much of its rate in memory; the rest goes to the delayed set. */
const HOLD_SEC = 2;
/** Most held per lane, whatever the rate. */
const MAX_HELD_PER_LANE = 200;
/** Deferred jobs a lane remembers for respacing at most; older ones keep the due times they got. */
const MAX_REMEMBERED_PER_LANE = 20_000;
/** The upkeep tick (waiting reports, slot renewals, the document poll): each second, or a third of the shortest lease held. */
const TICK_MS = 1_000;
const REPORT_MS = 1_000;
/** The document is re-read this often besides the announcements (a missed message). */
const POLL_DOCUMENT_MS = 5_000;
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
  private byTask = new Map<string, FleetLimit>();
  private byQueue = new Map<string, FleetLimit>();
  private readonly lanes = new Map<string, Lane>();
  /** Stages per queue, then task name (rebuilt when the limits change). */
  private stageCache = new Map<string, Map<string, Stage[]>>();
  /** Stages each waiting job passed already (`rate:<limit id>`, `slot:<limit id>`). */
  private readonly passed = new WeakMap<Job, Set<string>>();
  /** Slots held by jobs that passed (released once the job is over). */
  private readonly slots = new Map<Job, HeldSlot[]>();
  private releasing: HeldSlot[] = [];
  private heldCount = 0;
  private ticker: NodeJS.Timeout | null = null;
  private lastReport = 0;
  private lastReportEmpty = true;
  private lastRenew = 0;
  private lastPoll = 0;
  private reloading: Promise<void> | null = null;
  private reloadAgain = false;
  private documentKey = '';
  private closed = false;
  private failures = 0;
  private deferredCount = 0;

  constructor(options: FleetLimiterOptions) {
    this.o = options;
    this.target = options.target;
    this.setLimits(options.localLimits);
  }

  /** Jobs waiting here for a fleet limit. */
  get size(): number {
    return this.heldCount;
  }

  /** Jobs waiting for a limit that binds: held, but not counted against the prefetch limit. */
  get parked(): number {
    let n = 0;
    for (const lane of this.lanes.values()) if (lane.throttled) n += lane.waiting.length;
    return n;
  }

  /** Jobs sent to the delayed set while waiting for a fleet limit. */
  get deferred(): number {
    return this.deferredCount;
  }

  /** The limits in force, by id. */
  limits(): FleetLimit[] {
    return [...this.byTask.values(), ...this.byQueue.values()];
  }

  /** Connects, subscribes to announcements and reads the document in force. */
  async start(): Promise<void> {
    await this.target.start();
    await this.target.watch(() => this.reload());
    await this.reload();
    this.scheduleTick();
  }

  /** True when `job` may run now (no fleet limit applies, or all were passed); else it waits here. */
  admit(job: Job): boolean {
    if (this.byTask.size === 0 && this.byQueue.size === 0) return true;
    return this.advance(job);
  }

  /** The waiting jobs (for `inspect reserved`). */
  items(): Job[] {
    const out: Job[] = [];
    for (const lane of this.lanes.values()) out.push(...lane.waiting);
    return out;
  }

  /** Takes out the waiting jobs `match` selects (revoked ones) and returns them. */
  remove(match: (job: Job) => boolean): Job[] {
    const out: Job[] = [];
    for (const lane of this.lanes.values()) {
      const keep: Job[] = [];
      for (const job of lane.waiting) (match(job) ? out : keep).push(job);
      lane.waiting = keep;
    }
    this.heldCount -= out.length;
    return out;
  }

  /** Shutdown: every waiting job, taken out (the caller hands them back). */
  drain(): Job[] {
    const out = this.items();
    for (const lane of this.lanes.values()) {
      lane.waiting = [];
      if (lane.timer !== null) clearTimeout(lane.timer);
      lane.timer = null;
    }
    this.heldCount = 0;
    return out;
  }

  /** Gives back the slots of jobs that are over; cheap when none is held. Call it when a job ends. */
  sweep(): void {
    if (this.slots.size === 0) return;
    let freed = false;
    const now = Date.now();
    for (const [job, held] of this.slots) {
      if (job.state === 'held' || job.state === 'running' || job.state === 'running_acked') continue;
      this.slots.delete(job);
      this.releasing.push(...held);
      freed = true;
      for (const slot of held) {
        const lane = this.lanes.get(slot.laneId);
        if (lane === undefined) continue;
        const ms = now - slot.since;
        lane.avgHoldMs = lane.avgHoldMs === 0 ? ms : lane.avgHoldMs * 0.8 + ms * 0.2;
      }
    }
    if (!freed) return;
    const batch = this.releasing;
    this.releasing = [];
    this.target.release(batch).then(
      () => {
        // A slot freed here: lanes of this worker waiting for one ask again at once.
        for (const lane of this.lanes.values()) if (lane.kind === 'slot' && lane.waiting.length > 0) this.ask(lane, 0);
      },
      (error: unknown) => {
        // Not retried: the lease expires on its own (the slot is back within it).
        this.o.logger.warn(
          { event: 'worker.fleet_limit_failed', operation: 'release', slots: batch.length, err: error },
          'Could not give fleet concurrency slots back; they return when their leases expire',
        );
      },
    );
  }

  /** Stops the timers, gives every slot back and drops this worker's report; idempotent. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.ticker !== null) clearTimeout(this.ticker);
    this.drain();
    const held = [...this.slots.values()].flat().concat(this.releasing);
    this.slots.clear();
    await Promise.allSettled([this.target.release(held), this.target.report(this.o.ownerId, null)]);
    await this.target.close();
  }

  private stagesOf(job: Job): Stage[] {
    const queue = job.delivery.queue;
    const task = job.message.task;
    let byTask = this.stageCache.get(queue);
    if (byTask === undefined) {
      byTask = new Map();
      this.stageCache.set(queue, byTask);
    }
    let stages = byTask.get(task);
    if (stages === undefined) {
      stages = [];
      const q = this.byQueue.get(queue);
      const t = this.byTask.get(task);
      if (q?.ratePerSec != null) stages.push(this.stage('rate', q));
      if (t?.ratePerSec != null) stages.push(this.stage('rate', t));
      if (t?.concurrency != null) stages.push(this.stage('slot', t));
      if (q?.concurrency != null) stages.push(this.stage('slot', q));
      byTask.set(task, stages);
    }
    return stages;
  }

  private stage(kind: StageKind, limit: FleetLimit): Stage {
    const stage: Stage = { kind, limit, name: `${kind}:${limit.id}`, lane: null };
    if (limit.key === null) stage.lane = this.lane(stage, null);
    return stage;
  }

  /** Moves `job` through its remaining stages; true when it passed them all now. */
  private advance(job: Job): boolean {
    const stages = this.stagesOf(job);
    if (stages.length === 0) return true;
    const before = this.passed.get(job);
    let now: string[] | null = null;
    for (const stage of stages) {
      if (before?.has(stage.name)) continue;
      const lane = stage.lane ?? this.lane(stage, keyValueOf(job, stage.limit));
      if (lane.kind === 'rate' && lane.waiting.length === 0 && this.takeStash(lane)) {
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
    let passed = this.passed.get(job);
    if (passed === undefined) {
      passed = new Set();
      this.passed.set(job, passed);
    }
    passed.add(name);
  }

  private lane(stage: Stage, keyValue: string | null): Lane {
    const id = `${stage.kind}:${stage.limit.id}\u0000${keyValue ?? ''}`;
    let lane = this.lanes.get(id);
    if (lane === undefined) {
      lane = {
        id,
        kind: stage.kind,
        limit: stage.limit,
        keyValue,
        waiting: [],
        busy: false,
        timer: null,
        timerAt: 0,
        stash: 0,
        stashUntil: 0,
        extra: 0,
        lastDueMs: 0,
        deferred: [],
        throttled: false,
        avgHoldMs: 0,
      };
      this.lanes.set(id, lane);
    }
    return lane;
  }

  private takeStash(lane: Lane): boolean {
    if (lane.stash <= 0) return false;
    if (performance.now() > lane.stashUntil) {
      lane.stash = 0;
      return false;
    }
    lane.stash--;
    return true;
  }

  private maxHeldIn(lane: Lane): number {
    const limit = lane.limit;
    const n =
      lane.kind === 'rate' ? Math.ceil((limit.ratePerSec as number) * HOLD_SEC) : (limit.concurrency as number) * 2;
    return Math.max(1, Math.min(MAX_HELD_PER_LANE, n));
  }

  private wait(job: Job, lane: Lane): void {
    if (lane.throttled && (lane.waiting.length >= this.maxHeldIn(lane) || this.heldCount >= this.o.maxHeld)) {
      const dueMs = this.dueOf(lane);
      if (this.o.defer(job, dueMs)) {
        this.passed.delete(job);
        this.deferredCount++;
        this.remember(lane, job, dueMs);
        return;
      }
    }
    lane.waiting.push(job);
    this.heldCount++;
    this.ask(lane, 0);
  }

  /** A lane whose limit binds keeps its bound: the jobs beyond it (the last ones) go to the delayed set. */
  private trim(lane: Lane): void {
    const keep = this.maxHeldIn(lane);
    while (lane.waiting.length > keep) {
      const job = lane.waiting[lane.waiting.length - 1] as Job;
      const dueMs = this.dueOf(lane);
      if (!this.o.defer(job, dueMs)) return;
      lane.waiting.pop();
      this.heldCount--;
      this.passed.delete(job);
      this.deferredCount++;
      this.remember(lane, job, dueMs);
    }
  }

  private remember(lane: Lane, job: Job, dueMs: number): void {
    if (lane.deferred.length >= MAX_REMEMBERED_PER_LANE) {
      const now = Date.now();
      lane.deferred = lane.deferred.filter((d) => d.dueMs > now);
      if (lane.deferred.length >= MAX_REMEMBERED_PER_LANE) lane.deferred.shift();
    }
    lane.deferred.push({ delivery: job.delivery, taskId: job.message.id, task: job.message.task, dueMs });
  }

  /**
   * Deferred jobs not due yet get due times at the lane's new limit, in their order (they were
   * spaced for the old one: a raised rate would otherwise reach them only as they come back).
   */
  private respace(lane: Lane): DeferredJob[] {
    const now = Date.now();
    const pending = lane.deferred.filter((d) => d.dueMs > now).sort((a, b) => a.dueMs - b.dueMs);
    lane.deferred = pending.map((d) => ({ ...d, dueMs: this.dueOf(lane) }));
    return lane.deferred;
  }

  /** When a job sent to the delayed set should come back: after the ones ahead of it, spaced by the rate. */
  private dueOf(lane: Lane): number {
    const now = Date.now();
    // A slot lane runs about concurrency / (time a slot is held) a second, fleet-wide.
    const perSec =
      lane.kind === 'rate'
        ? (lane.limit.ratePerSec as number)
        : (lane.limit.concurrency as number) / (Math.max(50, lane.avgHoldMs || 1_000) / 1000);
    const spacingMs = 1000 / perSec;
    lane.lastDueMs = Math.max(lane.lastDueMs + spacingMs, now + (lane.waiting.length + 1) * spacingMs);
    return Math.ceil(lane.lastDueMs);
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
        // Plenty left in the bucket: the next batch also takes tokens for the jobs that will follow.
        lane.extra = reply.tokensLeft >= want + extra ? Math.min(MAX_BATCH, Math.max(want, extra * 2)) : 0;
        lane.throttled = reply.granted < want;
        const spent = this.release(lane, reply.granted);
        if (lane.throttled) this.trim(lane);
        if (reply.granted > spent) {
          lane.stash = reply.granted - spent;
          lane.stashUntil = performance.now() + STASH_MS;
        }
        if (lane.waiting.length > 0) {
          retryMs = reply.granted > 0 && reply.waitMs === 0 ? 0 : clamp(reply.waitMs, MIN_WAIT_MS, MAX_WAIT_MS);
        }
      } else {
        const jobs = lane.waiting.slice(0, Math.min(want, limit.concurrency as number));
        const members = jobs.map((j) => fleetSlotMember(this.o.ownerId, j.message.id, j.delivery.deliveryTag));
        const reply = await this.target.acquire(limit, lane.keyValue, members);
        this.failures = 0;
        lane.throttled = reply.granted < members.length;
        const key = fleetSlotsKey(limit.id, lane.keyValue);
        for (let i = 0; i < reply.granted; i++) {
          const job = jobs[i] as Job;
          const held = this.slots.get(job) ?? [];
          held.push({
            key,
            member: members[i] as string,
            limitId: limit.id,
            leaseMs: limit.leaseMs,
            laneId: lane.id,
            since: Date.now(),
          });
          this.slots.set(job, held);
        }
        this.release(lane, reply.granted, jobs);
        if (lane.throttled) this.trim(lane);
        // Renewals follow the shortest lease held: the next tick may have to come sooner.
        if (reply.granted > 0 && limit.leaseMs / 3 < TICK_MS && this.ticker !== null) {
          clearTimeout(this.ticker);
          this.scheduleTick();
        }
        if (lane.waiting.length > 0) retryMs = clamp(reply.waitMs || SLOT_POLL_MS, MIN_WAIT_MS, SLOT_POLL_MS);
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

  /**
   * The first `granted` waiting jobs of the lane passed its stage (for a slot lane, `jobs` are
   * the ones asked for, which may have left the lane meanwhile); returns the number released.
   */
  private release(lane: Lane, granted: number, jobs?: Job[]): number {
    if (granted <= 0) return 0;
    const out = jobs === undefined ? lane.waiting.splice(0, granted) : jobs.slice(0, granted);
    if (jobs !== undefined) {
      const taken = new Set(out);
      lane.waiting = lane.waiting.filter((j) => !taken.has(j));
    }
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

  /** Re-reads the document (an announcement, a reconnect or the poll), one read at a time. */
  private reload(): Promise<void> {
    if (this.closed) return Promise.resolve();
    if (this.reloading !== null) {
      this.reloadAgain = true;
      return this.reloading;
    }
    this.lastPoll = Date.now();
    this.reloading = this.target
      .readDocument()
      .then(
        (doc) => this.apply(doc),
        (error: unknown) => {
          this.o.logger.warn(
            { event: 'worker.fleet_limit_failed', operation: 'read', err: error },
            'Could not read the fleet limit document; the limits in force stay',
          );
        },
      )
      .finally(() => {
        this.reloading = null;
        if (this.reloadAgain) {
          this.reloadAgain = false;
          void this.reload();
        }
      });
    return this.reloading;
  }

  private apply(doc: FleetLimitDocument | null): void {
    const limits = doc === null ? this.o.localLimits : doc.limits;
    const key = JSON.stringify(limits);
    if (key === this.documentKey) return;
    const first = this.documentKey === '';
    this.documentKey = key;
    this.setLimits(limits);
    this.o.logger.info(
      {
        event: 'worker.fleet_limits_loaded',
        source: doc === null ? 'settings' : doc.source,
        revision: doc?.revision ?? null,
        limits: limits.map((l) => describeLimit(l)),
      },
      `${first ? 'Fleet limits in force' : 'Fleet limits changed'}: ${limits.length === 0 ? 'none' : limits.map((l) => describeLimit(l)).join(', ')}`,
    );
  }

  /** New limits: lanes follow them at once; jobs of a lifted limit move on. */
  private setLimits(limits: readonly FleetLimit[]): void {
    this.byTask = new Map(limits.filter((l) => l.scope === 'task').map((l) => [l.target, l]));
    this.byQueue = new Map(limits.filter((l) => l.scope === 'queue').map((l) => [l.target, l]));
    this.stageCache = new Map();
    const moved: Job[] = [];
    const redue: DeferredJob[] = [];
    for (const lane of [...this.lanes.values()]) {
      const limit = (lane.limit.scope === 'task' ? this.byTask : this.byQueue).get(lane.limit.target);
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
        redue.push(...this.respace(lane));
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
    let delayMs = TICK_MS;
    for (const held of this.slots.values()) for (const slot of held) delayMs = Math.min(delayMs, slot.leaseMs / 3);
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
    if (now - this.lastPoll >= POLL_DOCUMENT_MS) {
      void this.reload();
      this.dropIdleLanes(now);
    }
    if (this.slots.size > 0) {
      let minLease = Number.POSITIVE_INFINITY;
      for (const held of this.slots.values()) for (const s of held) minLease = Math.min(minLease, s.leaseMs);
      if (now - this.lastRenew >= minLease / 4) {
        this.lastRenew = now;
        this.renew();
      }
    }
    if (now - this.lastReport >= REPORT_MS) {
      this.lastReport = now;
      const report = this.report();
      const empty = Object.keys(report).length === 0;
      if (!(empty && this.lastReportEmpty)) {
        this.lastReportEmpty = empty;
        this.target.report(this.o.ownerId, empty ? null : report).catch(() => undefined);
      }
    }
  }

  /** Per-key lanes with nothing waiting and no deferral spacing left go (keys come and go). */
  private dropIdleLanes(now: number): void {
    for (const lane of this.lanes.values()) {
      if (lane.keyValue === null || lane.waiting.length > 0 || lane.busy || lane.timer !== null) continue;
      if (lane.lastDueMs > now) continue;
      this.lanes.delete(lane.id);
    }
  }

  private renew(): void {
    const byLease = new Map<number, HeldSlot[]>();
    for (const held of this.slots.values()) {
      for (const slot of held) {
        byLease.set(slot.leaseMs, [...(byLease.get(slot.leaseMs) ?? []), slot]);
      }
    }
    for (const [lease, slots] of byLease) {
      this.target.renew(lease, slots).catch((error: unknown) => {
        this.o.logger.warn(
          { event: 'worker.fleet_limit_failed', operation: 'renew', slots: slots.length, err: error },
          'Could not renew fleet concurrency leases; retrying at the next renewal',
        );
      });
    }
  }

  private report(): FleetWaitingReport {
    const out: FleetWaitingReport = {};
    for (const lane of this.lanes.values()) {
      if (lane.waiting.length === 0) continue;
      entryOf(out, lane.limit.id).waiting += lane.waiting.length;
    }
    for (const held of this.slots.values()) {
      for (const slot of held) {
        entryOf(out, slot.limitId).running++;
      }
    }
    return out;
  }
}

function entryOf(report: FleetWaitingReport, limitId: string): { waiting: number; running: number } {
  let entry = report[limitId];
  if (entry === undefined) {
    entry = { waiting: 0, running: 0 };
    report[limitId] = entry;
  }
  return entry;
}

function clamp(value: number, min: number, max: number): number {
  return Math.min(max, Math.max(min, value));
}

/** `task:tasks.add 20/s ×2 per tenant_id`. */
function describeLimit(limit: FleetLimit): string {
  const parts = [limit.id];
  if (limit.rate !== null) parts.push(String(limit.rate));
  if (limit.concurrency !== null) parts.push(`concurrency ${limit.concurrency}`);
  if (limit.key !== null) parts.push(`per ${limit.key}`);
  return parts.join(' ');
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
