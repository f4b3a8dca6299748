import type { Logger } from '@celeriac/logger';
import { BrokerArgumentError } from './errors.js';
import {
  DEFAULT_DEAD_LETTER_KEY,
  DEFAULT_DEAD_LETTER_MAX_ENTRIES,
  DEFAULT_DEAD_LETTER_MAX_RAW_BYTES,
  DEFAULT_REDELIVERY_LIMIT,
} from './keys.js';
import type { TaskQueues } from './task-queues.js';
import type { TransportOptions } from './transport-options.js';
import type { WaitReplicas } from './wait-replicas.js';

/** One entry taken from a queue: the raw list entry, the queue it came from and its ack handle. */
export interface Delivery {
  raw: string;
  queue: string;
  deliveryTag: string;
}

/** Options of {@link RedisBroker}. */
export interface BrokerOptions {
  /** `redis://[:password@]host:port/db` */
  url: string;
  logger: Logger;
  /** Held entries older than this are put back by `restoreVisibilityTimeout()`; kombu's default, 1 hour. */
  visibilityTimeoutMs?: number;
  /** Records held tags in `celeriac.held.<ownerId>` so that `restoreOwner(ownerId)` can hand them back. */
  ownerId?: string;
  /** List that receives dead-lettered entries; default `celeriac.dead-letter`. */
  deadLetterKey?: string;
  /** Most records kept in the dead-letter list (older ones are trimmed); default 10,000. */
  deadLetterMaxEntries?: number;
  /** Raw entries above this many UTF-8 bytes are stored truncated (with size and sha256); default 64 KiB. */
  deadLetterMaxRawBytes?: number;
  /**
   * Restores (after a crash or the visibility timeout) a message may have; the next one moves it
   * to the redelivery-limit list for a worker to dead-letter with a FAILURE result. Default 5; 0 = no limit.
   */
  redeliveryLimit?: number;
  /**
   * With `ownerId`: how long the owner's lease lives without renewal; renewed every third of it.
   * Default: the visibility timeout.
   */
  leaseTtlMs?: number;
  /** With `ownerId`: most blocking connections the idle wait uses (one per queue); default 4. */
  blockingLanes?: number;
  /**
   * Hook for revokes: a Redis set, sorted set or hash whose members/fields are revoked task ids.
   * `promoteDue` drops delayed messages of those tasks (and returns them) instead of queueing them.
   */
  revokedKey?: string;
  /**
   * `celeriac_broker_wait_replicas`: every publish ends with Redis's WAIT for this many replicas
   * (and fails when fewer acknowledged within the timeout), so a Sentinel failover cannot lose a
   * message whose publish resolved. Off by default (Redis replication is asynchronous).
   */
  waitReplicas?: WaitReplicas;
  /**
   * kombu's Redis transport options (`broker_transport_options`): `sep`, `priority_steps`,
   * `queue_order_strategy`, `global_keyprefix` (see transport-options.ts); kombu's defaults otherwise.
   */
  transport?: Partial<TransportOptions>;
  /**
   * The app's queue table (`task_queues`, defaults, `task_create_missing_queues`): the binding a
   * publish or `declareQueues` declares for a queue, and the type of a named exchange. Without it
   * a queue is bound to the direct exchange named after it with its name as routing key.
   */
  taskQueues?: TaskQueues;
  /** Names of `broker_transport_options` entries the transport does not use: each is logged as a warning at start. */
  ignoredTransportOptions?: readonly string[];
}

/** A delayed message dropped by `promoteDue` because its task id is revoked. */
export interface DroppedDelayed {
  taskId: string;
  queue: string;
  raw: string;
}

/** An entry taken off the redelivery-limit list: held like any delivery, to be dead-lettered. */
export interface LimitedDelivery extends Delivery {
  /** How many times it was restored after a crash or a visibility timeout. */
  redeliveries: number;
}

/** Options of {@link RedisBroker.waitForOne}. */
export interface WaitForOneOptions {
  /**
   * false: resolve as soon as the unacked record is sent instead of when Redis confirmed it (one round
   * trip less for a lone task). The record precedes every later command of this broker (ack, requeue),
   * so an entry is never acked before it is recorded. Entries without a delivery tag are awaited anyway.
   */
  awaitRecord?: boolean;
}

/** A redelivery counter lives at least this long (and at least 3 × (limit + 1) visibility timeouts). */
const MIN_REDELIVERY_COUNT_TTL_MS = 7 * 24 * 3_600_000;

/** The broker's options with defaults applied and checked (throws BROKER_BAD_ARGUMENT). */
export interface ResolvedBrokerOptions {
  visibilityTimeoutMs: number;
  ignoredTransportOptions: readonly string[];
  deadLetterKey: string;
  deadLetterMaxEntries: number;
  deadLetterMaxRawBytes: number;
  redeliveryLimit: number;
  redeliveryCountTtlMs: number;
  leaseTtlMs: number;
  blockingLanes: number;
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  const v = value ?? fallback;
  if (!(Number.isFinite(v) && v >= 0)) throw new BrokerArgumentError(`${name} must be a number ≥ 0, got ${value}`);
  return Math.floor(v);
}

/** Defaults and checks of {@link BrokerOptions}. */
export function resolveBrokerOptions(options: BrokerOptions): ResolvedBrokerOptions {
  const visibilityTimeoutMs = options.visibilityTimeoutMs ?? 3_600_000;
  if (!(visibilityTimeoutMs > 0)) {
    throw new BrokerArgumentError(`visibilityTimeoutMs must be a positive number, got ${options.visibilityTimeoutMs}`);
  }
  const leaseTtlMs = options.leaseTtlMs ?? visibilityTimeoutMs;
  if (!(leaseTtlMs > 0)) throw new BrokerArgumentError(`leaseTtlMs must be a positive number, got ${leaseTtlMs}`);
  const redeliveryLimit = nonNegative('redeliveryLimit', options.redeliveryLimit, DEFAULT_REDELIVERY_LIMIT);
  return {
    visibilityTimeoutMs,
    ignoredTransportOptions: options.ignoredTransportOptions ?? [],
    deadLetterKey: options.deadLetterKey ?? DEFAULT_DEAD_LETTER_KEY,
    deadLetterMaxEntries: nonNegative(
      'deadLetterMaxEntries',
      options.deadLetterMaxEntries,
      DEFAULT_DEAD_LETTER_MAX_ENTRIES,
    ),
    deadLetterMaxRawBytes: nonNegative(
      'deadLetterMaxRawBytes',
      options.deadLetterMaxRawBytes,
      DEFAULT_DEAD_LETTER_MAX_RAW_BYTES,
    ),
    redeliveryLimit,
    redeliveryCountTtlMs: Math.max(MIN_REDELIVERY_COUNT_TTL_MS, 3 * (redeliveryLimit + 1) * visibilityTimeoutMs),
    leaseTtlMs,
    blockingLanes: Math.max(1, nonNegative('blockingLanes', options.blockingLanes, 4)),
  };
}
