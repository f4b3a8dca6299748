import type { Logger } from '@celeriac/logger';

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
