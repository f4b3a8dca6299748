import {
  BrokerDeadLetterError,
  BrokerError,
  type DeadLetterEntry,
  type DeadLetterRecord,
  deadLetterEntry,
} from '@celeriac/broker';
import { redactUrl } from '@celeriac/logger';
import type { ChannelModel, ConfirmChannel, ConsumeMessage } from 'amqplib';
import { type AmqpEndpoints, connectFirst } from './amqp-connector.js';
import { envelopeToAmqp } from './amqp-envelope.js';
import { AmqpError } from './amqp-errors.js';
import { amqpPlaneEndpoints } from './amqp-plane-settings.js';
import { AMQP_DEAD_LETTER_QUEUE } from './dead-letter-queue.js';

/** Options of an `AmqpDeadLetterStore`. */
export interface AmqpDeadLetterStoreOptions {
  /** `amqp://`, `amqps://` or `pyamqp://` URL, or kombu's `;` failover list. */
  url: string;
  /** Celery settings its connection reads as the worker's does (`broker_use_ssl`, `broker_connection_timeout`, ...). */
  settings?: Readonly<Record<string, unknown>>;
  /** Default `celeriac.dead-letter`. */
  queue?: string;
  /** How long to wait for the records `queue.declare` counted before taking what came; default 5 s. */
  drainTimeoutMs?: number;
}

/** The records of one read, oldest first, each with the message that holds it (unacked). */
interface Held {
  channel: ConfirmChannel;
  messages: ConsumeMessage[];
}

/**
 * The dead-letter records of a RabbitMQ broker (the durable `celeriac.dead-letter` queue, one
 * record per message, the Redis broker's JSON), to look at and replay as `celeriac dead-letter`
 * does on Redis, with the same indexes (0 = the newest record) and errors.
 *
 * A queue can only be read by taking its messages, so every operation takes them all: it
 * consumes the queue without acks and without a prefetch limit until it holds as many as
 * `queue.declare` counted, reads them, acks only the ones it removes (a replayed record once
 * RabbitMQ confirmed its republish; every one on purge) and gives the rest back with one
 * `basic.nack(multiple, requeue)`, which puts each at its old place (classic queue), so every
 * record is kept, in order. The records given back carry AMQP's redelivered flag from then on;
 * nothing reads it. `basic.get` + nack would give the same result one round trip per record.
 * While one operation runs, its records are unacked: a second one at the same time sees only the
 * records that arrived meanwhile. A process killed mid-way leaves nothing lost: RabbitMQ returns
 * unacked messages when the connection ends; a replay confirmed but not yet acked is then both
 * on its queue and still a record (at least once).
 */
export class AmqpDeadLetterStore {
  private readonly endpoints: AmqpEndpoints;
  private readonly queue: string;
  private connection: ChannelModel | null = null;

  constructor(private readonly o: AmqpDeadLetterStoreOptions) {
    this.endpoints = {
      ...amqpPlaneEndpoints(o.url, o.settings ?? {}),
      clientProperties: { connection_name: 'celeriac dead-letter' },
    };
    this.queue = o.queue ?? AMQP_DEAD_LETTER_QUEUE;
  }

  /**
   * Connects; BROKER_UNAVAILABLE when no RabbitMQ answers, AMQP_TLS_CERTIFICATE / AMQP_TLS_FILE
   * for TLS that cannot work.
   */
  async start(): Promise<void> {
    if (this.connection !== null) return;
    try {
      const { connection } = await connectFirst(this.endpoints, 0);
      connection.on('error', () => undefined); // operations fail with the channel's error
      this.connection = connection;
    } catch (error) {
      if (error instanceof AmqpError) throw error;
      throw this.unavailable('connect', error);
    }
  }

  /** `count` records from `offset` (0 = newest) and how many there are. */
  async page(offset = 0, count = 20): Promise<{ total: number; entries: DeadLetterEntry[] }> {
    if (!(offset >= 0) || !(count >= 1)) {
      throw new BrokerDeadLetterError('BROKER_DEAD_LETTER_BAD_INDEX', `offset ${offset} / count ${count}`);
    }
    return this.withRecords(async ({ messages }) => {
      const total = messages.length;
      const entries: DeadLetterEntry[] = [];
      for (let index = offset; index < Math.min(total, offset + count); index++) {
        entries.push(entryAt(messages, index));
      }
      return { total, entries };
    });
  }

  /** The record at `index` (0 = newest); BROKER_DEAD_LETTER_NOT_FOUND when there is none. */
  async show(index: number): Promise<DeadLetterEntry> {
    checkIndex(index);
    return this.withRecords(async ({ messages }) => {
      if (index >= messages.length) {
        throw new BrokerDeadLetterError('BROKER_DEAD_LETTER_NOT_FOUND', `no record at index ${index}`);
      }
      return entryAt(messages, index);
    });
  }

  /**
   * Publishes the original message of the record at `index` (or of every record, oldest first,
   * with `'all'`) again onto its queue, through the default exchange as a new message, and
   * removes the record once RabbitMQ confirmed the publish. A truncated or unreadable record
   * stays: one index throws BROKER_DEAD_LETTER_NOT_REQUEUEABLE, `'all'` counts it in `kept`. A
   * record whose queue does not exist stays too, and BROKER_UNROUTABLE names the queue (after the
   * others of `'all'` were replayed).
   */
  async requeue(index: number | 'all'): Promise<{ requeued: number; kept: number }> {
    if (index !== 'all') checkIndex(index);
    return this.withRecords(async ({ channel, messages }) => {
      if (index !== 'all' && index >= messages.length) {
        throw new BrokerDeadLetterError('BROKER_DEAD_LETTER_NOT_FOUND', `no record at index ${index}`);
      }
      const chosen = index === 'all' ? messages : [messages[messages.length - 1 - index] as ConsumeMessage];
      const publish = confirmedPublisher(channel);
      let kept = 0;
      const sends: { message: ConsumeMessage; queue: string; sent: Promise<boolean> }[] = [];
      for (const message of chosen) {
        const replay = replayOf(message);
        if (typeof replay === 'string') {
          if (index !== 'all') {
            throw new BrokerDeadLetterError(
              'BROKER_DEAD_LETTER_NOT_REQUEUEABLE',
              `the record at index ${index} is ${replay === 'truncated' ? 'truncated (its raw entry was cut when stored)' : 'not a readable record'}`,
            );
          }
          kept++;
          continue;
        }
        sends.push({ message, queue: replay.queue, sent: publish(replay) });
      }
      const unroutable = new Set<string>();
      let requeued = 0;
      for (const { message, queue, sent } of sends) {
        if (await sent) {
          channel.ack(message);
          requeued++;
        } else unroutable.add(queue);
      }
      if (unroutable.size > 0) {
        const names = [...unroutable].map((q) => `"${q}"`).join(', ');
        throw new BrokerError(
          'BROKER_UNROUTABLE',
          `dead-letter list: ${requeued > 0 ? `requeued ${requeued}; ` : ''}queue ${names} does not exist on the broker, so ` +
            `${sends.length - requeued} record(s) stay; start a worker that consumes it (it declares the queue), then requeue again`,
        );
      }
      return { requeued, kept };
    });
  }

  /** Deletes every record; returns how many there were. */
  async purge(): Promise<number> {
    return this.withRecords(async ({ channel, messages }) => {
      if (messages.length > 0) channel.ackAll();
      return messages.length;
    });
  }

  /** Closes the connection (records still held go back to the queue). Idempotent. */
  async close(): Promise<void> {
    const connection = this.connection;
    this.connection = null;
    await connection?.close().catch(() => undefined);
  }

  /**
   * Takes every record, runs `fn` on them, then gives back (nack, requeue) whatever `fn` did not
   * ack; the channel's close waits for that.
   */
  private async withRecords<T>(fn: (held: Held) => Promise<T>): Promise<T> {
    if (this.connection === null) await this.start();
    const connection = this.connection as ChannelModel;
    const total = await this.readyCount(connection);
    let channel: ConfirmChannel;
    try {
      channel = await connection.createConfirmChannel();
    } catch (error) {
      throw this.unavailable('open a channel', error);
    }
    channel.on('error', () => undefined); // the awaited operation fails with it
    try {
      const messages = total === 0 ? [] : await this.drain(channel, total);
      const result = await fn({ channel, messages });
      channel.nackAll(true);
      return result;
    } finally {
      await channel.close().catch(() => undefined);
    }
  }

  /** Records ready in the queue (`queue.declare` passive); 0 when the queue does not exist yet. */
  private async readyCount(connection: ChannelModel): Promise<number> {
    // A passive declare of a missing queue closes its channel (404): a channel of its own.
    const probe = await connection.createChannel().catch((error: unknown) => {
      throw this.unavailable('open a channel', error);
    });
    probe.on('error', () => undefined);
    try {
      return (await probe.checkQueue(this.queue)).messageCount;
    } catch (error) {
      if ((error as { code?: unknown }).code === 404) return 0;
      throw this.unavailable('read the dead-letter queue', error);
    } finally {
      await probe.close().catch(() => undefined);
    }
  }

  /**
   * Consumes until `expected` records are held (or no new one came for `drainTimeoutMs`), then
   * cancels: once the cancel is confirmed nothing more arrives, and what came is oldest first.
   */
  private async drain(channel: ConfirmChannel, expected: number): Promise<ConsumeMessage[]> {
    const messages: ConsumeMessage[] = [];
    const idleMs = this.o.drainTimeoutMs ?? 5_000;
    let wake: () => void = () => undefined;
    let timer: NodeJS.Timeout | undefined;
    const enough = new Promise<void>((resolve) => {
      wake = resolve;
    });
    const idle = () => {
      clearTimeout(timer);
      timer = setTimeout(wake, idleMs);
    };
    await channel.prefetch(0);
    const { consumerTag } = await channel.consume(
      this.queue,
      (message) => {
        if (message === null) return wake(); // cancelled by the server (queue deleted)
        messages.push(message);
        if (messages.length >= expected) wake();
        else idle();
      },
      { noAck: false },
    );
    idle();
    await enough;
    clearTimeout(timer);
    await channel.cancel(consumerTag);
    return messages;
  }

  private unavailable(operation: string, cause: unknown): BrokerError {
    const detail = cause instanceof Error ? cause.message : String(cause);
    const urls = this.endpoints.urls.map((u) => redactUrl(u)).join(';');
    return new BrokerError(
      'BROKER_UNAVAILABLE',
      `dead-letter ${operation} failed: RabbitMQ at ${urls} is unavailable (${redactUrl(detail)}); ` +
        'check that RabbitMQ runs, the vhost exists and the user may use it',
      { cause },
    );
  }
}

/** The entry at `index` (0 = newest) of records held oldest first. */
function entryAt(messages: readonly ConsumeMessage[], index: number): DeadLetterEntry {
  const message = messages[messages.length - 1 - index] as ConsumeMessage;
  return deadLetterEntry(index, message.content.toString('utf8'));
}

/** What a record replays (its queue and original message), or why it cannot. */
function replayOf(message: ConsumeMessage): { queue: string; raw: string } | 'truncated' | 'unreadable' {
  const { record } = deadLetterEntry(0, message.content.toString('utf8'));
  if (record === null || typeof record.queue !== 'string' || record.queue === '') return 'unreadable';
  if ((record as DeadLetterRecord).raw_truncated === true) return 'truncated';
  try {
    envelopeToAmqp(record.raw);
  } catch {
    return 'unreadable'; // not a kombu envelope: no AMQP message to rebuild
  }
  return { queue: record.queue, raw: record.raw };
}

/**
 * Publishes raw entries as the AMQP messages kombu would send, straight to their queue (default
 * exchange, `mandatory`), unchanged: each resolves true once RabbitMQ confirmed it, false when it
 * came back unroutable (no such queue). RabbitMQ sends a message's return before its confirm, and
 * both in publish order, so a return belongs to the oldest unconfirmed publish to its queue.
 */
function confirmedPublisher(channel: ConfirmChannel): (replay: { queue: string; raw: string }) => Promise<boolean> {
  const pending = new Map<string, { returned: boolean }[]>();
  channel.on('return', (m: ConsumeMessage) => {
    const entry = pending.get(m.fields.routingKey)?.find((e) => !e.returned);
    if (entry) entry.returned = true;
  });
  return (replay) => {
    const { content, options } = envelopeToAmqp(replay.raw);
    const entry = { returned: false };
    const queue = pending.get(replay.queue) ?? [];
    queue.push(entry);
    pending.set(replay.queue, queue);
    return new Promise<boolean>((resolve, reject) => {
      channel.publish('', replay.queue, content, { ...options, mandatory: true }, (error) => {
        queue.splice(queue.indexOf(entry), 1);
        if (error) reject(new BrokerError('BROKER_COMMAND_FAILED', `RabbitMQ refused the republish: ${String(error)}`));
        else resolve(!entry.returned);
      });
    });
  };
}

function checkIndex(index: number): void {
  if (!Number.isInteger(index) || index < 0) {
    throw new BrokerDeadLetterError('BROKER_DEAD_LETTER_BAD_INDEX', `index ${index}`);
  }
}
