import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Celeriac } from '@celeriac/client';
import { createLogger } from '@celeriac/logger';
import { Worker } from '@celeriac/worker-runtime';
import { execa } from 'execa';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CeleryWorker } from '../../../test/support/celery-worker.js';
import { RedisServer } from '../../../test/support/redis-server.js';

// `celeriac dead-letter`, `inspect` and `control` with --key-prefix / CELERIAC_BROKER_KEY_PREFIX
// (kombu's global_keyprefix) through the built CLI, against a real redis-server, a real in-process
// celeriac worker and a real Python Celery worker, both with the prefix.
const root = path.resolve(import.meta.dirname, '../../..');
const bin = path.join(root, 'apps/cli/bin/celeriac.js');
const PREFIX = 'acme:';
const SEP = '\x06\x16';

let server: RedisServer;
let redis: Redis;
let url: string;
let app: Celeriac;
let worker: Worker;
let py: CeleryWorker;

async function cli(args: string[], env: Record<string, string> = {}) {
  const r = await execa(process.execPath, [bin, ...args], {
    env: { CELERIAC_BROKER_URL: url, ...env },
    extendEnv: false,
    reject: false,
    timeout: 30_000,
  });
  return { exitCode: r.exitCode ?? -1, stdout: r.stdout, stderr: r.stderr };
}

async function waitFor<T>(check: () => Promise<T | undefined>, timeoutMs = 15_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error('timed out');
    await sleep(25);
  }
}

beforeAll(async () => {
  server = await RedisServer.start();
  url = server.url(0);
  redis = new Redis(url);
  const settings = { broker_url: url, broker_transport_options: { global_keyprefix: PREFIX } };
  app = new Celeriac('kp-test', settings, { logger: createLogger({ level: 'silent', pretty: false }) });
  app.task('t.add', (a: number, b: number) => a + b);
  worker = new Worker({
    app,
    queues: ['celery'],
    concurrency: 2,
    hostname: 'kp@host',
    logger: createLogger({ level: 'silent', pretty: false }),
  });
  await worker.start();
  // The worker dead-letters an entry that is not JSON, under the prefix.
  await redis.lpush(`${PREFIX}celery`, 'this is {not json');
  await waitFor(async () => ((await redis.llen(`${PREFIX}celeriac.dead-letter`)) === 1 ? true : undefined));
  py = await CeleryWorker.start({
    config: { broker_url: url, result_backend: server.url(1), broker_transport_options: { global_keyprefix: PREFIX } },
    // Not `celery`: the malformed entry the tests requeue there is for the celeriac worker.
    queues: ['pyonly'],
    name: 'pykp@localhost',
    pool: 'solo',
  });
}, 90_000);

afterAll(async () => {
  await py?.stop();
  await worker?.close();
  await app?.close();
  redis?.disconnect();
  await server?.stop();
});

describe('the CLI under global_keyprefix', { timeout: 60_000 }, () => {
  it('dead-letter list/requeue read the prefixed list with --key-prefix or the env, and see nothing without', async () => {
    const none = await cli(['dead-letter', 'list']);
    expect(none.exitCode).toBe(0);
    expect(none.stdout).not.toContain('celery');
    const listed = await cli(['dead-letter', 'list', '--key-prefix', PREFIX]);
    expect(listed.exitCode, listed.stderr).toBe(0);
    expect(listed.stdout).toContain('celery');
    const shown = await cli(['dead-letter', 'show', '0'], { CELERIAC_BROKER_KEY_PREFIX: PREFIX });
    expect(shown.exitCode, shown.stderr).toBe(0);
    const first = JSON.parse(shown.stdout) as { record: { raw: string; queue: string; at: string } };
    expect(first.record).toMatchObject({ raw: 'this is {not json', queue: 'celery' });
    // Requeued onto the prefixed queue, where the worker takes it and dead-letters it again.
    const requeued = await cli(['dead-letter', 'requeue', '0', '--key-prefix', PREFIX]);
    expect(requeued.exitCode, requeued.stderr).toBe(0);
    expect(requeued.stdout).toContain('requeued 1');
    const again = await waitFor(async () => {
      const text = await redis.lindex(`${PREFIX}celeriac.dead-letter`, 0);
      const record = text === null ? undefined : (JSON.parse(text) as { at: string; raw: string });
      return record && record.at !== first.record.at ? record : undefined;
    });
    expect(again.raw).toBe('this is {not json');
    expect(await redis.llen(`${PREFIX}celeriac.dead-letter`)).toBe(1);
    expect(await redis.exists('celeriac.dead-letter', 'celery')).toBe(0);
  });

  it('inspect ping reaches a Python worker with the prefix only when given it', async () => {
    const without = await cli(['inspect', 'ping', '-d', 'pykp@localhost', '-t', '2']);
    expect(without.exitCode).toBe(69);
    const withPrefix = await cli([
      'inspect',
      'ping',
      '-d',
      'pykp@localhost,kp@host',
      '-t',
      '3',
      '--key-prefix',
      PREFIX,
      '-j',
    ]);
    expect(withPrefix.exitCode, withPrefix.stderr).toBe(0);
    expect(JSON.parse(withPrefix.stdout)).toEqual({ 'pykp@localhost': { ok: 'pong' }, 'kp@host': { ok: 'pong' } });
  });

  it('control add_consumer <queue> <exchange> <type> <routing_key> binds under the prefix on both workers', async () => {
    const r = await cli([
      'control',
      'add_consumer',
      'orders',
      'shop',
      'direct',
      'order.new',
      '-d',
      'pykp@localhost,kp@host',
      '-t',
      '3',
      '--key-prefix',
      PREFIX,
      '-j',
    ]);
    expect(r.exitCode, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toEqual({
      'pykp@localhost': { ok: 'add consumer orders' },
      'kp@host': { ok: 'add consumer orders' },
    });
    // Both workers declared the same member (one set member, so SADD of the second is a no-op).
    expect(
      await waitFor(async () => {
        const m = await redis.smembers(`${PREFIX}_kombu.binding.shop`);
        return m.length > 0 ? m : undefined;
      }),
    ).toEqual([`order.new${SEP}${SEP}orders`]);
    const queues = await cli(['inspect', 'active_queues', '-d', 'kp@host', '-t', '3', '--key-prefix', PREFIX, '-j']);
    expect(queues.exitCode, queues.stderr).toBe(0);
    const names = (JSON.parse(queues.stdout)['kp@host'] as { name: string }[]).map((q) => q.name).sort();
    expect(names).toEqual(['celery', 'orders']);
    expect(await redis.exists('_kombu.binding.shop')).toBe(0);
  });
});
