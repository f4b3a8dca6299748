// AmqpDeadLetterStore against a vhost of the machine's RabbitMQ: records stored by AmqpBroker's
// deadLetter (600 of them, more than any default prefetch), read again and again without losing
// or reordering one, a record from the middle replayed (confirmed, then only it removed), purge.

import { createLogger } from '@celeriac/logger';
import { encodeTaskEnvelope } from '@celeriac/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RabbitVhost } from '../../../test/support/rabbitmq-vhost.js';
import { AmqpBroker, AmqpDeadLetterStore } from '../src/index.js';

const COUNT = 600;
const logger = createLogger({ level: 'silent' });
let vhost: RabbitVhost;
let broker: AmqpBroker;

const id = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

beforeAll(async () => {
  vhost = await RabbitVhost.create();
  broker = new AmqpBroker({ url: vhost.url(), logger });
  await broker.start();
  // Real records: each message published, taken and dead-lettered by the broker, oldest first.
  for (let i = 0; i < COUNT; i++) {
    await broker.publish('dls', encodeTaskEnvelope({ id: id(i), task: 't.gone', args: [i], kwargs: {}, queue: 'dls' }));
  }
  let done = 0;
  while (done < COUNT) {
    const got = await broker.fetchBatch(['dls'], 50);
    for (const d of got) await broker.deadLetter(d, 'not_registered: t.gone');
    done += got.length;
    if (got.length === 0) await new Promise((r) => setTimeout(r, 20));
  }
}, 120_000);

afterAll(async () => {
  await broker?.close();
  await vhost?.delete();
});

describe('AmqpDeadLetterStore', () => {
  it('reads every record, newest first, and leaves them all in place and in order', async () => {
    const store = new AmqpDeadLetterStore({ url: vhost.url() });
    try {
      for (let pass = 0; pass < 3; pass++) {
        const { total, entries } = await store.page(0, COUNT);
        expect(total).toBe(COUNT);
        expect(entries.map((e) => e.record?.task_id)).toEqual(
          Array.from({ length: COUNT }, (_, i) => id(COUNT - 1 - i)),
        );
      }
      const { entries } = await store.page(590, 20);
      expect(entries.map((e) => [e.index, e.record?.task_id])).toEqual(
        Array.from({ length: 10 }, (_, k) => [590 + k, id(9 - k)]),
      );
      expect((await store.show(COUNT - 1)).record).toMatchObject({ task_id: id(0), queue: 'dls', task: 't.gone' });
      await expect(store.show(COUNT)).rejects.toMatchObject({ code: 'BROKER_DEAD_LETTER_NOT_FOUND' });
      await expect(store.page(-1, 5)).rejects.toMatchObject({ code: 'BROKER_DEAD_LETTER_BAD_INDEX' });
      expect(await vhost.queueCounts('celeriac.dead-letter')).toEqual({ ready: COUNT, unacked: 0 });
    } finally {
      await store.close();
    }
  }, 60_000);

  it('requeue <n> republishes that message to its queue and removes only its record; purge removes the rest', async () => {
    const store = new AmqpDeadLetterStore({ url: vhost.url() });
    try {
      // Index 300 is the record of message COUNT - 1 - 300.
      expect(await store.requeue(300)).toEqual({ requeued: 1, kept: 0 });
      const back = await broker.fetchBatch(['dls'], 1);
      expect(back.map((d) => JSON.parse(d.raw).headers.id)).toEqual([id(COUNT - 1 - 300)]);
      await broker.ack(back.map((d) => d.deliveryTag));
      const { total, entries } = await store.page(0, COUNT);
      expect(total).toBe(COUNT - 1);
      const expected = Array.from({ length: COUNT }, (_, i) => id(COUNT - 1 - i)).filter((_, i) => i !== 300);
      expect(entries.map((e) => e.record?.task_id)).toEqual(expected);
      expect(await store.purge()).toBe(COUNT - 1);
      expect(await store.page(0, 10)).toEqual({ total: 0, entries: [] });
    } finally {
      await store.close();
    }
  }, 60_000);
});
