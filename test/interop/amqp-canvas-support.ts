import type { Redis } from 'ioredis';
import { pollUntil } from '../support/celery-poll.js';
import type { RabbitVhost } from '../support/rabbitmq-vhost.js';
import type { RedisServer } from '../support/redis-server.js';

// What the two directions of the AMQP canvas interop tests (amqp-canvas-ts-to-py.test.ts,
// amqp-canvas-py-to-ts.test.ts) share: the settings both sides run with, and the wait for the order
// the priority tasks ran in.

/**
 * The settings of both sides: the broker on `vhost`, results on database 1 of `redis`, and every
 * queue with x-max-priority (RabbitMQ refuses a redeclare with other arguments).
 */
export function amqpCanvasSettings(vhost: RabbitVhost, redis: RedisServer): Record<string, unknown> {
  return {
    broker_url: vhost.url(),
    result_backend: redis.url(1),
    accept_content: ['json', 'msgpack'],
    task_queue_max_priority: 10,
  };
}

/** Waits until the four `tasks.order` tasks recorded their names in `interop.order`; resolves with them in run order. */
export function priorityRunOrder(records: Redis, detail: () => string): Promise<string[]> {
  return pollUntil(
    async () => {
      const list = await records.lrange('interop.order', 0, -1);
      return list.length === 4 ? list : undefined;
    },
    { what: 'all four priority tasks to run', detail },
  );
}
