import type { ProgramHealth } from '@celeriac/config-schema';

/**
 * A worker program's health summary over a 10 s window in which `succeeded` tasks succeeded and
 * `failed` failed (nothing retried, rejected or revoked, no restarts), as an agent reports it;
 * `overrides` replace any field (the defaults: runtime p50/p95 0.01/0.02 s, queue wait the same).
 */
export function programHealth(
  succeeded: number,
  failed: number,
  overrides: Partial<ProgramHealth> = {},
): ProgramHealth {
  const counts = { received: succeeded + failed, succeeded, failed, retried: 0, rejected: 0, revoked: 0 };
  return {
    source: 'health_file',
    window_s: 10,
    counts,
    rates: {
      received: counts.received / 10,
      succeeded: succeeded / 10,
      failed: failed / 10,
      retried: 0,
      rejected: 0,
      revoked: 0,
    },
    failure_ratio: succeeded + failed === 0 ? null : failed / (succeeded + failed),
    runtime_p50_s: 0.01,
    runtime_p95_s: 0.02,
    queue_wait_p50_s: 0.01,
    queue_wait_p95_s: 0.02,
    restarts_5m: 0,
    crash_loop: false,
    ...overrides,
  };
}
