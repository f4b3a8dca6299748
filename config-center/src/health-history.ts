import type { NodeStatus } from '@celeriac/config-schema';
import type { FleetPoint, HealthPoint } from './health-history-schema.js';

/** What one status report says of a node's task health, summed over its programs' health summaries. */
export interface HealthSample {
  /** Tasks ended (succeeded + failed) per second. */
  endedPerS: number;
  failedPerS: number;
  /** Worst runtime p95 among the programs; null when none measured one. */
  runtimeP95S: number | null;
}

/** The node's health in a status report; undefined when no program sent a health summary (older agents). Pure. */
export function healthSampleOf(status: Pick<NodeStatus, 'programs'>): HealthSample | undefined {
  let measured = false;
  let endedPerS = 0;
  let failedPerS = 0;
  let runtimeP95S: number | null = null;
  for (const program of Object.values(status.programs)) {
    const health = program.health;
    if (health === undefined) continue;
    measured = true;
    endedPerS += health.rates.succeeded + health.rates.failed;
    failedPerS += health.rates.failed;
    if (health.runtime_p95_s !== null) runtimeP95S = Math.max(runtimeP95S ?? 0, health.runtime_p95_s);
  }
  return measured ? { endedPerS, failedPerS, runtimeP95S } : undefined;
}

/** Float32 columns per point: ended/s, failed/s, runtime p95 (NaN: none). */
const COLUMNS = 3;
/** Bytes one point takes: a Uint32 second and the Float32 columns. */
export const BYTES_PER_POINT = 4 + 4 * COLUMNS;

/**
 * One node's last points in a fixed ring: receive times in whole seconds (Uint32) and the figures
 * (Float32) in one ArrayBuffer, so a node costs the same however often it reports.
 */
class NodeRing {
  readonly seconds: Uint32Array;
  readonly values: Float32Array;
  private oldest = 0;
  length = 0;

  constructor(readonly capacity: number) {
    const buffer = new ArrayBuffer(capacity * BYTES_PER_POINT);
    this.seconds = new Uint32Array(buffer, 0, capacity);
    this.values = new Float32Array(buffer, capacity * 4, capacity * COLUMNS);
  }

  slot(index: number): number {
    return (this.oldest + index) % this.capacity;
  }

  newestSecond(): number {
    return this.length === 0 ? 0 : (this.seconds[this.slot(this.length - 1)] as number);
  }

  /**
   * Appends a point, or replaces the newest one when it is in the same step (the latest report of a
   * step wins). A point older than the newest is stamped with the newest second (a clock stepping
   * back must not reorder the ring), or dropped with `dropOlder` (a point another replica received
   * earlier, arriving late).
   */
  push(second: number, stepS: number, sample: HealthSample, dropOlder = false): boolean {
    const newest = this.newestSecond();
    if (dropOlder && this.length > 0 && second < newest) return false;
    const at = Math.max(second, newest);
    let slot: number;
    if (this.length > 0 && Math.floor(newest / stepS) === Math.floor(at / stepS)) slot = this.slot(this.length - 1);
    else if (this.length < this.capacity) {
      slot = this.slot(this.length);
      this.length += 1;
    } else {
      slot = this.oldest;
      this.oldest = (this.oldest + 1) % this.capacity;
    }
    this.seconds[slot] = at;
    this.values[slot * COLUMNS] = sample.endedPerS;
    this.values[slot * COLUMNS + 1] = sample.failedPerS;
    this.values[slot * COLUMNS + 2] = sample.runtimeP95S ?? Number.NaN;
    return true;
  }
}

/** Options of a health history; the defaults keep one hour at one point per 10 s (360 points a node). */
export interface HealthHistoryOptions {
  /** At most one point per node per step; default 10 s. Whole seconds, at least 1. */
  stepS?: number;
  /** How far back points are kept; default 3600 s. */
  windowS?: number;
  /** Steps after its last point that a node still counts in the aggregate (a late report); default 2. */
  carrySteps?: number;
}

/** How long `sharedAggregate` reuses an aggregate. */
const AGGREGATE_REUSE_MS = 1000;

/** Six significant digits: Float32 noise (0.10000000149) never reaches the API. */
const tidy = (value: number): number => Number(value.toPrecision(6));

/**
 * The health summaries each node reported over the last hour, kept in a bounded ring per node
 * (window / step points: 360 × 16 bytes by default), and the fleet's aggregate computed from them
 * on demand: summed tasks/s, failure ratio pooled over every ended task, worst p95 (an upper bound,
 * as the rollout gates take it). In memory, per center replica; SharedHealthHistory
 * (shared-health-history.ts) shares the points of Redis-store replicas.
 */
export class HealthHistory {
  readonly stepS: number;
  readonly windowS: number;
  readonly carrySteps: number;
  private readonly capacity: number;
  private readonly rings = new Map<string, NodeRing>();
  private recordsSincePrune = 0;
  private readonly aggregates = new Map<string, { atMs: number; nodes: string[]; fleet: FleetPoint[] }>();

  constructor(options: HealthHistoryOptions = {}) {
    this.stepS = Math.max(1, Math.round(options.stepS ?? 10));
    this.windowS = Math.max(this.stepS, Math.round(options.windowS ?? 3600));
    this.carrySteps = Math.max(0, Math.round(options.carrySteps ?? 2));
    this.capacity = Math.ceil(this.windowS / this.stepS) + 1;
  }

  /**
   * The nodes with points and the aggregate of a selection, shared for 1 s by requests with the same
   * `key` (selection and window): the aggregate walks every ring (150 to 250 ms for 10,000 nodes with
   * a full hour) and each open console asks for it every 2 s.
   */
  sharedAggregate(
    key: string,
    nodes: readonly string[] | undefined,
    windowS: number,
    nowMs: number,
  ): { nodes: string[]; fleet: FleetPoint[] } {
    const cached = this.aggregates.get(key);
    if (cached && nowMs - cached.atMs >= 0 && nowMs - cached.atMs < AGGREGATE_REUSE_MS) return cached;
    if (this.aggregates.size >= 64) this.aggregates.clear();
    const fresh = {
      atMs: nowMs,
      nodes: this.nodesWithPoints(nodes, windowS, nowMs),
      fleet: this.aggregate(nodes, windowS, nowMs),
    };
    this.aggregates.set(key, fresh);
    return fresh;
  }

  /** Keeps the health in a node's status report, received at `atMs`; false when it carried none. */
  record(node: string, status: Pick<NodeStatus, 'programs'>, atMs: number = Date.now()): boolean {
    const sample = healthSampleOf(status);
    if (sample === undefined) return false;
    this.keep(node, Math.floor(atMs / 1000), sample, false);
    return true;
  }

  /**
   * Keeps a point received by another replica (shared-health-history.ts): dropped when this node
   * already has a newer one. True when kept.
   */
  merge(node: string, second: number, sample: HealthSample): boolean {
    return this.keep(node, second, sample, true);
  }

  private keep(node: string, second: number, sample: HealthSample, dropOlder: boolean): boolean {
    let ring = this.rings.get(node);
    if (ring === undefined) {
      ring = new NodeRing(this.capacity);
      this.rings.set(node, ring);
    }
    if (!ring.push(second, this.stepS, sample, dropOlder)) return false;
    this.version += 1;
    this.recordsSincePrune += 1;
    if (this.recordsSincePrune >= 1024) this.prune(second * 1000);
    return true;
  }

  /** Counts the points kept so far: a stream sends when it moved. */
  version = 0;

  /** Where the points come from: this replica's reports, or every replica's (the Redis store). */
  readonly scope: 'replica' | 'shared' = 'replica';

  /** Starts sharing points (a no-op for a replica's own history). */
  async start(): Promise<void> {}

  /** Stops sharing points (a no-op for a replica's own history). */
  async close(): Promise<void> {}

  /** Forgets nodes whose newest point is older than the window (agents gone for an hour). */
  prune(nowMs: number = Date.now()): void {
    this.recordsSincePrune = 0;
    const oldestKept = Math.floor(nowMs / 1000) - this.windowS;
    for (const [node, ring] of this.rings) if (ring.newestSecond() < oldestKept) this.rings.delete(node);
  }

  /** Nodes with history. */
  get size(): number {
    return this.rings.size;
  }

  /** Bytes of point storage held (each node's ring buffer). */
  storedBytes(): number {
    return this.rings.size * this.capacity * BYTES_PER_POINT;
  }

  /** Nodes among `nodes` (every node when undefined) with a point in the last `windowS`, sorted. */
  nodesWithPoints(nodes: Iterable<string> | undefined, windowS: number, nowMs: number): string[] {
    const since = Math.floor(nowMs / 1000) - windowS;
    const names: string[] = [];
    for (const node of nodes ?? this.rings.keys()) {
      const ring = this.rings.get(node);
      if (ring !== undefined && ring.length > 0 && ring.newestSecond() >= since) names.push(node);
    }
    return names.sort();
  }

  /** A node's points in the last `windowS` seconds, oldest first. */
  series(node: string, windowS: number, nowMs: number): HealthPoint[] {
    const ring = this.rings.get(node);
    if (ring === undefined) return [];
    const since = Math.floor(nowMs / 1000) - windowS;
    const points: HealthPoint[] = [];
    for (let i = 0; i < ring.length; i++) {
      const slot = ring.slot(i);
      const second = ring.seconds[slot] as number;
      if (second < since) continue;
      const ended = ring.values[slot * COLUMNS] as number;
      const failed = ring.values[slot * COLUMNS + 1] as number;
      const p95 = ring.values[slot * COLUMNS + 2] as number;
      points.push({
        t: second * 1000,
        tasks_per_s: tidy(ended),
        failure_ratio: ended > 0 ? tidy(Math.min(1, failed / ended)) : null,
        runtime_p95_s: Number.isNaN(p95) ? null : tidy(p95),
      });
    }
    return points;
  }

  /**
   * The aggregate of `nodes` (every node when undefined) per step over the last `windowS` seconds,
   * oldest first: a node counts in the step of each point and up to `carrySteps` steps after it
   * until its next point, so reports that straddle a step boundary neither drop nor double it.
   */
  aggregate(nodes: Iterable<string> | undefined, windowS: number, nowMs: number): FleetPoint[] {
    const step = this.stepS;
    const nowS = Math.floor(nowMs / 1000);
    const firstStep = Math.floor((nowS - windowS) / step);
    const lastStep = Math.floor(nowS / step);
    const steps = lastStep - firstStep + 1;
    const ended = new Float64Array(steps);
    const failed = new Float64Array(steps);
    const p95 = new Float64Array(steps).fill(-1);
    const count = new Uint32Array(steps);
    for (const node of nodes ?? this.rings.keys()) {
      const ring = this.rings.get(node);
      if (ring === undefined) continue;
      for (let i = 0; i < ring.length; i++) {
        const slot = ring.slot(i);
        const own = Math.floor((ring.seconds[slot] as number) / step);
        const next =
          i + 1 < ring.length
            ? Math.floor((ring.seconds[ring.slot(i + 1)] as number) / step)
            : Number.POSITIVE_INFINITY;
        const from = Math.max(own, firstStep);
        const to = Math.min(next - 1, own + this.carrySteps, lastStep);
        if (from > to) continue;
        const e = ring.values[slot * COLUMNS] as number;
        const f = ring.values[slot * COLUMNS + 1] as number;
        const p = ring.values[slot * COLUMNS + 2] as number;
        for (let s = from - firstStep; s <= to - firstStep; s++) {
          ended[s] = (ended[s] as number) + e;
          failed[s] = (failed[s] as number) + f;
          if (!Number.isNaN(p) && p > (p95[s] as number)) p95[s] = p;
          count[s] = (count[s] as number) + 1;
        }
      }
    }
    const points: FleetPoint[] = [];
    for (let s = 0; s < steps; s++) {
      const nodesInStep = count[s] as number;
      if (nodesInStep === 0) continue;
      const e = ended[s] as number;
      const worst = p95[s] as number;
      points.push({
        t: (firstStep + s) * step * 1000,
        tasks_per_s: tidy(e),
        failure_ratio: e > 0 ? tidy(Math.min(1, (failed[s] as number) / e)) : null,
        runtime_p95_s: worst >= 0 ? tidy(worst) : null,
        nodes: nodesInStep,
      });
    }
    return points;
  }
}
