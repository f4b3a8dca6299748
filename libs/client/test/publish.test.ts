import { readFileSync } from 'node:fs';
import { decodeTaskEnvelope, formatCeleryDate, type TaskMessage } from '@celeriac/protocol';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { CELERY_FIXTURES_DIR } from '../../../test/support/celery-fixtures.js';
import { RedisServer } from '../../../test/support/redis-server.js';
import { Celeriac } from '../src/celeriac.js';
import { chain } from '../src/chain.js';
import { ApplyOptionsError, BatchPartiallySentError, ClientClosedError } from '../src/errors.js';

const FIXTURES = CELERY_FIXTURES_DIR;
const fixture = (name: string) => JSON.parse(readFileSync(`${FIXTURES}/${name}.json`, 'utf8'));
const ISO6 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{6}\+00:00$/;

let server: RedisServer;
let redis: Redis;
let app: Celeriac;

beforeAll(async () => {
  server = await RedisServer.start();
  redis = new Redis(server.url(0));
});

afterAll(async () => {
  await app?.close();
  redis?.disconnect();
  await server?.stop();
});

beforeEach(async () => {
  await app?.close();
  await redis.flushall();
  app = new Celeriac('tasks', {
    broker_url: server.url(0),
    result_backend: server.url(1),
    task_routes: { 'tasks.routed': { queue: 'other' }, 'tasks.glob_*': 'globq' },
  });
});

type Envelope = {
  'content-type': string;
  'content-encoding': string;
  headers: Record<string, unknown>;
  properties: Record<string, unknown> & { delivery_info: { exchange: string; routing_key: string } };
};

async function entries(list: string): Promise<{ raw: string; envelope: Envelope; message: TaskMessage }[]> {
  // LPUSH + BRPOP makes a list FIFO from its right end: reverse LRANGE to get publish order.
  const raws = (await redis.lrange(list, 0, -1)).reverse();
  return raws.map((raw) => {
    const decoded = decodeTaskEnvelope(raw, { accept: ['json', 'msgpack'] });
    if (!decoded.ok) throw new Error(`undecodable entry in ${list}: ${decoded.reason}`);
    return { raw, envelope: JSON.parse(raw) as Envelope, message: decoded.message };
  });
}

async function only(list: string) {
  const all = await entries(list);
  expect(all).toHaveLength(1);
  return all[0]!;
}

describe('delay / applyAsync / sendTask on Redis', () => {
  it('delay puts a protocol v2 envelope on the default queue with the headers Celery sends', async () => {
    const add = app.task('tasks.add', (a: number, b: number) => a + b);
    const r = await add.delay(2, 3);
    const { envelope, message } = await only('celery');
    const pyHeaders = fixture('a_add_json').broker.message.envelope.headers;
    expect(Object.keys(envelope.headers)).toEqual(Object.keys(pyHeaders));
    expect(envelope.headers).toMatchObject({
      task: 'tasks.add',
      id: r.id,
      root_id: r.id,
      parent_id: null,
      eta: null,
      expires: null,
      retries: 0,
      timelimit: [null, null],
      argsrepr: '(2, 3)',
      kwargsrepr: '{}',
      ignore_result: false,
    });
    expect(envelope['content-type']).toBe('application/json');
    expect(envelope.properties).toMatchObject({
      correlation_id: r.id,
      delivery_mode: 2,
      delivery_info: { exchange: '', routing_key: 'celery' },
      priority: 0,
      body_encoding: 'base64',
    });
    expect(envelope.properties.expiration).toBeUndefined();
    expect(message.args).toEqual([2, 3]);
    expect(message.kwargs).toEqual({});
    expect(message.embed).toEqual({ callbacks: null, errbacks: null, chain: null, chord: null });
    expect(r.state).toBe('PENDING');
    expect(await redis.sismember('_kombu.binding.celery', 'celery\x06\x16\x06\x16celery')).toBe(1);
  });

  it('routes by task_routes (exact and glob), and a per-call queue wins', async () => {
    const routed = app.task('tasks.routed', () => 1);
    const glob = app.task('tasks.glob_hello', () => 1);
    const add = app.task('tasks.add', () => 1);
    await routed.delay(1);
    await glob.delay('x');
    await add.applyAsync([1, 1], {}, { queue: 'other' });
    await routed.applyAsync([2], {}, { queue: 'explicit' });
    const other = await entries('other');
    expect(other.map((e) => e.message.task)).toEqual(['tasks.routed', 'tasks.add']);
    expect(other.map((e) => e.envelope.properties.delivery_info.routing_key)).toEqual(['other', 'other']);
    expect((await only('globq')).message.task).toBe('tasks.glob_hello');
    expect((await only('explicit')).message.args).toEqual([2]);
    expect(await redis.llen('celery')).toBe(0);
  });

  it('sendTask sends by name with args, kwargs and a queue', async () => {
    const r = await app.sendTask('tasks.mul', [2, 3], { round: true }, { queue: 'math' });
    const { message, envelope } = await only('math');
    expect(message.task).toBe('tasks.mul');
    expect(message.id).toBe(r.id);
    expect(message.args).toEqual([2, 3]);
    expect(message.kwargs).toEqual({ round: true });
    expect(envelope.headers.kwargsrepr).toBe("{'round': True}");
  });

  it('priority goes to kombu sub-lists and properties.priority', async () => {
    const add = app.task('tasks.add', () => 1);
    await add.applyAsync([0], {}, { priority: 0 });
    await add.applyAsync([3], {}, { priority: 3 });
    await add.applyAsync([5], {}, { priority: 5 });
    await add.applyAsync([9], {}, { priority: 9 });
    expect((await only('celery')).envelope.properties.priority).toBe(0);
    const step3 = await entries('celery\x06\x163');
    expect(step3.map((e) => e.envelope.properties.priority)).toEqual([3, 5]);
    expect((await only('celery\x06\x169')).envelope.properties.priority).toBe(9);
    await expect(add.applyAsync([1], {}, { priority: -1 })).rejects.toBeInstanceOf(ApplyOptionsError);
    await expect(add.applyAsync([1], {}, { priority: 2.5 })).rejects.toBeInstanceOf(ApplyOptionsError);
  });

  it('countdown and eta become absolute ISO dates with 6 fractional digits', async () => {
    const add = app.task('tasks.add', () => 1);
    const before = Date.now();
    await add.applyAsync([1], {}, { countdown: 10 });
    const eta = new Date(Date.UTC(2030, 0, 2, 3, 4, 5, 678));
    await add.applyAsync([2], {}, { eta });
    const [a, b] = await entries('celery');
    const etaA = a!.envelope.headers.eta as string;
    expect(etaA).toMatch(ISO6);
    const ms = Date.parse(etaA.replace('+00:00', 'Z'));
    expect(ms).toBeGreaterThanOrEqual(before + 10_000 - 1);
    expect(ms).toBeLessThanOrEqual(Date.now() + 10_000);
    expect(b!.envelope.headers.eta).toBe('2030-01-02T03:04:05.678000+00:00');
    expect(b!.envelope.headers.eta).toBe(formatCeleryDate(eta));
  });

  it('expires (seconds or Date) gives headers.expires and properties.expiration in ms', async () => {
    const add = app.task('tasks.add', () => 1);
    const before = Date.now();
    await add.applyAsync([1], {}, { expires: 60 });
    await add.applyAsync([2], {}, { expires: new Date(Date.now() - 5000) });
    const [a, b] = await entries('celery');
    expect(a!.envelope.headers.expires).toMatch(ISO6);
    const at = Date.parse((a!.envelope.headers.expires as string).replace('+00:00', 'Z'));
    expect(at).toBeGreaterThanOrEqual(before + 60_000 - 1);
    const expiration = Number(a!.envelope.properties.expiration);
    expect(typeof a!.envelope.properties.expiration).toBe('string');
    expect(expiration).toBeGreaterThan(59_000);
    expect(expiration).toBeLessThanOrEqual(60_000);
    expect(b!.envelope.properties.expiration).toBe('0');
  });

  it('msgpack serializer: the content type follows and the body decodes', async () => {
    const add = app.task('tasks.add', () => 1);
    await add.applyAsync([2, 3], { name: 'ünï' }, { serializer: 'msgpack' });
    const { envelope, message } = await only('celery');
    expect(envelope['content-type']).toBe('application/x-msgpack');
    expect(envelope['content-encoding']).toBe('binary');
    expect(message.args).toEqual([2, 3]);
    expect(message.kwargs).toEqual({ name: 'ünï' });
    await expect(add.applyAsync([1], {}, { serializer: 'pickle' as 'json' })).rejects.toBeInstanceOf(ApplyOptionsError);
  });

  it('task_serializer setting and the task serializer option choose msgpack too', async () => {
    app.conf.update({ CELERY_TASK_SERIALIZER: 'msgpack' });
    const add = app.task('tasks.add', () => 1);
    const json = app.task('tasks.json', () => 1, { serializer: 'json' });
    await add.delay(1);
    await json.delay(1);
    const [a, b] = await entries('celery');
    expect(a!.envelope['content-type']).toBe('application/x-msgpack');
    expect(b!.envelope['content-type']).toBe('application/json');
  });

  it('link, link_error, time limits, ignore_result, headers, parent and root ids reach the message', async () => {
    const add = app.task('tasks.add', () => 1);
    const mul = app.task('tasks.mul', () => 1);
    const onError = app.task('tasks.on_error', () => 1);
    await add.applyAsync(
      [2, 3],
      {},
      {
        link: mul.s(10),
        link_error: [onError.s()],
        time_limit: 30,
        soft_time_limit: 20,
        ignore_result: true,
        headers: { tenant: 'acme' },
        parent_id: 'p-1',
        root_id: 'r-1',
        task_id: 'fixed-id',
        shadow: 'add-shadow-name',
      },
    );
    const { envelope, message } = await only('celery');
    const py = fixture('i_link_callback').broker.message.body_decoded[2];
    expect(message.embed.callbacks).toEqual([{ ...py.callbacks[0], task: 'tasks.mul' }]);
    expect(message.embed.errbacks).toEqual([{ ...py.errbacks[0], task: 'tasks.on_error' }]);
    expect(envelope.headers).toMatchObject({
      id: 'fixed-id',
      timelimit: [30, 20],
      ignore_result: true,
      tenant: 'acme',
      parent_id: 'p-1',
      root_id: 'r-1',
      shadow: 'add-shadow-name',
    });
  });

  it('task options and annotations set defaults for time limits and ignore_result', async () => {
    app.conf.update({ task_annotations: { 'tasks.slow': { time_limit: 60 } } });
    const slow = app.task('tasks.slow', () => 1, { soft_time_limit: 50, ignore_result: true, queue: 'slowq' });
    await slow.delay();
    const { envelope } = await only('slowq');
    expect(envelope.headers.timelimit).toEqual([60, 50]);
    expect(envelope.headers.ignore_result).toBe(true);
  });

  it('coalesces publishes of one tick into one LPUSH, keeping FIFO order', async () => {
    const add = app.task('tasks.add', (i: number) => i);
    await add.delay(-1); // declares the queue binding
    await redis.lpop('celery');
    await redis.config('RESETSTAT');
    const promises: Promise<unknown>[] = [];
    for (let i = 0; i < 1500; i++) promises.push(add.delay(i));
    await Promise.all(promises);
    const stats = await redis.info('commandstats');
    expect(stats).toMatch(/cmdstat_lpush:calls=1,/);
    const all = await entries('celery');
    expect(all.map((e) => e.message.args[0])).toEqual(Array.from({ length: 1500 }, (_, i) => i));
  });

  it('applyMany sends a batch in order in few round trips and returns one result per task', async () => {
    const add = app.task('tasks.add', (i: number) => i);
    await add.delay(-1);
    await redis.lpop('celery');
    await redis.config('RESETSTAT');
    const results = await add.applyMany(Array.from({ length: 12_000 }, (_, i) => [i]));
    // 12,000 entries go out as 6 chunks of 2,000, each sent as soon as it is full.
    expect((await redis.info('commandstats')).match(/cmdstat_lpush:calls=(\d+),/)?.[1]).toBe('6');
    const all = await entries('celery');
    expect(all.map((e) => e.message.args[0])).toEqual(Array.from({ length: 12_000 }, (_, i) => i));
    expect(all.map((e) => e.message.id)).toEqual(results.map((r) => r.id));
  });

  it('applyMany: an entry that cannot be encoded stops the batch; the ones before it are sent and reported', async () => {
    const add = app.task('tasks.add', (i: number) => i);
    await expect(add.applyMany([[1n], [2]])).rejects.not.toBeInstanceOf(BatchPartiallySentError);
    expect(await redis.llen('celery')).toBe(0);
    const argsList: unknown[][] = Array.from({ length: 8000 }, (_, i) => [i]);
    argsList[6000] = [10n];
    const error = await add.applyMany(argsList).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BatchPartiallySentError);
    expect(error).toMatchObject({ code: 'CLIENT_BATCH_PARTIALLY_SENT', failedIndex: 6000 });
    expect((error as BatchPartiallySentError).sent).toHaveLength(6000);
    const all = await entries('celery');
    expect(all.map((e) => e.message.args[0])).toEqual(Array.from({ length: 6000 }, (_, i) => i));
  });

  it('chain publishes the first step with the rest reversed in embed.chain and returns the last result', async () => {
    const add = app.task('tasks.add', (a: number, b: number) => a + b);
    const mul = app.task('tasks.mul', (a: number, b: number) => a * b);
    const r = await chain(add.s(1, 2), mul.s(10), add.s(5)).applyAsync();
    const { message } = await only('celery');
    const py = fixture('i3_chain_three').broker.message.body_decoded;
    expect(message.args).toEqual(py[0]);
    const steps = message.embed.chain!;
    expect(steps.map((s) => [s.task, s.args])).toEqual([
      ['tasks.add', [5]],
      ['tasks.mul', [10]],
    ]);
    for (const [i, step] of steps.entries()) {
      expect(Object.keys(step).sort()).toEqual(Object.keys(py[2].chain[i]).sort());
      expect(step.options.task_id).toMatch(/^[0-9a-f-]{36}$/);
    }
    expect(r.id).toBe(steps[0]!.options.task_id);
    expect(message.rootId).toBe(message.id);

    const r2 = await app.chain(add.s(1, 2), mul.si(7)).applyAsync({ queue: 'math' });
    const two = await only('math');
    expect(two.message.embed.chain).toEqual([
      { task: 'tasks.mul', args: [7], kwargs: {}, options: { task_id: r2.id }, subtask_type: null, immutable: true },
    ]);
  });

  it('rejects bad args and sends nothing after close', async () => {
    const add = app.task('tasks.add', () => 1);
    await expect(add.applyAsync('x' as unknown as unknown[])).rejects.toBeInstanceOf(ApplyOptionsError);
    await expect(add.applyAsync([], {}, { countdown: Number.NaN })).rejects.toMatchObject({
      code: 'CLIENT_APPLY_OPTIONS_INVALID',
    });
    const pending = add.delay(1);
    await app.close();
    await pending;
    expect(await redis.llen('celery')).toBe(1);
    await app.close();
    await expect(add.delay(2)).rejects.toBeInstanceOf(ClientClosedError);
  });
});
