import { nodeStatusSchema, programStatusSchema } from '@celeriac/config-schema';
import { describe, expect, it } from 'vitest';
import { HEALTH_BUCKETS_S, HealthWindows, quantile } from '../src/health-windows.js';
import { metricsResponse } from '../src/metrics-server.js';

const B = HEALTH_BUCKETS_S.length + 1;
/** Histogram counts with `n` entries in the bucket whose upper bound is `le`. */
const hist = (entries: [number, number][]) => {
  const counts = new Array(B).fill(0);
  for (const [le, n] of entries) counts[HEALTH_BUCKETS_S.indexOf(le as never)] += n;
  return { counts, sum_s: 0 };
};

describe('health windows', () => {
  it('adds differences of cumulative reports into 10 s buckets; a new process counts from zero', () => {
    const w = new HealthWindows();
    const t0 = 1_000_000_000;
    const report = (key: string, succeeded: number, failed: number, runtime: [number, number][]) => ({
      program: 'p',
      key,
      source: 'health_file' as const,
      ageMs: 1000,
      tasks: { 't.a': { received: succeeded + failed, succeeded, failed, runtime: hist(runtime) } },
      rssBytes: 50_000_000,
      loopLagP99Ms: 3,
    });
    w.observe(report('p:1', 10, 0, [[0.01, 10]]), t0);
    w.observe(
      report('p:1', 30, 5, [
        [0.01, 30],
        [0.5, 5],
      ]),
      t0 + 15_000,
    );
    // The replica restarted: a new pid, counters from zero again.
    w.observe(report('p:2', 4, 1, [[0.01, 5]]), t0 + 20_000);
    const s = w.summary('p', 60_000, t0 + 25_000);
    expect(s.counts).toMatchObject({ received: 40, succeeded: 34, failed: 6 });
    expect(s.failure_ratio).toBeCloseTo(6 / 40, 4);
    expect(s.runtime_p50_s).toBeGreaterThan(0.005);
    expect(s.runtime_p50_s).toBeLessThanOrEqual(0.01);
    expect(s.runtime_p95_s).toBeGreaterThan(0.25);
    expect(s.runtime_p95_s).toBeLessThanOrEqual(0.5);
    expect(s.rates.succeeded).toBeCloseTo(34 / 60, 2);
    expect(s.tasks?.['t.a']).toMatchObject({ succeeded: 34, failed: 6 });
    expect(s.rss_bytes).toBe(100_000_000);
    // Outside the window: nothing in it, totals stay.
    const later = w.summary('p', 60_000, t0 + 200_000);
    expect(later.counts.succeeded).toBe(0);
    expect(later.runtime_p95_s).toBeNull();
    expect(w.totals('p').get('t.a')?.counts.succeeded).toBe(34);
    // What the agent sends validates; a status without it (an older agent) still does.
    const program = {
      kind: 'celeriac-worker',
      state: 'running',
      pids: [1],
      restarts: 0,
      config_hash: 'h',
      last_exit: null,
    };
    expect(programStatusSchema.parse({ ...program, health: s }).health).toEqual(s);
    expect(
      nodeStatusSchema.safeParse({ applied_revision: 1, apply_result: 'ok', programs: { p: program } }).success,
    ).toBe(true);
    expect(programStatusSchema.safeParse({ ...program, health: { ...s, failure_ratio: 2 } }).success).toBe(false);
  });

  it('a process first seen long after it started is a baseline, not a burst', () => {
    const w = new HealthWindows();
    w.observe({ program: 'p', key: 'k', source: 'inspect_stats', ageMs: 3_600_000, tasks: { t: { received: 500 } } });
    expect(w.summary('p').counts.received).toBe(0);
    w.observe({ program: 'p', key: 'k', source: 'inspect_stats', ageMs: 3_601_000, tasks: { t: { received: 507 } } });
    expect(w.summary('p')).toMatchObject({ source: 'inspect_stats', counts: { received: 7 } });
  });

  it('3 crash restarts within 5 minutes, or backoff, is a crash loop', () => {
    const w = new HealthWindows();
    const t0 = 2_000_000_000;
    w.observeStatus('p', 'running', 0, t0);
    w.observeStatus('p', 'running', 2, t0 + 10_000);
    expect(w.summary('p', 60_000, t0 + 10_000)).toMatchObject({ crash_loop: false, restarts_5m: 2 });
    w.observeStatus('p', 'running', 3, t0 + 20_000);
    expect(w.summary('p', 60_000, t0 + 20_000)).toMatchObject({ crash_loop: true, restarts_5m: 3 });
    w.observeStatus('p', 'running', 3, t0 + 400_000);
    expect(w.summary('p', 60_000, t0 + 400_000).crash_loop).toBe(false);
    w.observeStatus('p', 'backoff', 3, t0 + 401_000);
    expect(w.summary('p', 60_000, t0 + 401_000).crash_loop).toBe(true);
  });

  it('quantiles interpolate within a bucket', () => {
    expect(quantile(hist([[0.1, 100]]).counts, 0.5)).toBeCloseTo(0.075, 6);
    expect(quantile(new Array(B).fill(0), 0.5)).toBeNull();
  });

  it('/metrics shows counters and cumulative histograms per program and task', () => {
    const w = new HealthWindows();
    w.observe({
      program: 'web',
      key: 'web:1',
      source: 'health_file',
      ageMs: 0,
      tasks: {
        't.a': {
          received: 3,
          succeeded: 2,
          failed: 1,
          runtime: hist([
            [0.01, 2],
            [1, 1],
          ]),
        },
      },
    });
    const body = metricsResponse('/metrics', {
      state: 'running',
      centerReachable: true,
      appliedRevision: 1,
      applies: {},
      programs: {},
      ownerRestores: 0,
      tasksRestored: 0,
      health: w,
    }).body;
    expect(body).toContain('celeriac_tasks_total{program="web",task="t.a",outcome="succeeded"} 2');
    expect(body).toContain('celeriac_tasks_total{program="web",task="t.a",outcome="failed"} 1');
    expect(body).toContain('celeriac_task_runtime_seconds_bucket{program="web",task="t.a",le="0.005"} 0');
    expect(body).toContain('celeriac_task_runtime_seconds_bucket{program="web",task="t.a",le="0.01"} 2');
    expect(body).toContain('celeriac_task_runtime_seconds_bucket{program="web",task="t.a",le="+Inf"} 3');
    expect(body).toContain('celeriac_task_runtime_seconds_count{program="web",task="t.a"} 3');
    expect(body).toContain('# TYPE celeriac_task_runtime_seconds histogram');
  });
});
