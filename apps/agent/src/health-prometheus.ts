import type { MetricWriter } from './fleet-limits-metrics.js';
import { HEALTH_BUCKETS_S, type HealthWindows, OUTCOMES } from './health-windows.js';
import { label as esc } from './metrics-server.js';

function histogram(
  metric: MetricWriter,
  name: string,
  help: string,
  rows: { labels: string; counts: number[]; sum: number }[],
): void {
  const samples: [string, number][] = [];
  for (const r of rows) {
    let cumulative = 0;
    for (let i = 0; i < r.counts.length; i++) {
      cumulative += r.counts[i] as number;
      const le = i < HEALTH_BUCKETS_S.length ? String(HEALTH_BUCKETS_S[i]) : '+Inf';
      samples.push([`_bucket{${r.labels},le="${le}"}`, cumulative]);
    }
    samples.push([`_sum{${r.labels}}`, Math.round(r.sum * 1e6) / 1e6], [`_count{${r.labels}}`, cumulative]);
  }
  metric(name, 'histogram', help, samples);
}

/**
 * Task health on `/metrics`: counters and histograms per program and task name since the agent
 * started (they add across processes and restarts), the last window's rates and percentiles per
 * program, crash loops, and each process's RSS and event-loop lag.
 */
export function renderHealth(windows: HealthWindows, metric: MetricWriter): void {
  const programs = windows.programNames();
  const counters: [string, number][] = [];
  const runtime: { labels: string; counts: number[]; sum: number }[] = [];
  const wait: { labels: string; counts: number[]; sum: number }[] = [];
  const rates: [string, number][] = [];
  const quantiles: [string, number][] = [];
  const loops: [string, number][] = [];
  const rss: [string, number][] = [];
  const lag: [string, number][] = [];
  for (const program of programs) {
    const p = `program="${esc(program)}"`;
    for (const [task, t] of windows.totals(program)) {
      const labels = `${p},task="${esc(task)}"`;
      for (const o of OUTCOMES) counters.push([`{${labels},outcome="${o}"}`, t.counts[o]]);
      runtime.push({ labels, counts: t.runtime.counts, sum: t.runtime.sum_s });
      wait.push({ labels, counts: t.queueWait.counts, sum: t.queueWait.sum_s });
    }
    const s = windows.summary(program);
    for (const o of OUTCOMES) rates.push([`{${p},outcome="${o}"}`, s.rates[o]]);
    if (s.runtime_p50_s !== null) quantiles.push([`{${p},quantile="0.5"}`, s.runtime_p50_s]);
    if (s.runtime_p95_s !== null) quantiles.push([`{${p},quantile="0.95"}`, s.runtime_p95_s]);
    loops.push([`{${p}}`, s.crash_loop ? 1 : 0]);
    for (const [key, v] of windows.vitals(program)) {
      const labels = `{${p},process="${esc(key)}"}`;
      if (v.rss !== undefined) rss.push([labels, v.rss]);
      if (v.lag !== undefined) lag.push([labels, v.lag / 1000]);
    }
  }
  metric(
    'celeriac_tasks_total',
    'counter',
    'Task outcomes per program and task name since the agent started.',
    counters,
  );
  histogram(metric, 'celeriac_task_runtime_seconds', 'Task runtime per program and task name.', runtime);
  histogram(metric, 'celeriac_task_queue_wait_seconds', 'Wait from receipt (or eta) to start.', wait);
  metric('celeriac_program_task_rate', 'gauge', 'Task outcomes per second over the last minute.', rates);
  metric('celeriac_program_task_runtime_seconds', 'gauge', 'Runtime quantiles over the last minute.', quantiles);
  metric('celeriac_program_crash_loop', 'gauge', 'One while the program is in a crash loop.', loops);
  metric('celeriac_worker_rss_bytes', 'gauge', 'Resident memory of each worker process.', rss);
  metric('celeriac_worker_event_loop_lag_p99_seconds', 'gauge', 'Event-loop delay p99 of each worker process.', lag);
}
