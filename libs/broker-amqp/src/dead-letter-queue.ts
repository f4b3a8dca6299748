import { DEFAULT_DEAD_LETTER_KEY } from '@celeriac/broker';
import type { Logger } from '@celeriac/logger';
import type { Options } from 'amqplib';
import { sendConfirmed } from './amqp-confirmed-publish.js';
import type { AmqpSession } from './amqp-session.js';

/** The queue `AmqpBroker.deadLetter` stores its records on (unless told another): the Redis broker's list name. */
export const AMQP_DEAD_LETTER_QUEUE = DEFAULT_DEAD_LETTER_KEY;

/**
 * How the dead-letter queue is declared: durable, and capped at `maxEntries` records with the
 * oldest dropped (`x-max-length`, `x-overflow: drop-head`), as the Redis broker trims its list;
 * 0: no cap.
 */
function deadLetterQueueOptions(maxEntries: number): Options.AssertQueue {
  if (maxEntries <= 0) return { durable: true, autoDelete: false };
  return {
    durable: true,
    autoDelete: false,
    arguments: { 'x-max-length': Math.floor(maxEntries), 'x-overflow': 'drop-head' },
  };
}

/**
 * The broker's dead-letter queue, declared before each record goes to it. RabbitMQ refuses a
 * declare whose arguments differ from the queue's (PRECONDITION_FAILED): the queue was declared
 * uncapped by an earlier Celeriac, or with another cap. The record then still goes to the queue
 * as it is, and that the cap is not applied is logged once per broker (`broker.dead_letter_cap_not_applied`).
 */
export class DeadLetterQueue {
  private warned = false;

  constructor(
    readonly name: string,
    readonly maxEntries: number,
    private readonly logger: Logger,
  ) {}

  /** Declares the queue on `s`; resolves also when it exists with other arguments. */
  async declare(s: AmqpSession): Promise<void> {
    try {
      await (await s.channelForDeclare()).assertQueue(this.name, deadLetterQueueOptions(this.maxEntries));
    } catch (error) {
      if ((error as { code?: unknown }).code !== 406) throw error;
      this.warnOnce(error);
    }
  }

  /** Declares the queue on `s`, then stores `record` (the dead-letter JSON) on it, persistent and confirmed. */
  async store(s: AmqpSession, record: string): Promise<void> {
    await this.declare(s);
    await sendConfirmed(
      s,
      this.name,
      { content: Buffer.from(record, 'utf8'), options: { contentType: 'application/json', deliveryMode: 2 } },
      { queue: this.name, exchange: '', exchangeType: 'direct', routingKey: this.name },
    );
  }

  private warnOnce(error: unknown): void {
    if (this.warned) return;
    this.warned = true;
    const cap = this.maxEntries > 0 ? `at ${this.maxEntries} records` : 'uncapped';
    this.logger.warn(
      { event: 'broker.dead_letter_cap_not_applied', queue: this.name, max_entries: this.maxEntries, err: error },
      `the dead-letter queue ${this.name} exists with other arguments, so it is not ${cap} as ` +
        'celeriac_dead_letter_max_entries asks; records still go to it. To apply the setting, empty it ' +
        `(celeriac dead-letter list, then requeue or purge), delete the queue and let the worker declare it again, ` +
        'or give it a RabbitMQ policy (max-length, overflow drop-head)',
    );
  }
}
