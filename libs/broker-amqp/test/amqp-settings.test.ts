// The pure parts of the RabbitMQ transport: failover lists and their order, broker_use_ssl,
// queue types and their conflicts, the reconnect schedule, and the orphaned-delivery book.
import { describe, expect, it } from 'vitest';
import {
  AmqpError,
  amqpConnectOptions,
  failoverOrder,
  generationTag,
  OrphanedDeliveries,
  parseAmqpUrlList,
  parseAmqpUseSsl,
  parseFailoverStrategy,
  QueueDeclarations,
  queueArguments,
  reconnectPolicyOf,
  reconnectSleepMs,
} from '../src/index.js';

const codeOf = (f: () => unknown): string | undefined => {
  try {
    f();
  } catch (error) {
    return error instanceof AmqpError ? `${error.code}: ${error.message}` : `other: ${String(error)}`;
  }
  return undefined;
};

describe('RabbitMQ settings, read', () => {
  it("splits kombu's ;-separated failover list and checks each entry", () => {
    expect(parseAmqpUrlList('amqp://a//; amqps://u:p@b:5671/vh ;')).toEqual(['amqp://a//', 'amqps://u:p@b:5671/vh']);
    expect(codeOf(() => parseAmqpUrlList('amqp://a;redis://b'))).toMatch(/^AMQP_URL_INVALID: broker_url \(entry 2/);
    expect(codeOf(() => parseAmqpUrlList('amqp://u:hunter2@:1//'))).not.toContain('hunter2');
    expect(codeOf(() => parseAmqpUrlList(' ; '))).toMatch(/^AMQP_URL_INVALID: broker_url: is empty/);
    // The first URL of a list is what a single connection (the control plane's) uses.
    expect(amqpConnectOptions('amqp://a:1//;amqp://b:2//', 0)).toMatchObject({ hostname: 'a', port: 1 });
    expect(amqpConnectOptions('amqp://a//', 0, true)).toMatchObject({ protocol: 'amqps', port: 5671 });
  });

  it('tries the list round-robin from the one after the lost URL, or shuffled', () => {
    expect(failoverOrder(3, 'round-robin', 0)).toEqual([0, 1, 2]);
    expect(failoverOrder(3, 'round-robin', 2)).toEqual([2, 0, 1]);
    expect(failoverOrder(1, 'round-robin', 1)).toEqual([0]);
    expect(failoverOrder(4, 'shuffle', 0, () => 0).sort()).toEqual([0, 1, 2, 3]);
    expect(parseFailoverStrategy(undefined)).toBe('round-robin');
    expect(codeOf(() => parseFailoverStrategy('priority'))).toMatch(/^AMQP_URL_INVALID: broker_failover_strategy/);
  });

  it("reads broker_use_ssl as kombu's pyamqp takes it", () => {
    expect(parseAmqpUseSsl(undefined)).toBeNull();
    expect(parseAmqpUseSsl(false)).toBeNull();
    expect(parseAmqpUseSsl(true)).toEqual({ certReqs: 'required' });
    expect(
      parseAmqpUseSsl({ ca_certs: '/ca.pem', certfile: '/c.pem', keyfile: '/k.pem', cert_reqs: 'CERT_OPTIONAL' }),
    ).toEqual({ caCerts: '/ca.pem', certfile: '/c.pem', keyfile: '/k.pem', certReqs: 'optional' });
    expect(parseAmqpUseSsl({ cert_reqs: 0 })).toEqual({ certReqs: 'none' });
    expect(codeOf(() => parseAmqpUseSsl({ ssl_ca_certs: '/ca.pem' }))).toMatch(/ssl_ca_certs is not one/);
    expect(codeOf(() => parseAmqpUseSsl({ cert_reqs: 'maybe' }))).toMatch(/cert_reqs must be/);
    expect(codeOf(() => parseAmqpUseSsl('yes'))).toMatch(/^AMQP_URL_INVALID/);
  });

  it("reads the retry policy and kombu's sleeps", () => {
    expect(reconnectPolicyOf({})).toEqual({ retry: true, maxRetries: 100 });
    expect(reconnectPolicyOf({ broker_connection_retry: false, broker_connection_max_retries: null })).toEqual({
      retry: false,
      maxRetries: null,
    });
    expect([1, 2, 3, 15, 16, 40].map(reconnectSleepMs)).toEqual([2000, 4000, 6000, 30_000, 30_000, 30_000]);
  });
});

describe('queue types (Celery 5.5 quorum queues)', () => {
  it('declares the default queue quorum under task_default_queue_type, others by their x-queue-type', () => {
    const d = new QueueDeclarations({
      task_default_queue_type: 'quorum',
      task_queues: {
        q2: { queue_arguments: { 'x-queue-type': 'quorum' } },
        p: { queue_arguments: { 'x-max-priority': 5 } },
      },
    });
    const celery = d.of('celery');
    expect(celery?.queueType).toBe('quorum');
    expect(queueArguments(celery as NonNullable<typeof celery>)).toEqual({ 'x-queue-type': 'quorum' });
    expect(d.of('q2')?.queueType).toBe('quorum');
    const p = d.of('p');
    expect(p?.queueType).toBe('classic');
    expect(queueArguments(p as NonNullable<typeof p>)).toEqual({ 'x-max-priority': 5 });
    expect(d.hasQuorum()).toBe(true);
    expect(new QueueDeclarations({}).hasQuorum()).toBe(false);
  });

  it('refuses a quorum queue with a priority or with worker_detect_quorum_queues off, before any declare', () => {
    expect(
      codeOf(() => new QueueDeclarations({ task_default_queue_type: 'quorum', task_queue_max_priority: 10 })),
    ).toMatch(
      /^AMQP_QUEUE_CONFLICT: queue "celery" is a quorum queue and would get x-max-priority 10 \(task_queue_max_priority\)/,
    );
    expect(
      codeOf(
        () =>
          new QueueDeclarations({
            task_queues: { q: { queue_arguments: { 'x-queue-type': 'quorum', 'x-max-priority': 3 } } },
          }),
      ),
    ).toMatch(/queue "q" is a quorum queue .*queue_arguments\.x-max-priority/);
    expect(
      codeOf(() => new QueueDeclarations({ task_default_queue_type: 'quorum', worker_detect_quorum_queues: false })),
    ).toMatch(/worker_detect_quorum_queues is false/);
    expect(codeOf(() => new QueueDeclarations({ task_default_queue_type: 'stream' }))).toMatch(
      /^AMQP_QUEUE_CONFLICT: task_default_queue_type must be "classic" or "quorum"/,
    );
  });
});

describe('deliveries of a dead channel', () => {
  it('acks a redelivery of a task that finished while the connection was down, instead of running it again', () => {
    const book = new OrphanedDeliveries();
    book.adopt(generationTag(1, 7), 'task-a');
    expect(book.settle('1.7')).toBeNull();
    expect(book.onRedelivered('task-a', '2.1')).toEqual({ action: 'ack' });
    // Only once: a later redelivery of the same id (another send) runs.
    expect(book.onRedelivered('task-a', '2.2')).toEqual({ action: 'deliver' });
  });

  it('parks a redelivery of a task still running, and settles or gives it back with the old delivery', () => {
    const book = new OrphanedDeliveries();
    book.adopt('1.1', 'run');
    book.adopt('1.2', 'back');
    expect(book.onRedelivered('run', '2.5')).toEqual({ action: 'park', orphanTag: '1.1' });
    expect(book.onRedelivered('back', '2.6')).toEqual({ action: 'park', orphanTag: '1.2' });
    expect(book.settle('1.1')).toBe('2.5');
    expect(book.giveBack('1.2')).toBe('2.6');
    expect(book.size).toBe(0);
    expect(book.onRedelivered('other', '2.7')).toEqual({ action: 'deliver' });
    expect(book.onRedelivered(null, '2.8')).toEqual({ action: 'deliver' });
  });

  it('parks again after a second loss (the parked copy came back to RabbitMQ with that channel)', () => {
    const book = new OrphanedDeliveries();
    book.adopt('1.1', 't');
    expect(book.onRedelivered('t', '2.1')).toEqual({ action: 'park', orphanTag: '1.1' });
    book.unbindAll();
    expect(book.onRedelivered('t', '3.1')).toEqual({ action: 'park', orphanTag: '1.1' });
    expect(book.settle('1.1')).toBe('3.1');
  });
});
