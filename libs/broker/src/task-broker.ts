import type { Delivery, WaitForOneOptions } from './broker-options.js';
import type { QueueBinding } from './exchange-bindings.js';
import type { ExchangePublish } from './exchange-router.js';

/**
 * The broker the client and the worker runtime talk to, whatever the transport: `RedisBroker`
 * (this package) and `AmqpBroker` (@celeriac/broker-amqp) both implement it. `raw` is always
 * kombu's envelope JSON (`encodeTaskEnvelope`), so nothing above this interface knows the wire.
 */
export interface TaskBroker {
  start(): Promise<void>;
  close(): Promise<void>;
  publish(queue: string, raw: string, priority?: number): Promise<void>;
  publishMany(items: { queue: string; raw: string; priority?: number }[]): Promise<void>;
  publishToExchange?(publish: ExchangePublish): Promise<unknown>;
  declareQueues?(queues: readonly string[]): Promise<QueueBinding[]>;
  fetchBatch(queues: readonly string[], max: number): Promise<Delivery[]>;
  waitForOne(queues: readonly string[], timeoutSec: number, options?: WaitForOneOptions): Promise<Delivery | null>;
  ack(tags: readonly string[]): Promise<void>;
  requeue(deliveries: readonly Delivery[]): Promise<number>;
  deadLetter(delivery: Delivery, reason: string): Promise<void>;
  restoreVisibilityTimeout(): Promise<number>;
}
