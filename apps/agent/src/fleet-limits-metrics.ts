import type { FleetLimitSnapshot } from '@celeriac/broker';
import { label } from './metrics-server.js';

/** Writes one metric's HELP, TYPE and samples (`renderPrometheus`'s writer). */
export type MetricWriter = (name: string, type: string, help: string, samples: [string, number][]) => void;

/** The fleet limits' lines: configured limit, current rate, tokens, slots, waiting and running tasks. */
export function renderFleetLimits(limits: FleetLimitSnapshot[], metric: MetricWriter): void {
  const of = (pick: (s: FleetLimitSnapshot) => number | null): [string, number][] =>
    limits.flatMap((s): [string, number][] => {
      const value = pick(s);
      return value === null ? [] : [[`{limit="${label(s.limit.id)}"}`, value]];
    });
  metric(
    'celeriac_fleet_limit_rate',
    'gauge',
    'Fleet rate limit in force, tasks per second.',
    of((s) => s.limit.ratePerSec),
  );
  metric(
    'celeriac_fleet_limit_concurrency',
    'gauge',
    'Fleet concurrency limit in force.',
    of((s) => s.limit.concurrency),
  );
  metric(
    'celeriac_fleet_limit_current_rate',
    'gauge',
    'Tokens granted in the last whole second, fleet-wide.',
    of((s) => (s.limit.ratePerSec === null ? null : s.currentRate)),
  );
  metric(
    'celeriac_fleet_limit_granted_total',
    'counter',
    'Tokens granted, fleet-wide.',
    of((s) => (s.limit.ratePerSec === null ? null : s.granted)),
  );
  metric(
    'celeriac_fleet_limit_tokens',
    'gauge',
    'Tokens in the bucket now (limits without a key).',
    of((s) => s.tokens),
  );
  metric(
    'celeriac_fleet_limit_slots_held',
    'gauge',
    'Concurrency slots held now (limits without a key).',
    of((s) => s.slotsHeld),
  );
  metric(
    'celeriac_fleet_limit_waiting',
    'gauge',
    'Tasks waiting for the limit in the workers (reported each second).',
    of((s) => s.waiting),
  );
  metric(
    'celeriac_fleet_limit_running',
    'gauge',
    "Tasks running under the limit's slots in the workers.",
    of((s) => (s.limit.concurrency === null ? null : s.running)),
  );
}
