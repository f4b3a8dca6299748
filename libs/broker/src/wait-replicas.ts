import type { Redis } from 'ioredis';
import { BrokerArgumentError } from './errors.js';

/** `celeriac_broker_wait_replicas`: after each publish, WAIT until this many replicas have it. */
export interface WaitReplicas {
  replicas: number;
  timeoutMs: number;
}

/**
 * Redis's WAIT on the connection that just wrote: resolves once `replicas` replicas acknowledged
 * every write before it, throws when fewer did within the timeout (the publish may then be lost
 * on a failover, so the caller sees it fail and may send again: at least once, never silently lost).
 */
export async function waitForReplicas(redis: Redis, wait: WaitReplicas): Promise<void> {
  const acknowledged = Number(await redis.call('WAIT', String(wait.replicas), String(wait.timeoutMs)));
  if (acknowledged < wait.replicas) {
    throw new Error(
      `WAIT: ${acknowledged} of ${wait.replicas} replicas acknowledged the publish within ${wait.timeoutMs} ms ` +
        '(celeriac_broker_wait_replicas); it may be lost if the master fails now',
    );
  }
}

/** Default of `celeriac_broker_wait_timeout`: how long one publish waits for its replicas. */
export const DEFAULT_WAIT_TIMEOUT_SEC = 5;

/**
 * `celeriac_broker_wait_replicas` (integer ≥ 0, 0 = off) and `celeriac_broker_wait_timeout`
 * (seconds > 0, default 5) as broker options; throws BROKER_BAD_ARGUMENT for other values.
 */
export function waitReplicasFromSettings(settings: Readonly<Record<string, unknown>>): { waitReplicas?: WaitReplicas } {
  const replicas = settings.celeriac_broker_wait_replicas ?? 0;
  if (typeof replicas !== 'number' || !Number.isInteger(replicas) || replicas < 0) {
    throw new BrokerArgumentError(
      `celeriac_broker_wait_replicas must be an integer ≥ 0, got ${JSON.stringify(replicas)}`,
    );
  }
  const timeout = settings.celeriac_broker_wait_timeout ?? DEFAULT_WAIT_TIMEOUT_SEC;
  if (typeof timeout !== 'number' || !(timeout > 0)) {
    throw new BrokerArgumentError(
      `celeriac_broker_wait_timeout must be a number of seconds > 0, got ${JSON.stringify(timeout)}`,
    );
  }
  return replicas === 0 ? {} : { waitReplicas: { replicas, timeoutMs: Math.round(timeout * 1000) } };
}
