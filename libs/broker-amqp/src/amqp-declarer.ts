import { BrokerError, BrokerQueueNotFoundError, type QueueBinding } from '@celeriac/broker';
import type { AmqpSession } from './amqp-session.js';
import { type QueueDeclarations, queueArguments } from './queue-declarations.js';

/**
 * Declares queues and exchanges as kombu does (once per connection), and remembers every queue
 * declared and every exchange published through, to declare them again after a reconnect.
 */
export class AmqpDeclarer {
  private readonly knownQueues = new Set<string>();
  private readonly knownExchanges = new Map<string, string>();

  constructor(
    private readonly declarations: QueueDeclarations,
    /** The URL of the current session, for error messages. */
    private readonly urlOf: () => string,
  ) {}

  /** Declares again on the new session `s` every exchange and queue declared before. */
  async redeclare(s: AmqpSession): Promise<void> {
    for (const [name, type] of this.knownExchanges) {
      await (await s.channelForDeclare()).assertExchange(name, type, { durable: true, autoDelete: false });
    }
    await Promise.all([...this.knownQueues].map((q) => this.declare(s, q)));
  }

  /** Declares a durable exchange published through (remembered once declared). */
  async declareExchange(s: AmqpSession, name: string, type: string): Promise<void> {
    await (await s.channelForDeclare()).assertExchange(name, type, { durable: true, autoDelete: false });
    this.knownExchanges.set(name, type);
  }

  /** Declares a queue as kombu does (once per connection): its exchange, the durable queue, the binding. */
  declare(s: AmqpSession, queue: string): Promise<QueueBinding> {
    let done = s.declared.get(queue);
    if (done === undefined) {
      done = this.declareNow(s, queue);
      s.declared.set(queue, done);
      done.then(
        () => this.knownQueues.add(queue),
        () => s.declared.delete(queue),
      );
    }
    return done;
  }

  private async declareNow(s: AmqpSession, queue: string): Promise<QueueBinding> {
    const decl = this.declarations.of(queue);
    if (decl === undefined) throw new BrokerQueueNotFoundError(queue);
    const { binding } = decl;
    const channel = await s.channelForDeclare();
    try {
      if (binding.exchange !== '') {
        await channel.assertExchange(binding.exchange, binding.exchangeType, { durable: true, autoDelete: false });
      }
      const args = queueArguments(decl);
      await channel.assertQueue(queue, {
        durable: true,
        autoDelete: false,
        exclusive: false,
        ...(args !== undefined ? { arguments: args } : {}),
      });
      if (binding.exchange !== '') await channel.bindQueue(queue, binding.exchange, binding.routingKey);
    } catch (error) {
      if (s.lost) throw error;
      throw new BrokerError(
        'BROKER_COMMAND_FAILED',
        `declaring queue "${queue}" on RabbitMQ at ${this.urlOf()} failed ` +
          `(${error instanceof Error ? error.message : String(error)}); a queue declared before with other ` +
          'arguments (x-max-priority, x-queue-type, durable) must be deleted or declared the same way',
        { cause: error },
      );
    }
    return binding;
  }
}
