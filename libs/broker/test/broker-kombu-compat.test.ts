import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { RedisServer } from '../../../test/support/redis-server.js';
import { RedisBroker } from '../src/index.js';
import { fixture, inspector, rawEntry, testLogger } from './helpers.js';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';

/** kombu 5.2's own Redis transport, driven from Python. */
async function kombu(script: string, url: string): Promise<string> {
  const { stdout } = await run(PYTHON, ['-c', script, url], { timeout: 30_000 });
  return stdout.trim();
}

const KOMBU_RESTORE_VISIBLE = `
import sys
from kombu import Connection
with Connection(sys.argv[1], transport_options={'visibility_timeout': 0.2}) as conn:
    conn.default_channel.qos.restore_visible(num=100)
`;

// Takes one message with ack emulation and dies without acking (no restore at shutdown).
const KOMBU_TAKE_AND_DIE = `
import os, sys
from kombu import Connection
conn = Connection(sys.argv[1])
ch = conn.channel()
msg = ch.basic_get('celery', no_ack=False)
sys.stdout.write(msg.delivery_tag)
sys.stdout.flush()
os._exit(0)
`;

let server: RedisServer;
let redis: ReturnType<typeof inspector>;

beforeAll(async () => {
  server = await RedisServer.start();
  redis = inspector(server.url(0));
});
afterAll(async () => {
  redis.disconnect();
  await server.stop();
});
beforeEach(async () => {
  await redis.flushall();
});

describe('unacked entries are shared with real kombu', () => {
  it('kombu restore_visible puts back an entry our broker fetched and left unacked', async () => {
    const fx = fixture<{ original_publish: { raw: string }[]; restored_message: { envelope: unknown }[] }>(
      'visibility_timeout_restore',
    );
    const broker = new RedisBroker({ url: server.url(0), logger: testLogger() });
    await broker.start();
    try {
      await broker.publish('celery', fx.original_publish[0]!.raw);
      const [held] = await broker.fetchBatch(['celery'], 1);
      await new Promise((r) => setTimeout(r, 400));
      await kombu(KOMBU_RESTORE_VISIBLE, server.url(0));
      expect(await redis.exists('unacked', 'unacked_index', 'unacked_mutex')).toBe(0);
      const [again] = await broker.fetchBatch(['celery'], 1);
      expect(again!.deliveryTag).toBe(held!.deliveryTag);
      expect(JSON.parse(again!.raw)).toEqual(fx.restored_message[0]!.envelope);
      await broker.ack([again!.deliveryTag]);
    } finally {
      await broker.close();
    }
  });

  it('our visibility restore puts back an entry a kombu consumer took and never acked', async () => {
    const broker = new RedisBroker({ url: server.url(0), logger: testLogger(), visibilityTimeoutMs: 100 });
    await broker.start();
    try {
      await broker.publish('celery', rawEntry('kombu-held'));
      expect(await kombu(KOMBU_TAKE_AND_DIE, server.url(0))).toBe('kombu-held');
      const stored = JSON.parse((await redis.hget('unacked', 'kombu-held'))!);
      expect(stored.slice(1)).toEqual(['', 'celery']);
      await new Promise((r) => setTimeout(r, 200));
      expect(await broker.restoreVisibilityTimeout()).toBe(1);
      const [again] = await broker.fetchBatch(['celery'], 1);
      expect(again!.deliveryTag).toBe('kombu-held');
      const env = JSON.parse(again!.raw);
      expect(env.headers.redelivered).toBe(true);
      expect(env.properties.delivery_info).toEqual({ exchange: '', routing_key: 'celery', redelivered: true });
    } finally {
      await broker.close();
    }
  });

  it('kombu restore_visible leaves alone what a live owner holds past the timeout, and takes it once the owner is gone', async () => {
    // The lease renews every 100 ms and refreshes the held entry's unacked_index score.
    const owner = new RedisBroker({ url: server.url(0), logger: testLogger(), ownerId: 'long:1', leaseTtlMs: 300 });
    await owner.start();
    try {
      await owner.publish('celery', rawEntry('long-task'));
      await owner.fetchBatch(['celery'], 1);
      await new Promise((r) => setTimeout(r, 600));
      await kombu(KOMBU_RESTORE_VISIBLE, server.url(0));
      expect(await redis.hkeys('unacked')).toEqual(['long-task']);
      expect(await redis.llen('celery')).toBe(0);
    } finally {
      await owner.close();
    }
    await new Promise((r) => setTimeout(r, 400));
    await kombu(KOMBU_RESTORE_VISIBLE, server.url(0));
    expect(await redis.hlen('unacked')).toBe(0);
    expect(await redis.llen('celery')).toBe(1);
  });
});
