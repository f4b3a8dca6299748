import { readFile } from 'node:fs/promises';
import { HEALTH_BUCKETS_S, type ProcessReport } from './health-windows.js';
import type { Launch } from './program-launch.js';

/**
 * The health file a celeriac worker writes beside its ready file (`<dir>/ready/1.json` →
 * `<dir>/ready/1.health.json`, worker-runtime's `healthFileFor`); undefined for other programs. It lives
 * in `ready/`, which the config watcher ignores, so its rewrite every second is never taken for drift.
 */
export function healthFileOf(launch: Launch): string | undefined {
  if (launch.readiness.type !== 'file') return undefined;
  const ready = launch.readiness.path;
  return ready.endsWith('.json') ? `${ready.slice(0, -5)}.health.json` : `${ready}.health.json`;
}

/**
 * Reads one worker's health file as a process report, or null when it is missing, from another
 * process (a stale file of the previous pid), or written with other histogram buckets.
 */
export async function readHealthFile(file: string, program: string, pid: number): Promise<ProcessReport | null> {
  let value: Record<string, unknown>;
  try {
    value = JSON.parse(await readFile(file, 'utf8')) as Record<string, unknown>;
  } catch {
    return null;
  }
  if (value.v !== 1 || value.pid !== pid) return null;
  const buckets = value.buckets_s;
  if (!Array.isArray(buckets) || buckets.length !== HEALTH_BUCKETS_S.length) return null;
  if (buckets.some((b, i) => b !== HEALTH_BUCKETS_S[i])) return null;
  const startedAt = typeof value.started_at === 'string' ? Date.parse(value.started_at) : Number.NaN;
  const lag = value.loop_lag_ms as { p99?: unknown } | undefined;
  return {
    program,
    key: `${program}:${pid}`,
    source: 'health_file',
    ageMs: Number.isFinite(startedAt) ? Date.now() - startedAt : 0,
    tasks: (value.tasks ?? {}) as ProcessReport['tasks'],
    ...(typeof value.rss_bytes === 'number' ? { rssBytes: value.rss_bytes } : {}),
    ...(typeof lag?.p99 === 'number' ? { loopLagP99Ms: lag.p99 } : {}),
  };
}

/**
 * A Python Celery worker's `inspect stats` reply as a process report: `total` counts the tasks it
 * accepted per name since it started (Celery's `state.total_count`), reported as `received`;
 * Celery's stats carry no outcomes or runtimes. `rusage.maxrss` is in KiB on Linux.
 */
export function statsReport(program: string, name: string, reply: unknown): ProcessReport | null {
  if (typeof reply !== 'object' || reply === null) return null;
  const r = reply as { total?: unknown; pid?: unknown; uptime?: unknown; rusage?: { maxrss?: unknown } };
  const total = typeof r.total === 'object' && r.total !== null ? (r.total as Record<string, unknown>) : {};
  const tasks: ProcessReport['tasks'] = {};
  for (const [task, n] of Object.entries(total)) if (typeof n === 'number') tasks[task] = { received: n };
  const maxrss = r.rusage?.maxrss;
  return {
    program,
    key: `${program}:${name}:${typeof r.pid === 'number' ? r.pid : ''}`,
    source: 'inspect_stats',
    ageMs: typeof r.uptime === 'number' ? r.uptime * 1000 : 0,
    tasks,
    ...(typeof maxrss === 'number' ? { rssBytes: maxrss * 1024 } : {}),
  };
}
