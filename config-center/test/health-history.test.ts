import { describe, expect, it } from 'vitest';
import { BYTES_PER_POINT, HealthHistory, healthSampleOf } from '../src/health-history.js';
import { firstRevisionSince, revisionMarkers, revisionsChanging } from '../src/revision-markers.js';
import type { RolloutRecord } from '../src/rollout/rollout-record.js';
import type { Revision } from '../src/types.js';

const T0 = Date.parse('2026-12-01T10:00:00.000Z');

/** A status with one program per entry: [succeeded/s, failed/s, runtime p95 s or null]. */
function status(...programs: [number, number, number | null][]) {
  const entries = programs.map(([succeeded, failed, p95], index) => [
    `p${index}`,
    {
      health: {
        rates: { received: succeeded + failed, succeeded, failed, retried: 0, rejected: 0, revoked: 0 },
        runtime_p95_s: p95,
      },
    },
  ]);
  // Only the fields the history reads; the route passes a full parsed NodeStatus.
  return { programs: Object.fromEntries(entries) } as unknown as Parameters<typeof healthSampleOf>[0];
}

describe('healthSampleOf', () => {
  it('sums ended and failed rates over programs and takes the worst p95; none without a summary', () => {
    expect(healthSampleOf(status([8, 2, 0.5], [10, 0, 1.5], [0, 0, null]))).toEqual({
      endedPerS: 20,
      failedPerS: 2,
      runtimeP95S: 1.5,
    });
    expect(healthSampleOf(status([0, 0, null]))).toEqual({ endedPerS: 0, failedPerS: 0, runtimeP95S: null });
    expect(healthSampleOf({ programs: { w: {} } } as never)).toBeUndefined();
    expect(healthSampleOf({ programs: {} })).toBeUndefined();
  });
});

describe('HealthHistory', () => {
  it('keeps at most one point per step, the latest report of the step', () => {
    const history = new HealthHistory();
    expect(history.record('n1', status([1, 0, 0.1]), T0 + 1_000)).toBe(true);
    history.record('n1', status([2, 0, 0.2]), T0 + 9_000);
    history.record('n1', status([3, 1, 0.3]), T0 + 10_000);
    expect(history.record('n1', { programs: {} }, T0 + 11_000)).toBe(false);
    const points = history.series('n1', 3600, T0 + 20_000);
    expect(points).toEqual([
      { t: T0 + 9_000, tasks_per_s: 2, failure_ratio: 0, runtime_p95_s: 0.2 },
      { t: T0 + 10_000, tasks_per_s: 4, failure_ratio: 0.25, runtime_p95_s: 0.3 },
    ]);
  });

  it('is bounded: 361 points of 16 bytes per node for an hour at 10 s, the oldest overwritten', () => {
    const history = new HealthHistory();
    for (let i = 0; i < 1000; i++) history.record('n1', status([i, 0, 0.1]), T0 + i * 10_000);
    const now = T0 + 999 * 10_000;
    const points = history.series('n1', 3600, now);
    expect(points).toHaveLength(361);
    expect(points[0]?.t).toBe(now - 3600_000);
    expect(points.at(-1)?.tasks_per_s).toBe(999);
    expect(history.storedBytes()).toBe(361 * BYTES_PER_POINT);
    expect(BYTES_PER_POINT).toBe(16);
    // A shorter window returns only its part.
    expect(history.series('n1', 60, now)).toHaveLength(7);
  });

  it('keeps the order when the clock steps back, and forgets nodes silent for a whole window', () => {
    const history = new HealthHistory();
    history.record('n1', status([1, 0, null]), T0 + 50_000);
    history.record('n1', status([2, 0, null]), T0 + 20_000);
    expect(history.series('n1', 3600, T0 + 60_000).map((p) => [p.t, p.tasks_per_s])).toEqual([[T0 + 50_000, 2]]);
    history.record('n2', status([1, 0, null]), T0 + 3_700_000);
    history.prune(T0 + 3_700_000);
    expect(history.size).toBe(1);
    expect(history.nodesWithPoints(undefined, 3600, T0 + 3_700_000)).toEqual(['n2']);
  });

  it('aggregates: sums tasks/s, pools the failure ratio over ended tasks, takes the worst p95', () => {
    const history = new HealthHistory();
    history.record('a', status([9, 1, 0.2]), T0 + 1_000);
    history.record('b', status([0, 10, 0.9]), T0 + 2_000);
    history.record('c', status([0, 0, null]), T0 + 3_000);
    const [point] = history.aggregate(undefined, 3600, T0 + 5_000);
    expect(point).toEqual({ t: T0, tasks_per_s: 20, failure_ratio: 0.55, runtime_p95_s: 0.9, nodes: 3 });
    // A selection aggregates only its nodes; nothing ended is a null ratio, not 0.
    expect(history.aggregate(['c'], 3600, T0 + 5_000)).toEqual([
      { t: T0, tasks_per_s: 0, failure_ratio: null, runtime_p95_s: null, nodes: 1 },
    ]);
    expect(history.aggregate(['nobody'], 3600, T0 + 5_000)).toEqual([]);
  });

  it('shares an aggregate for 1 s between requests with the same key, then computes it again', () => {
    const history = new HealthHistory();
    history.record('a', status([1, 0, null]), T0);
    const first = history.sharedAggregate('3600 ', undefined, 3600, T0 + 100);
    history.record('b', status([1, 0, null]), T0 + 200);
    expect(history.sharedAggregate('3600 ', undefined, 3600, T0 + 900)).toBe(first);
    expect(history.sharedAggregate('3600 zone=eu', ['b'], 3600, T0 + 900).nodes).toEqual(['b']);
    expect(history.sharedAggregate('3600 ', undefined, 3600, T0 + 1_100).nodes).toEqual(['a', 'b']);
  });

  it('carries a node into the next steps until its next point, at most carrySteps', () => {
    const history = new HealthHistory({ stepS: 10, carrySteps: 2 });
    // a reports at 9 s and 21 s (skipping the 10 s step); b reports every step.
    history.record('a', status([5, 0, null]), T0 + 9_000);
    history.record('a', status([7, 0, null]), T0 + 21_000);
    for (let s = 0; s < 6; s++) history.record('b', status([1, 0, null]), T0 + s * 10_000 + 5_000);
    const fleet = history.aggregate(undefined, 3600, T0 + 59_000);
    expect(fleet.map((p) => [(p.t - T0) / 1000, p.tasks_per_s, p.nodes])).toEqual([
      [0, 6, 2],
      [10, 6, 2], // a carried from 9 s
      [20, 8, 2],
      [30, 8, 2], // carried
      [40, 8, 2], // carried, the last time
      [50, 1, 1],
    ]);
  });

  it('allocates 5.8 KB of points per node, a full hour for each of 10,000 nodes, and aggregates them in one pass', () => {
    const history = new HealthHistory();
    for (let node = 0; node < 10_000; node++) history.record(`node-${node}`, status([1, 0, 0.1]), T0);
    expect(history.storedBytes() / 10_000).toBe(361 * 16);
    const start = performance.now();
    expect(history.aggregate(undefined, 3600, T0 + 1_000)[0]?.nodes).toBe(10_000);
    // One pass over the rings; generous for a loaded machine.
    expect(performance.now() - start).toBeLessThan(2_000);
  });
});

describe('revisionMarkers', () => {
  const author = { token_id: 't', name: 'alice', role: 'operator' as const };
  const revision = (n: number, minutes: number, extra: Partial<Revision> = {}): Revision => ({
    revision: n,
    layer: 'defaults',
    kind: 'put',
    author,
    time: new Date(T0 + minutes * 60_000).toISOString(),
    message: `change ${n}`,
    diff: [],
    document: {},
    ...extra,
  });
  const log = [
    revision(1, 0),
    revision(2, 30),
    revision(3, 40, { kind: 'rollback', message: 'rollout r2 rolled back', author: { ...author, name: 'rollout r2' } }),
    revision(4, 50, { kind: 'rollback', message: 'undo by hand' }),
  ];
  const rollout = {
    id: 'r2',
    rollback_revision: 3,
    events: [
      {
        at: '',
        event: 'rolled_back',
        wave: 0,
        detail: 'a gate failed: failure_rate measured 0.8 against bound 0.1',
        gates: [
          { gate: 'apply_ok', verdict: 'pass', measured: null, bound: null, detail: 'ok' },
          { gate: 'failure_rate', verdict: 'fail', measured: 0.8, bound: 0.1, detail: '0.8 > 0.1' },
        ],
      },
    ],
  } as unknown as RolloutRecord;

  it('lists the window, oldest first, with the cause of each rollback', () => {
    const markers = revisionMarkers(log, [rollout], T0 + 20 * 60_000);
    expect(markers.map((m) => m.revision)).toEqual([2, 3, 4]);
    expect(markers[0]).toEqual({
      revision: 2,
      t: T0 + 30 * 60_000,
      layer: 'defaults',
      kind: 'put',
      author: 'alice',
      message: 'change 2',
    });
    expect(markers[1]?.rollback).toEqual({
      rollout: 'r2',
      reason: 'a gate failed: failure_rate measured 0.8 against bound 0.1',
      gates: [{ gate: 'failure_rate', measured: 0.8, bound: 0.1, detail: '0.8 > 0.1' }],
    });
    expect(markers[2]?.rollback).toEqual({ rollout: null, reason: 'undo by hand', gates: [] });
    expect(revisionMarkers(log, [], T0, new Set([1, 4])).map((m) => m.revision)).toEqual([1, 4]);
  });

  it('finds the first revision of the window and the revisions that changed some nodes since', () => {
    expect(firstRevisionSince(log, T0 + 35 * 60_000)).toBe(3);
    expect(firstRevisionSince(log, T0 + 60 * 60_000)).toBe(5);
    expect(firstRevisionSince([], T0)).toBe(1);
    expect([...revisionsChanging([[1, 2, 4], [3], []], 2)].sort()).toEqual([2, 3, 4]);
  });
});

describe('HealthHistory.merge (points of other replicas)', () => {
  it('keeps a newer point, replaces within a step, drops one older than the newest, and counts versions', () => {
    const history = new HealthHistory({ stepS: 10 });
    const sample = (tasks: number) => ({ endedPerS: tasks, failedPerS: 0, runtimeP95S: null });
    history.record('n1', status([5, 0, null]), T0);
    const start = history.version;
    expect(history.merge('n1', T0 / 1000 + 12, sample(7))).toBe(true);
    expect(history.merge('n1', T0 / 1000 + 15, sample(8))).toBe(true);
    // Late: older than the newest point, as a batch that crossed another one in flight.
    expect(history.merge('n1', T0 / 1000 + 3, sample(99))).toBe(false);
    expect(history.version).toBe(start + 2);
    const points = history.series('n1', 3600, T0 + 20_000);
    expect(points.map((p) => [p.t - T0, p.tasks_per_s])).toEqual([
      [0, 5],
      [15_000, 8],
    ]);
    expect(history.merge('n2', T0 / 1000, sample(1))).toBe(true);
    expect(history.nodesWithPoints(undefined, 3600, T0 + 20_000)).toEqual(['n1', 'n2']);
  });
});
