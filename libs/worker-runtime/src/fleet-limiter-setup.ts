import {
  type FleetLimit,
  FleetLimitClient,
  fleetLimitsFromSettings,
  globalKeyPrefixFromSettings,
} from '@celeriac/broker';
import type { Logger } from '@celeriac/logger';
import { WorkerError } from './errors.js';
import { type FleetHooks, FleetLimiter } from './fleet-limiter.js';
import type { TaskPlan } from './task-plan.js';

/** What a worker gives to build its fleet limiter. */
export interface FleetLimiterSetup {
  /** False: no fleet limits at all (embedded tests); the worker never connects for them. */
  enabled: boolean;
  brokerUrl: string;
  ownerId: string;
  logger: Logger;
  /** The app's normalised Celery settings (`task_annotations`, `celeriac_fleet_limits`). */
  settings: Record<string, unknown>;
  plans: ReadonlyMap<string, TaskPlan>;
  /** Most jobs waiting for fleet limits in memory now (the prefetch limit, which moves with the pool). */
  maxHeld(): number;
}

/**
 * The limits of this worker's own configuration: `celeriac_fleet_limits` and the `fleet_*`
 * annotations, plus `fleet_*` options given to `app.task()` for tasks the settings do not name.
 * They hold only while Redis has no fleet limit document (the agent writes one from the center).
 */
export function localFleetLimits(
  settings: Record<string, unknown>,
  plans: ReadonlyMap<string, TaskPlan>,
): FleetLimit[] {
  let limits: FleetLimit[];
  try {
    limits = fleetLimitsFromSettings(settings);
  } catch (error) {
    throw new WorkerError('WORKER_BAD_SETTING', `Invalid fleet limits: ${(error as Error).message}`);
  }
  const named = new Set(limits.map((l) => l.id));
  for (const plan of plans.values()) {
    if (plan.fleetLimit !== null && !named.has(plan.fleetLimit.id)) limits.push(plan.fleetLimit);
  }
  return limits;
}

/** The dispatcher's factory of the fleet limiter; undefined when fleet limits are off. */
export function fleetLimiterFactory(setup: FleetLimiterSetup): ((hooks: FleetHooks) => FleetLimiter) | undefined {
  if (!setup.enabled) return undefined;
  const localLimits = localFleetLimits(setup.settings, setup.plans);
  return (hooks) =>
    new FleetLimiter({
      ...hooks,
      target: new FleetLimitClient({
        url: setup.brokerUrl,
        logger: setup.logger,
        keyPrefix: globalKeyPrefixFromSettings(setup.settings),
      }),
      ownerId: setup.ownerId,
      logger: setup.logger,
      localLimits,
      maxHeld: setup.maxHeld,
    });
}
