/**
 * Upper bounds (seconds) of the runtime and queue-wait histogram buckets, a fixed 1-2.5-5 log
 * scale shared by every worker and the agent, so that counts of different processes (and of
 * Python Celery's `runtime`) add bucket by bucket. A last, implicit bucket holds everything above.
 */
export const HEALTH_BUCKETS_S = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
] as const;

/** Counters kept per task name, in the order of their slots. */
export const HEALTH_COUNTERS = ['received', 'succeeded', 'failed', 'retried', 'rejected', 'revoked'] as const;
export type HealthCounter = (typeof HEALTH_COUNTERS)[number];

/** Name under which a message whose task name could not be read (a decode failure) is counted. */
export const UNKNOWN_TASK = '(unknown)';

const BUCKETS = HEALTH_BUCKETS_S.length + 1;
const BOUNDS_MS = Float64Array.from(HEALTH_BUCKETS_S, (s) => s * 1000);
// Slots of one task's Float64Array: counters, runtime buckets, runtime sum (s), wait buckets, wait sum (s).
const RECEIVED = 0;
const SUCCEEDED = 1;
const FAILED = 2;
const RETRIED = 3;
const REJECTED = 4;
const REVOKED = 5;
const RUNTIME = HEALTH_COUNTERS.length;
const RUNTIME_SUM = RUNTIME + BUCKETS;
const WAIT = RUNTIME_SUM + 1;
const WAIT_SUM = WAIT + BUCKETS;
const SLOTS = WAIT_SUM + 1;

/** One histogram as written to the health file: cumulative count per bucket (not per `le`) and the sum. */
export interface HealthHistogram {
  counts: number[];
  sum_s: number;
}

/** Cumulative figures of one task name since the process started. */
export interface TaskHealthCounts extends Record<HealthCounter, number> {
  runtime: HealthHistogram;
  queue_wait: HealthHistogram;
}

function bucketOf(ms: number): number {
  let i = 0;
  while (i < BOUNDS_MS.length && ms > (BOUNDS_MS[i] as number)) i++;
  return i;
}

/**
 * Per task name counters and histograms of one worker process. The hot path is a Map lookup and
 * a few increments in a preallocated Float64Array: a slot array is allocated once per task name,
 * never per task. Read by `task-health-file.ts`, which publishes a snapshot every second.
 */
export class TaskHealth {
  private readonly tasks = new Map<string, Float64Array>();

  private slots(name: string): Float64Array {
    let s = this.tasks.get(name);
    if (s === undefined) {
      s = new Float64Array(SLOTS);
      this.tasks.set(name, s);
    }
    return s;
  }

  /** A message became a job here (before it waits for its eta, rate limit or a slot). */
  received(name: string): void {
    const s = this.slots(name);
    s[RECEIVED] = (s[RECEIVED] as number) + 1;
  }

  /** The job starts running: its wait since it was received (or since its eta, when later). */
  started(name: string, receivedAtMs: number, etaMs: number): void {
    const waitMs = Date.now() - Math.max(etaMs, receivedAtMs);
    const s = this.slots(name);
    const b = WAIT + bucketOf(waitMs);
    s[b] = (s[b] as number) + 1;
    s[WAIT_SUM] = (s[WAIT_SUM] as number) + (waitMs > 0 ? waitMs / 1000 : 0);
  }

  /** The job ended SUCCESS; `startedAt` is its `performance.now()` start mark. */
  succeeded(name: string, startedAt: number): void {
    this.ended(name, SUCCEEDED, startedAt);
  }

  /** The job ended FAILURE (after retries were given up). */
  failed(name: string, startedAt: number): void {
    this.ended(name, FAILED, startedAt);
  }

  /** The job ended RETRY (a new message was published). */
  retried(name: string, startedAt: number): void {
    this.ended(name, RETRIED, startedAt);
  }

  /** The message was dead-lettered (undecodable, unknown task, bad options). */
  rejected(name: string | undefined): void {
    const s = this.slots(name ?? UNKNOWN_TASK);
    s[REJECTED] = (s[REJECTED] as number) + 1;
  }

  /** The job was revoked or expired (before or while running). */
  revoked(name: string): void {
    const s = this.slots(name);
    s[REVOKED] = (s[REVOKED] as number) + 1;
  }

  private ended(name: string, counter: number, startedAt: number): void {
    const s = this.slots(name);
    s[counter] = (s[counter] as number) + 1;
    if (startedAt <= 0) return;
    const ms = performance.now() - startedAt;
    const b = RUNTIME + bucketOf(ms);
    s[b] = (s[b] as number) + 1;
    s[RUNTIME_SUM] = (s[RUNTIME_SUM] as number) + ms / 1000;
  }

  /** Cumulative figures per task name (allocates; called once a second by the writer, not per task). */
  snapshot(): Record<string, TaskHealthCounts> {
    const out: Record<string, TaskHealthCounts> = {};
    for (const [name, s] of this.tasks) {
      out[name] = {
        received: s[RECEIVED] as number,
        succeeded: s[SUCCEEDED] as number,
        failed: s[FAILED] as number,
        retried: s[RETRIED] as number,
        rejected: s[REJECTED] as number,
        revoked: s[REVOKED] as number,
        runtime: { counts: Array.from(s.subarray(RUNTIME, RUNTIME + BUCKETS)), sum_s: s[RUNTIME_SUM] as number },
        queue_wait: { counts: Array.from(s.subarray(WAIT, WAIT + BUCKETS)), sum_s: s[WAIT_SUM] as number },
      };
    }
    return out;
  }

  /** Forgets everything (tests). */
  reset(): void {
    this.tasks.clear();
  }
}

/**
 * The process's task health: one per process (a `celeriac worker` runs one Worker), so the hooks
 * in the executor and the rejection path are one call each with nothing to thread through.
 */
export const taskHealth = new TaskHealth();
