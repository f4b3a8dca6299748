import type { ProgramState, ProgramStatus } from '@celeriac/config-schema';

/** The program health summary sent to the center (`programHealthSchema`). */
export type ProgramHealth = NonNullable<ProgramStatus['health']>;

/**
 * Upper bounds (s) of the shared histogram buckets: the same as worker-runtime's
 * `HEALTH_BUCKETS_S` (health-windows.test.ts holds them equal); a health file with other bounds
 * is refused, so that buckets always add.
 */
export const HEALTH_BUCKETS_S = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300,
] as const;

/** Outcome counters, in slot order. */
export const OUTCOMES = ['received', 'succeeded', 'failed', 'retried', 'rejected', 'revoked'] as const;
type Outcome = (typeof OUTCOMES)[number];

const BUCKETS = HEALTH_BUCKETS_S.length + 1;
const RUNTIME = OUTCOMES.length;
const RUNTIME_SUM = RUNTIME + BUCKETS;
const WAIT = RUNTIME_SUM + 1;
const WAIT_SUM = WAIT + BUCKETS;
const SLOTS = WAIT_SUM + 1;
const RESTART_HORIZON_MS = 5 * 60_000;
/** Crash restarts within 5 minutes that make a crash loop. */
export const CRASH_LOOP_RESTARTS = 3;
/** Most task names listed per program in a summary (the busiest). */
export const MAX_SUMMARY_TASKS = 50;
/** A process first seen younger than this is counted from zero; an older one (agent restart) is a baseline. */
const COUNT_FROM_ZERO_MS = 60_000;

/** Cumulative figures of one task name from one process (a health file entry or `inspect stats`). */
export interface CumulativeTask {
  received?: number;
  succeeded?: number;
  failed?: number;
  retried?: number;
  rejected?: number;
  revoked?: number;
  runtime?: { counts: number[]; sum_s: number };
  queue_wait?: { counts: number[]; sum_s: number };
}

/** One process's report as the collector read it. */
export interface ProcessReport {
  program: string;
  /** Identity of the process: a new key means a new process (counters from zero). */
  key: string;
  source: 'health_file' | 'task_events' | 'inspect_stats';
  /** How long the process has been running, ms. */
  ageMs: number;
  tasks: Record<string, CumulativeTask>;
  rssBytes?: number;
  loopLagP99Ms?: number;
}

/** A task's cumulative totals on this agent (every process of the program, across restarts). */
export interface TaskTotals {
  counts: Record<Outcome, number>;
  runtime: { counts: number[]; sum_s: number };
  queueWait: { counts: number[]; sum_s: number };
}

function toSlots(t: CumulativeTask): Float64Array {
  const s = new Float64Array(SLOTS);
  for (let i = 0; i < OUTCOMES.length; i++) s[i] = t[OUTCOMES[i] as Outcome] ?? 0;
  if (t.runtime && t.runtime.counts.length === BUCKETS) {
    s.set(t.runtime.counts, RUNTIME);
    s[RUNTIME_SUM] = t.runtime.sum_s;
  }
  if (t.queue_wait && t.queue_wait.counts.length === BUCKETS) {
    s.set(t.queue_wait.counts, WAIT);
    s[WAIT_SUM] = t.queue_wait.sum_s;
  }
  return s;
}

/** Upper-bound-interpolated quantile of bucket counts (Prometheus' histogram_quantile); null when empty. */
export function quantile(counts: ArrayLike<number>, q: number): number | null {
  let total = 0;
  for (let i = 0; i < counts.length; i++) total += counts[i] as number;
  if (total === 0) return null;
  const rank = q * total;
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    const n = counts[i] as number;
    if (n > 0 && seen + n >= rank) {
      const upper = HEALTH_BUCKETS_S[i];
      if (upper === undefined) return HEALTH_BUCKETS_S[HEALTH_BUCKETS_S.length - 1] as number;
      const lower = i === 0 ? 0 : (HEALTH_BUCKETS_S[i - 1] as number);
      return lower + ((upper - lower) * (rank - seen)) / n;
    }
    seen += n;
  }
  return HEALTH_BUCKETS_S[HEALTH_BUCKETS_S.length - 1] as number;
}

interface Ring {
  /** Bucket number (time / bucketMs) each slot holds. */
  ids: Float64Array;
  slots: Float64Array[];
}

interface ProgramWindow {
  tasks: Map<string, { ring: Ring; total: Float64Array }>;
  restarts: { at: number; restarts: number }[];
  state: ProgramState | undefined;
  source: ProgramHealth['source'];
  vitals: Map<string, { rss?: number; lag?: number; at: number }>;
}

/**
 * Short windows of task health per program and task name: 10 s buckets over the last 5 minutes
 * (a ring per task), filled with the differences between successive cumulative reports of each
 * process, plus totals since the agent started (the Prometheus counters and histograms).
 */
export class HealthWindows {
  private readonly programs = new Map<string, ProgramWindow>();
  /** Last cumulative slots per process key and task. */
  private readonly last = new Map<string, { program: string; seenAt: number; tasks: Map<string, Float64Array> }>();
  readonly bucketMs: number;
  readonly buckets: number;

  constructor(o: { bucketMs?: number; buckets?: number } = {}) {
    this.bucketMs = o.bucketMs ?? 10_000;
    this.buckets = o.buckets ?? 30;
  }

  private program(name: string): ProgramWindow {
    let p = this.programs.get(name);
    if (!p) {
      p = { tasks: new Map(), restarts: [], state: undefined, source: 'none', vitals: new Map() };
      this.programs.set(name, p);
    }
    return p;
  }

  /** Adds what a process did since its previous report. */
  observe(r: ProcessReport, now = Date.now()): void {
    const p = this.program(r.program);
    p.source = r.source;
    p.vitals.set(r.key, { rss: r.rssBytes, lag: r.loopLagP99Ms, at: now });
    let prev = this.last.get(r.key);
    const fresh = prev === undefined;
    if (!prev) {
      prev = { program: r.program, seenAt: now, tasks: new Map() };
      this.last.set(r.key, prev);
    }
    prev.seenAt = now;
    for (const [name, t] of Object.entries(r.tasks)) {
      const cur = toSlots(t);
      const before = prev.tasks.get(name);
      prev.tasks.set(name, cur);
      if (!before && fresh && r.ageMs > COUNT_FROM_ZERO_MS) continue;
      const delta = new Float64Array(SLOTS);
      let any = false;
      for (let i = 0; i < SLOTS; i++) {
        const d = (cur[i] as number) - (before ? (before[i] as number) : 0);
        // A counter that went down is a new process under the same key: count it from zero.
        delta[i] = d >= 0 ? d : (cur[i] as number);
        if (delta[i] !== 0) any = true;
      }
      if (any) this.add(p, name, delta, now);
    }
  }

  private add(p: ProgramWindow, task: string, delta: Float64Array, now: number): void {
    let entry = p.tasks.get(task);
    if (!entry) {
      entry = {
        ring: { ids: new Float64Array(this.buckets).fill(-1), slots: [] },
        total: new Float64Array(SLOTS),
      };
      for (let i = 0; i < this.buckets; i++) entry.ring.slots.push(new Float64Array(SLOTS));
      p.tasks.set(task, entry);
    }
    const id = Math.floor(now / this.bucketMs);
    const at = id % this.buckets;
    const slot = entry.ring.slots[at] as Float64Array;
    if (entry.ring.ids[at] !== id) {
      slot.fill(0);
      entry.ring.ids[at] = id;
    }
    for (let i = 0; i < SLOTS; i++) {
      slot[i] = (slot[i] as number) + (delta[i] as number);
      entry.total[i] = (entry.total[i] as number) + (delta[i] as number);
    }
  }

  /** Forgets processes not reported for two windows (they exited); their totals stay. */
  prune(now = Date.now()): void {
    const horizon = this.bucketMs * this.buckets;
    for (const [key, v] of this.last) {
      if (now - v.seenAt > horizon) this.last.delete(key);
    }
    for (const p of this.programs.values()) {
      for (const [key, v] of p.vitals) if (now - v.at > 3 * this.bucketMs) p.vitals.delete(key);
    }
  }

  /** Records a program's state and crash-restart count as its status shows them. */
  observeStatus(program: string, state: ProgramState, restarts: number, now = Date.now()): void {
    const p = this.program(program);
    p.state = state;
    const lastSample = p.restarts[p.restarts.length - 1];
    if (!lastSample || lastSample.restarts !== restarts) p.restarts.push({ at: now, restarts });
    while (p.restarts.length > 1 && now - (p.restarts[1] as { at: number }).at > RESTART_HORIZON_MS) p.restarts.shift();
  }

  /** Programs with any health data or status. */
  programNames(): string[] {
    return [...this.programs.keys()];
  }

  /** Drops a program no longer configured. */
  forget(program: string): void {
    this.programs.delete(program);
    for (const [key, v] of this.last) if (v.program === program) this.last.delete(key);
  }

  /** Totals per task since the agent started (cumulative, for Prometheus). */
  totals(program: string): Map<string, TaskTotals> {
    const out = new Map<string, TaskTotals>();
    for (const [task, e] of this.programs.get(program)?.tasks ?? []) out.set(task, fromSlots(e.total));
    return out;
  }

  /** Vitals of the program's live processes, by process key. */
  vitals(program: string): Map<string, { rss?: number; lag?: number }> {
    return new Map(this.programs.get(program)?.vitals ?? []);
  }

  /** The health summary over the last `windowMs` (default 60 s, whole buckets, the current one included). */
  summary(program: string, windowMs = 60_000, now = Date.now()): ProgramHealth {
    const p = this.program(program);
    const n = Math.max(1, Math.min(this.buckets, Math.ceil(windowMs / this.bucketMs)));
    const current = Math.floor(now / this.bucketMs);
    const sum = new Float64Array(SLOTS);
    const perTask: [string, Float64Array][] = [];
    for (const [task, e] of p.tasks) {
      const t = new Float64Array(SLOTS);
      for (let k = 0; k < this.buckets; k++) {
        const id = e.ring.ids[k] as number;
        if (id < 0 || id > current || id <= current - n) continue;
        const slot = e.ring.slots[k] as Float64Array;
        for (let i = 0; i < SLOTS; i++) t[i] = (t[i] as number) + (slot[i] as number);
      }
      for (let i = 0; i < SLOTS; i++) sum[i] = (sum[i] as number) + (t[i] as number);
      perTask.push([task, t]);
    }
    const windowS = (n * this.bucketMs) / 1000;
    const counts = countsOf(sum);
    const ended = counts.succeeded + counts.failed;
    const first = p.restarts[0];
    const lastR = p.restarts[p.restarts.length - 1];
    const restarts5m = first && lastR ? lastR.restarts - first.restarts : 0;
    let rss = 0;
    let lag: number | undefined;
    let anyRss = false;
    for (const v of p.vitals.values()) {
      if (v.rss !== undefined) {
        rss += v.rss;
        anyRss = true;
      }
      if (v.lag !== undefined) lag = Math.max(lag ?? 0, v.lag);
    }
    perTask.sort((a, b) => (b[1][0] as number) - (a[1][0] as number));
    const tasks: NonNullable<ProgramHealth['tasks']> = {};
    for (const [task, t] of perTask.slice(0, MAX_SUMMARY_TASKS)) {
      tasks[task] = {
        ...countsOf(t),
        runtime_p95_s: round(quantile(t.subarray(RUNTIME, RUNTIME + BUCKETS), 0.95)),
        queue_wait_p95_s: round(quantile(t.subarray(WAIT, WAIT + BUCKETS), 0.95)),
      };
    }
    const rates = Object.fromEntries(OUTCOMES.map((o) => [o, Math.round((counts[o] / windowS) * 1000) / 1000]));
    return {
      source: p.source,
      window_s: windowS,
      counts,
      rates: rates as ProgramHealth['rates'],
      failure_ratio: ended === 0 ? null : Math.round((counts.failed / ended) * 10_000) / 10_000,
      runtime_p50_s: round(quantile(sum.subarray(RUNTIME, RUNTIME + BUCKETS), 0.5)),
      runtime_p95_s: round(quantile(sum.subarray(RUNTIME, RUNTIME + BUCKETS), 0.95)),
      queue_wait_p50_s: round(quantile(sum.subarray(WAIT, WAIT + BUCKETS), 0.5)),
      queue_wait_p95_s: round(quantile(sum.subarray(WAIT, WAIT + BUCKETS), 0.95)),
      restarts_5m: Math.max(0, restarts5m),
      crash_loop: p.state === 'backoff' || p.state === 'fatal' || restarts5m >= CRASH_LOOP_RESTARTS,
      ...(anyRss ? { rss_bytes: Math.round(rss) } : {}),
      ...(lag !== undefined ? { loop_lag_p99_ms: lag } : {}),
      ...(perTask.length > 0 ? { tasks } : {}),
    };
  }
}

function countsOf(s: Float64Array): Record<Outcome, number> {
  return Object.fromEntries(OUTCOMES.map((o, i) => [o, Math.round(s[i] as number)])) as Record<Outcome, number>;
}

function fromSlots(s: Float64Array): TaskTotals {
  return {
    counts: countsOf(s),
    runtime: { counts: Array.from(s.subarray(RUNTIME, RUNTIME + BUCKETS)), sum_s: s[RUNTIME_SUM] as number },
    queueWait: { counts: Array.from(s.subarray(WAIT, WAIT + BUCKETS)), sum_s: s[WAIT_SUM] as number },
  };
}

function round(v: number | null): number | null {
  return v === null ? null : Math.round(v * 1e6) / 1e6;
}
