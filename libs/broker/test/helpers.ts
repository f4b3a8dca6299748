import { readFileSync } from 'node:fs';
import { createLogger, type Logger } from '@celeriac/logger';
import { Redis } from 'ioredis';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { CELERY_FIXTURES_DIR } from '../../../test/support/celery-fixtures.js';
import { RedisServer } from '../../../test/support/redis-server.js';
import { type BrokerOptions, RedisBroker } from '../src/index.js';

export { capturingLogger } from '../../../test/support/capturing-logger.js';

const FIXTURES = `${CELERY_FIXTURES_DIR}/`;

/** A fixture file parsed. */
export function fixture<T = Record<string, unknown>>(name: string): T {
  return JSON.parse(readFileSync(FIXTURES + name + '.json', 'utf8')) as T;
}

/** A quiet logger for tests. */
export function testLogger(): Logger {
  return createLogger({ level: 'silent', pretty: false });
}

/** A kombu-shaped raw entry with its own tag and task id, in Python's json.dumps spacing. */
export function rawEntry(tag: string, options: { queue?: string; priority?: number; compact?: boolean } = {}): string {
  const queue = options.queue ?? 'celery';
  const raw =
    `{"body": "W1sxLCAyXSwge30sIHt9XQ==", "content-encoding": "utf-8", "content-type": "application/json", ` +
    `"headers": {"lang": "py", "task": "tasks.add", "id": "id-${tag}", "retries": 0}, ` +
    `"properties": {"correlation_id": "id-${tag}", "delivery_mode": 2, ` +
    `"delivery_info": {"exchange": "", "routing_key": ${JSON.stringify(queue)}}, ` +
    `"priority": ${options.priority ?? 0}, "body_encoding": "base64", "delivery_tag": "${tag}"}}`;
  return options.compact ? JSON.stringify(JSON.parse(raw)) : raw;
}

/** A plain client for inspecting keys. */
export function inspector(url: string): Redis {
  return new Redis(url, { maxRetriesPerRequest: 1 });
}

/** Polls `check` until it returns a truthy value or the time runs out. */
export async function until<T>(check: () => Promise<T> | T, timeoutMs = 10_000, intervalMs = 10): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}

/**
 * Registers the hooks every broker test file needs: a private redis-server for the file (flushed
 * before each test), an inspector connection on db 0 (`connected` gets both), and brokers made with
 * the returned `broker()` closed after each test.
 */
export function useBrokerServer(connected: (server: RedisServer, redis: Redis) => void): {
  broker(options?: Partial<BrokerOptions>): Promise<RedisBroker>;
} {
  let server: RedisServer | undefined;
  let redis: Redis | undefined;
  const brokers: RedisBroker[] = [];
  beforeAll(async () => {
    server = await RedisServer.start();
    redis = inspector(server.url(0));
    connected(server, redis);
  });
  afterAll(async () => {
    redis?.disconnect();
    await server?.stop();
  });
  beforeEach(async () => {
    await redis?.flushall();
  });
  afterEach(async () => {
    await Promise.all(brokers.splice(0).map((b) => b.close()));
  });
  return {
    async broker(options = {}) {
      const b = new RedisBroker({ url: (server as RedisServer).url(0), logger: testLogger(), ...options });
      await b.start();
      brokers.push(b);
      return b;
    },
  };
}
