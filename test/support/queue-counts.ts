import { pollUntil } from './celery-poll.js';
import type { RabbitVhost } from './rabbitmq-vhost.js';

/** Messages ready and unacknowledged in a RabbitMQ queue. */
export interface QueueCounts {
  ready: number;
  unacked: number;
}

/** Waits (polling every 200 ms, up to `timeoutMs`) until `queue` of `vhost` holds exactly `want`. */
export function untilQueueCounts(
  vhost: RabbitVhost,
  queue: string,
  want: QueueCounts,
  timeoutMs: number,
): Promise<QueueCounts> {
  return pollUntil(
    async () => {
      const c = await vhost.queueCounts(queue);
      return c?.ready === want.ready && c.unacked === want.unacked ? c : undefined;
    },
    { what: `queue ${queue} at ${JSON.stringify(want)}`, timeoutMs, intervalMs: 200 },
  );
}
