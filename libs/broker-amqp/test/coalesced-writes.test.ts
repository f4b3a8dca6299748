// coalesceWrites on this amqplib: the frames a burst of publishes makes leave in a few socket
// writes, not one each, and RabbitMQ still gets and confirms every message.
import amqp from 'amqplib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { untilQueueCounts } from '../../../test/support/queue-counts.js';
import { RabbitVhost } from '../../../test/support/rabbitmq-vhost.js';
import { coalesceWrites } from '../src/coalesced-writes.js';
import { amqpConnectOptions } from '../src/index.js';

describe('coalesceWrites', { timeout: 60_000 }, () => {
  let vhost: RabbitVhost;

  beforeAll(async () => {
    vhost = await RabbitVhost.create();
  });

  afterAll(async () => {
    await vhost?.delete();
  });

  it('sends 500 publishes in a few socket writes, each confirmed', async () => {
    const model = await amqp.connect(amqpConnectOptions(vhost.url(), 0));
    try {
      expect(coalesceWrites(model)).toBe(true);
      const socket = (model as unknown as { connection: { stream: Record<string, unknown> } }).connection.stream;
      let writes = 0;
      for (const name of ['_write', '_writev']) {
        const own = socket[name] as ((...a: unknown[]) => unknown) | undefined;
        if (typeof own !== 'function') continue;
        socket[name] = function counted(this: unknown, ...args: unknown[]) {
          writes++;
          return own.apply(this, args);
        };
      }
      const channel = await model.createConfirmChannel();
      await channel.assertQueue('burst', { durable: true });
      writes = 0;
      const confirms = Array.from(
        { length: 500 },
        (_, i) =>
          new Promise<void>((resolve, reject) =>
            channel.sendToQueue('burst', Buffer.from(`m${i}`), { persistent: true }, (err) =>
              err ? reject(err) : resolve(),
            ),
          ),
      );
      await Promise.all(confirms);
      expect(writes).toBeGreaterThan(0);
      expect(writes).toBeLessThan(50);
      await untilQueueCounts(vhost, 'burst', { ready: 500, unacked: 0 }, 20_000);
    } finally {
      await model.close();
    }
  });
});
