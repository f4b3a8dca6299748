// kombu's failover list on RabbitMQ (`amqp://h1;amqp://h2`, round-robin): the first URL that
// answers is used (a dead port first is skipped), and on a loss the next one; the control plane's
// connection (pidbox, replies) takes the same list. Two private nodes
// (test/support/rabbitmq-node.ts), not clustered: messages left on the lost node stay there.
import net from 'node:net';
import { AmqpBroker, type AmqpConnectionChange } from '@celeriac/broker-amqp';
import { Celeriac } from '@celeriac/client';
import { createLogger } from '@celeriac/logger';
import { encodeTaskEnvelope } from '@celeriac/protocol';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../support/celery-poll.js';
import { CeleriacWorkerProcess } from '../support/celery-ts-worker.js';
import { RabbitNode } from '../support/rabbitmq-node.js';
import { freePort, RedisServer } from '../support/redis-server.js';

const logger = createLogger({ level: 'silent' });

describe('RabbitMQ failover lists', { timeout: 60_000 }, () => {
  let a: RabbitNode;
  let b: RabbitNode;
  let redis: RedisServer;

  beforeAll(async () => {
    [a, b, redis] = await Promise.all([RabbitNode.start(), RabbitNode.start(), RedisServer.start()]);
  });

  afterAll(async () => {
    await Promise.all([a?.stop(), b?.stop(), redis?.stop()]);
  });

  it('skips a dead port first in the list and connects to the next that answers', async () => {
    const dead = `amqp://guest:guest@127.0.0.1:${await freePort()}//`;
    const broker = new AmqpBroker({ url: `${dead};${a.url()}`, logger });
    const seen: AmqpConnectionChange[] = [];
    broker.onConnectionChange((c) => seen.push(c));
    try {
      await broker.start();
      expect(seen[0]).toMatchObject({ state: 'connected', url: expect.stringContaining(`:${a.port}/`) });
      await broker.publish('skip', encodeTaskEnvelope({ id: 's1', task: 't', args: [], kwargs: {}, queue: 'skip' }));
      expect(await a.queueCounts('skip')).toEqual({ ready: 1, unacked: 0 });
    } finally {
      await broker.close();
    }
  });

  it('gives up on a host that accepts and never answers after broker_connection_timeout, and takes the next', async () => {
    const silent = net.createServer(() => undefined);
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    const port = (silent.address() as net.AddressInfo).port;
    const broker = new AmqpBroker({
      url: `amqp://guest:guest@127.0.0.1:${port}//;${a.url()}`,
      logger,
      settings: { broker_connection_timeout: 1 },
    });
    const startedAt = Date.now();
    try {
      await broker.start();
      const took = Date.now() - startedAt;
      expect(took).toBeGreaterThanOrEqual(900);
      expect(took).toBeLessThan(10_000);
      expect(broker.state).toBe('connected');
    } finally {
      await broker.close();
      silent.close();
    }
  });

  it('a worker and a producer on "a;b" go on with b when a stops', async () => {
    const list = `${a.url()};${b.url()}`;
    const config = { broker_url: list, result_backend: redis.url(1) };
    const worker = await CeleriacWorkerProcess.start({ config, queues: ['celery'], concurrency: 2 });
    const app = new Celeriac('amqp-failover', config, { logger: createLogger({ level: 'fatal', pretty: false }) });
    try {
      expect(await (await app.sendTask('tasks.add', [1, 2])).get({ timeout: 15_000 })).toBe(3);
      expect(await b.queueCounts('celery')).toBeNull();
      await a.stopApp();
      // The producer reconnects to b (round-robin: the one after a), declares there and sends.
      const later = await Promise.all(Array.from({ length: 10 }, (_, i) => app.sendTask('tasks.mul', [i, 3])));
      const values = await Promise.all(later.map((r) => r.get({ timeout: 30_000 })));
      expect(values).toEqual(Array.from({ length: 10 }, (_, i) => i * 3));
      await pollUntil(
        async () => {
          const c = await b.queueCounts('celery');
          return c?.ready === 0 && c.unacked === 0 ? c : undefined;
        },
        { what: 'b drained by the worker', timeoutMs: 10_000, intervalMs: 200 },
      );
      expect(worker.program.output()).toMatch(new RegExp(`broker.amqp_reconnected.*:${b.port}/`));
      expect(worker.program.running).toBe(true);
    } finally {
      await app.close();
      await worker.stop();
      await a.startApp();
    }
  });

  it('the control plane takes the list too: a worker and a client on "dead;a" answer and ask inspect ping', async () => {
    const dead = `amqp://guest:guest@127.0.0.1:${await freePort()}//`;
    const config = { broker_url: `${dead};${a.url()}`, result_backend: redis.url(2) };
    const name = `failover-${process.pid}@localhost`;
    const worker = await CeleriacWorkerProcess.start({ config, name, queues: ['celery'], concurrency: 1 });
    const app = new Celeriac('amqp-failover-ctl', config, { logger });
    try {
      const pong = await pollUntil(
        async () => {
          const replies = await app.control.inspect({ destination: [name], timeoutMs: 1_000 }).ping();
          return replies[name] !== undefined ? replies : undefined;
        },
        { what: `${name} answers inspect ping`, timeoutMs: 20_000, intervalMs: 200 },
      );
      expect(pong).toEqual({ [name]: { ok: 'pong' } });
      expect(worker.output()).not.toMatch(/CONTROL_UNAVAILABLE/);
    } finally {
      await app.close();
      await worker.stop();
    }
  });
});
