import { SEP } from './keys.js';

/** Redis key names of the fleet limits (docs/fleet-limits.md). */

/** String: the fleet limit document (JSON, `FleetLimitDocument`), written by the agent. */
export const FLEET_LIMITS_KEY = 'celeriac.fleet-limits';

/** Pub/sub channel on which a new fleet limit document is announced (the message is its revision). */
export const FLEET_LIMITS_CHANNEL = 'celeriac.fleet-limits';

/** Hash: owner id → JSON `{ at, limits: { <limit id>: { waiting, running } } }` each worker reports. */
export const FLEET_WAITING_KEY = 'celeriac.fleet.waiting';

/**
 * The fleet limits' key names are written without kombu's `global_keyprefix`: `FleetLimitClient`
 * gives it to its connection (ioredis `keyPrefix`, on every key and script KEYS), and puts it
 * before the channel and SCAN patterns itself, which ioredis does not prefix.
 */
export function fleetLimitsChannel(keyPrefix = ''): string {
  return keyPrefix + FLEET_LIMITS_CHANNEL;
}

function scoped(prefix: string, limitId: string, keyValue: string | null): string {
  return keyValue === null ? prefix + limitId : prefix + limitId + SEP + keyValue;
}

/** Hash: the token bucket of one rate limit (per key value for a per-key limit). */
export function fleetRateKey(limitId: string, keyValue: string | null): string {
  return scoped('celeriac.fleet.rate.', limitId, keyValue);
}

/** Prefix of every concurrency limit's slots key. */
export const FLEET_SLOTS_PREFIX = 'celeriac.fleet.slots.';

/** Sorted set: the slots of one concurrency limit (per key value), scored by lease expiry (ms). */
export function fleetSlotsKey(limitId: string, keyValue: string | null): string {
  return scoped(FLEET_SLOTS_PREFIX, limitId, keyValue);
}

/** Hash: grant counters of one rate limit (all its key values together), for metrics. */
export function fleetStatsKey(limitId: string): string {
  return 'celeriac.fleet.stats.' + limitId;
}

/** The member of a slot: `<owner id>SEP<task id>SEP<delivery tag>`. */
export function fleetSlotMember(ownerId: string, taskId: string, deliveryTag: string): string {
  return ownerId + SEP + taskId + SEP + deliveryTag;
}
