import type { Delivery } from '@celeriac/broker';
import { pollUntil } from './celery-poll.js';

/** What `fetchDeliveries` needs of a broker. */
export interface BatchFetcher {
  fetchBatch(queues: readonly string[], max: number): Promise<Delivery[]>;
}

/**
 * Fetches until `count` deliveries of `queues` are in hand, or throws after `timeoutMs` naming how
 * many came. A fetch answered from what the broker already holds never touches the socket, so a
 * bare `while` loop of fetches would starve the event loop (no frame is read, no timer fires, the
 * test hangs past its timeout): `pollUntil` waits on a timer between fetches.
 */
export async function fetchDeliveries(
  broker: BatchFetcher,
  queues: readonly string[],
  count: number,
  timeoutMs = 20_000,
): Promise<Delivery[]> {
  const got: Delivery[] = [];
  return pollUntil(
    async () => {
      got.push(...(await broker.fetchBatch(queues, count - got.length)));
      return got.length >= count ? got : undefined;
    },
    {
      what: `${count} deliveries of ${queues.join(', ')}`,
      timeoutMs,
      intervalMs: 20,
      detail: () => `fetched ${got.length}`,
    },
  );
}
