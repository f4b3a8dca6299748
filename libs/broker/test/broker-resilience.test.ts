import { Writable } from 'node:stream';
import { createLogger } from '@celeriac/logger';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../../../test/support/redis-server.js';
import { BrokerClosedError, BrokerError, RedisBroker } from '../src/index.js';
import { rawEntry, testLogger, until } from './helpers.js';

const PASSWORD = 's3cret-pw';
let server: RedisServer;

async function requirePassword(): Promise<void> {
  const admin = new Redis(server.url(0), { maxRetriesPerRequest: 1 });
  admin.on('error', () => undefined);
  await admin.config('SET', 'requirepass', PASSWORD);
  admin.disconnect();
}

function handles(): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const name of process.getActiveResourcesInfo()) counts[name] = (counts[name] ?? 0) + 1;
  return counts;
}

beforeAll(async () => {
  server = await RedisServer.start();
});
afterAll(async () => {
  await server.stop();
});

describe('Redis killed and restarted', () => {
  it('rejects with a clear error without the password, then recovers', async () => {
    await requirePassword();
    const lines: string[] = [];
    const destination = new Writable({
      write(chunk, _enc, done) {
        lines.push(String(chunk));
        done();
      },
    });
    const url = `redis://:${PASSWORD}@127.0.0.1:${server.port}/0`;
    const broker = new RedisBroker({ url, logger: createLogger({ level: 'debug', pretty: false, destination }) });
    await broker.start();
    try {
      await broker.publish('celery', rawEntry('before'));
      const pendingWait = broker.waitForOne(['idle'], 30).then(
        (value) => ({ ok: true as const, value }),
        (error: unknown) => ({ ok: false as const, error }),
      );

      await server.kill();
      const error = await broker.publish('celery', rawEntry('during')).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(BrokerError);
      expect((error as BrokerError).code).toBe('BROKER_UNAVAILABLE');
      expect((error as Error).message).toContain('redis://:***@127.0.0.1');
      expect((error as Error).message).not.toContain(PASSWORD);
      const waited = await pendingWait;
      expect(waited.ok).toBe(false);
      if (!waited.ok) expect((waited.error as BrokerError).code).toBe('BROKER_UNAVAILABLE');

      await server.restart();
      await requirePassword();
      await until(
        () =>
          broker.publish('celery', rawEntry('after')).then(
            () => true,
            () => false,
          ),
        15_000,
        100,
      );
      const got = await broker.fetchBatch(['celery'], 10);
      expect(got.map((d) => d.deliveryTag)).toEqual(['after']);
      await broker.ack(['after']);
      expect(await broker.waitForOne(['celery'], 0.1)).toBeNull();
    } finally {
      await broker.close();
      const admin = new Redis(server.url(0), { password: PASSWORD, maxRetriesPerRequest: 1 });
      admin.on('error', () => undefined);
      await admin.config('SET', 'requirepass', '');
      admin.disconnect();
    }
    expect(lines.join('')).not.toContain(PASSWORD);
  });
});

describe('close', () => {
  it('is idempotent, refuses later calls and leaves no sockets or timers', async () => {
    const before = handles();
    const broker = new RedisBroker({ url: server.url(0), logger: testLogger() });
    await broker.start();
    const waiting = broker.waitForOne(['celery'], 30);
    await Promise.all([broker.close(), broker.close()]);
    await broker.close();
    expect(await waiting).toBeNull();
    await expect(broker.fetchBatch(['celery'], 1)).rejects.toBeInstanceOf(BrokerClosedError);
    await expect(broker.start()).rejects.toMatchObject({ code: 'BROKER_CLOSED' });
    await until(() => {
      const after = handles();
      return (after.TCPSocketWrap ?? 0) <= (before.TCPSocketWrap ?? 0) && (after.Timeout ?? 0) <= (before.Timeout ?? 0);
    }, 5_000);
  });

  it('start fails clearly when Redis is not there', async () => {
    const broker = new RedisBroker({ url: 'redis://:pw-xyz@127.0.0.1:1/0', logger: testLogger() });
    const error = await broker.start().then(
      () => undefined,
      (e: unknown) => e as BrokerError,
    );
    expect(error?.code).toBe('BROKER_UNAVAILABLE');
    expect(error?.message).not.toContain('pw-xyz');
    await broker.close();
  });
});
