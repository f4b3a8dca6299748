// celeriac_dead_letter_max_entries on RabbitMQ, against vhosts of the machine's RabbitMQ: the
// dead-letter queue is declared with x-max-length and overflow drop-head, so it keeps the newest
// records as the Redis broker's trimmed list does; a queue declared before without the cap is
// not refused: records still go to it, and that the cap is not applied is logged once.
import { Writable } from 'node:stream';
import { createLogger, type Logger } from '@celeriac/logger';
import { encodeTaskEnvelope } from '@celeriac/protocol';
import amqp from 'amqplib';
import { afterAll, describe, expect, it } from 'vitest';
import { RabbitVhost } from '../../../test/support/rabbitmq-vhost.js';
import { AMQP_DEAD_LETTER_QUEUE, AmqpBroker, AmqpDeadLetterStore } from '../src/index.js';

const vhosts: RabbitVhost[] = [];
const id = (i: number) => `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`;

afterAll(async () => {
  await Promise.all(vhosts.map((v) => v.delete()));
});

/** A logger whose lines the test reads. */
function recordingLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line.trim() !== '') lines.push(JSON.parse(line));
      done();
    },
  });
  return { logger: createLogger({ level: 'warn', pretty: false, destination }), lines };
}

/**
 * A broker with `deadLetterMaxEntries` on `url`: publishes `count` messages to a queue, takes them
 * and dead-letters each, oldest first.
 */
async function deadLetterMany(url: string, logger: Logger, deadLetterMaxEntries: number, count: number): Promise<void> {
  const broker = new AmqpBroker({ url, logger, deadLetterMaxEntries });
  await broker.start();
  try {
    for (let i = 0; i < count; i++) {
      await broker.publish(
        'dlc',
        encodeTaskEnvelope({ id: id(i), task: 't.gone', args: [i], kwargs: {}, queue: 'dlc' }),
      );
    }
    let done = 0;
    for (let tries = 0; done < count && tries < 500; tries++) {
      const got = await broker.fetchBatch(['dlc'], count);
      for (const d of got) await broker.deadLetter(d, 'not_registered: t.gone');
      done += got.length;
      if (got.length === 0) await new Promise((r) => setTimeout(r, 20));
    }
    expect(done).toBe(count);
  } finally {
    await broker.close();
  }
}

async function recordIds(url: string): Promise<(string | null | undefined)[]> {
  const store = new AmqpDeadLetterStore({ url });
  try {
    return (await store.page(0, 100)).entries.map((e) => e.record?.task_id);
  } finally {
    await store.close();
  }
}

describe('the dead-letter queue cap on RabbitMQ (celeriac_dead_letter_max_entries)', { timeout: 60_000 }, () => {
  it('keeps the newest records, the oldest dropped, as the Redis list is trimmed', async () => {
    const vhost = await RabbitVhost.create();
    vhosts.push(vhost);
    const { logger, lines } = recordingLogger();
    await deadLetterMany(vhost.url(), logger, 3, 5);
    expect(await vhost.queueCounts(AMQP_DEAD_LETTER_QUEUE)).toEqual({ ready: 3, unacked: 0 });
    expect((await vhost.queueInfo(AMQP_DEAD_LETTER_QUEUE))?.arguments).toMatch(
      /x-max-length.*3.*x-overflow.*drop-head|x-overflow.*drop-head.*x-max-length.*3/,
    );
    expect(await recordIds(vhost.url())).toEqual([id(4), id(3), id(2)]);
    expect(lines.filter((l) => l.event === 'broker.dead_letter_cap_not_applied')).toEqual([]);
  });

  it('0 keeps every record; a queue declared before without the cap takes the records and the cap not applied is logged once', async () => {
    const uncapped = await RabbitVhost.create();
    const older = await RabbitVhost.create();
    vhosts.push(uncapped, older);
    const quiet = recordingLogger();
    await deadLetterMany(uncapped.url(), quiet.logger, 0, 5);
    expect(await uncapped.queueCounts(AMQP_DEAD_LETTER_QUEUE)).toEqual({ ready: 5, unacked: 0 });
    expect((await uncapped.queueInfo(AMQP_DEAD_LETTER_QUEUE))?.arguments).not.toContain('x-max-length');

    // The queue as a Celeriac without the cap declared it: durable, no arguments.
    const connection = await amqp.connect(older.url());
    const channel = await connection.createChannel();
    await channel.assertQueue(AMQP_DEAD_LETTER_QUEUE, { durable: true, autoDelete: false });
    await connection.close();
    const { logger, lines } = recordingLogger();
    await deadLetterMany(older.url(), logger, 3, 5);
    expect(await older.queueCounts(AMQP_DEAD_LETTER_QUEUE)).toEqual({ ready: 5, unacked: 0 });
    expect(await recordIds(older.url())).toEqual([4, 3, 2, 1, 0].map(id));
    const warned = lines.filter((l) => l.event === 'broker.dead_letter_cap_not_applied');
    expect(warned).toHaveLength(1);
    expect(warned[0]).toMatchObject({ queue: AMQP_DEAD_LETTER_QUEUE, max_entries: 3 });
    expect(String(warned[0]?.msg)).toMatch(/not at 3 records .*celeriac_dead_letter_max_entries/);
  });
});
