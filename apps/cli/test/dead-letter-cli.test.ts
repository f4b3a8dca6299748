import { Celeriac } from '@celeriac/client';
import { createLogger } from '@celeriac/logger';
import { encodeTaskEnvelope } from '@celeriac/protocol';
import { Worker } from '@celeriac/worker-runtime';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../../../test/support/celery-poll.js';
import { freePort, RedisServer } from '../../../test/support/redis-server.js';
import { deadLetterCli } from './support/dead-letter-cli.js';

// `celeriac dead-letter` through the built CLI (`npx tsc -b tsconfig.build.json` first), against a
// real redis-server with a password, on records a real in-process worker dead-lettered.
const PASSWORD = 'dl-s3cret-pw';
const DL_KEY = 'celeriac.dead-letter';

let server: RedisServer;
let redis: Redis;
let url: string;

const cli = (args: string[], env: Record<string, string> = { CELERIAC_BROKER_URL: url }) =>
  deadLetterCli(args, env, PASSWORD);

const NOT_JSON = 'this is {not json';
const BIG_NOT_JSON = `{broken ${'x'.repeat(5000)}`;
let weird: string;

beforeAll(async () => {
  server = await RedisServer.start();
  const admin = new Redis(server.url());
  await admin.config('SET', 'requirepass', PASSWORD);
  admin.disconnect();
  url = `redis://:${PASSWORD}@127.0.0.1:${server.port}/0`;
  redis = new Redis(url);

  // A real worker dead-letters three entries: not JSON, an unknown content type, and an oversize
  // raw (stored truncated, as celeriac_dead_letter_max_raw_bytes says).
  const app = new Celeriac(
    'dl-test',
    { broker_url: url, accept_content: ['json'], celeriac_dead_letter_max_raw_bytes: 1024 },
    { logger: createLogger({ level: 'silent', pretty: false }) },
  );
  app.task('t.add', (a: number, b: number) => a + b);
  const worker = new Worker({
    app,
    queues: ['celery'],
    concurrency: 2,
    hostname: 'dl@host',
    logger: createLogger({ level: 'silent', pretty: false }),
  });
  await worker.start();
  const env = JSON.parse(
    encodeTaskEnvelope({
      id: 'aaaaaaaa-1111-4111-8111-111111111111',
      task: 't.add',
      args: [1, 2],
      kwargs: {},
      queue: 'celery',
    }),
  ) as Record<string, unknown>;
  env['content-type'] = 'application/x-weird';
  weird = JSON.stringify(env);
  await redis.lpush('celery', NOT_JSON);
  await redis.lpush('celery', weird);
  await redis.lpush('celery', BIG_NOT_JSON);
  await pollUntil(async () => ((await redis.llen(DL_KEY)) === 3 ? true : undefined), {
    what: 'the dead-letter records',
    timeoutMs: 10_000,
    intervalMs: 25,
  });
  await worker.close();
  await app.close();
}, 60_000);

afterAll(async () => {
  redis?.disconnect();
  await server?.stop();
});

describe('celeriac dead-letter', () => {
  it('list: a table of index, time, reason, queue, task, size', async () => {
    const r = await cli(['list']);
    expect(r.stderr).toBe('');
    expect(r.exitCode).toBe(0);
    const lines = r.stdout.split('\n');
    expect(lines[0]).toMatch(/^INDEX\s+TIME\s+REASON\s+QUEUE\s+TASK\s+SIZE$/);
    // Newest first: the big one, the unknown content type, then the not-JSON entry.
    expect(lines[1]).toMatch(/^0\s+\d{4}-\d\d-\d\dT.*not_json: .*celery\s+- -\s+4\.9 KiB \(truncated\)$/);
    expect(lines[2]).toMatch(/^1\s.*content_type.*celery\s+t\.add aaaaaaaa-1111-4111-8111-111111111111\s+\d+ B$/);
    expect(lines[3]).toMatch(/^2\s.*not_json: .*celery\s+- -\s+17 B$/);
    expect(r.stdout).toContain('3 shown (0..2) of 3');
    console.log(`dead-letter list:\n${r.stdout}`);
  });

  it('show <n>: the record as JSON; errors and usage', async () => {
    const r = await cli(['show', '1']);
    expect(r.exitCode).toBe(0);
    const shown = JSON.parse(r.stdout);
    expect(shown).toMatchObject({
      index: 1,
      record: { raw: weird, queue: 'celery', task: 't.add', raw_truncated: false },
    });
    expect(shown.record.reason).toMatch(/^content_type/);
    const big = JSON.parse((await cli(['show', '0'])).stdout);
    expect(big.record).toMatchObject({ raw_truncated: true, raw_bytes: Buffer.byteLength(BIG_NOT_JSON) });
    expect(big.record.raw).toHaveLength(1024);

    const missing = await cli(['show', '99']);
    expect(missing.exitCode).toBe(1);
    expect(missing.stderr).toContain('[BROKER_DEAD_LETTER_NOT_FOUND]');
    for (const args of [['show', 'abc'], ['show'], ['frobnicate'], [], ['list', '--limit', '0']]) {
      const bad = await cli(args);
      expect(bad.exitCode, args.join(' ')).toBe(2);
      expect(bad.stderr).toContain('Usage: celeriac dead-letter');
    }
    const help = await cli(['--help']);
    expect(help.exitCode).toBe(0);
    expect(help.stdout).toContain('requeue <n|--all>');
  });

  it('requeue <n>, requeue --all (truncated records stay), purge --yes', async () => {
    const one = await cli(['requeue', '2']);
    expect(one).toMatchObject({ exitCode: 0, stdout: 'requeued 1' });
    expect(await redis.lrange('celery', 0, -1)).toEqual([NOT_JSON]);
    expect(await redis.llen(DL_KEY)).toBe(2);

    const truncated = await cli(['requeue', '0']);
    expect(truncated.exitCode).toBe(1);
    expect(truncated.stderr).toContain('[BROKER_DEAD_LETTER_NOT_REQUEUEABLE]');

    const all = await cli(['requeue', '--all']);
    expect(all).toMatchObject({ exitCode: 0, stdout: 'requeued 1, kept 1 (truncated or unreadable)' });
    expect(await redis.lrange('celery', 0, -1)).toEqual([weird, NOT_JSON]);

    const unconfirmed = await cli(['purge']);
    expect(unconfirmed.exitCode).toBe(2);
    expect(unconfirmed.stderr).toContain('--yes');
    expect(await redis.llen(DL_KEY)).toBe(1);
    expect(await cli(['purge', '--yes'])).toMatchObject({ exitCode: 0, stdout: 'purged 1' });
    const empty = await cli(['list', '--broker', url], {});
    expect(empty.exitCode).toBe(0);
    expect(empty.stdout).toBe(`the dead-letter list is empty (redis://:***@127.0.0.1:${server.port}/0)`);
  });

  it('an unreachable broker or a wrong password: exit 1 with the code, password masked', async () => {
    const port = await freePort();
    const down = await cli(['list', '--broker', `redis://:${PASSWORD}@127.0.0.1:${port}/0`], {});
    expect(down.exitCode).toBe(1);
    expect(down.stderr).toContain('[BROKER_UNAVAILABLE]');
    expect(down.stderr).toContain(`redis://:***@127.0.0.1:${port}/0`);
    const wrong = await cli(['list'], {
      CELERIAC_BROKER_URL: `redis://:${PASSWORD}x@127.0.0.1:${server.port}/0`,
    });
    expect(wrong.exitCode).toBe(1);
    expect(wrong.stderr).toMatch(/\[BROKER_/);
  }, 40_000);
});
