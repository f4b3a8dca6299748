import { DEFAULT_DEAD_LETTER_KEY } from '@celeriac/broker';
import { encodeTaskEnvelope } from '@celeriac/protocol';
import fc from 'fast-check';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { Harness, LogCapture, waitFor } from './support.js';

const h = new Harness();
beforeAll(() => h.start());
afterEach(() => h.reset());
afterAll(() => h.stop());

interface DeadLetter {
  raw: string;
  reason: string;
  queue: string;
  at: string;
}

async function deadLetters(): Promise<DeadLetter[]> {
  return (await h.broker.lrange(DEFAULT_DEAD_LETTER_KEY, 0, -1)).map((s) => JSON.parse(s) as DeadLetter);
}

function envelope(id: string, task = 't.add', args: unknown[] = [1, 2]): Record<string, unknown> {
  return JSON.parse(encodeTaskEnvelope({ id, task, args, kwargs: {}, queue: 'celery' }));
}

async function setup(maxMessageBytes?: number) {
  const app = h.app({ accept_content: ['json'] });
  const add = app.task('t.add', (a: number, b: number) => a + b);
  const log = new LogCapture();
  const worker = await h.worker(app, maxMessageBytes ? { maxMessageBytes } : {}, log);
  /** Proves the worker still consumes: a valid task completes. */
  const stillConsuming = async () => {
    const r = await add.delay(20, 22);
    expect(await r.get({ timeout: 10_000 })).toBe(42);
    expect(worker.state).toBe('running');
  };
  return { app, add, log, worker, stillConsuming };
}

describe('worker: bad input is dead-lettered, a FAILURE stored when possible, and consuming goes on', () => {
  it('not JSON', async () => {
    const { log, stillConsuming } = await setup();
    await h.broker.lpush('celery', 'this is {not json');
    const [dl] = await waitFor(async () => ((await deadLetters()).length === 1 ? deadLetters() : undefined));
    expect(dl).toMatchObject({ raw: 'this is {not json', queue: 'celery' });
    expect(dl?.reason).toMatch(/^not_json: /);
    expect(log.events('worker.message_rejected')[0]).toMatchObject({ code: 'not_json' });
    await stillConsuming();
    expect(await h.broker.hlen('unacked')).toBe(0);
  });

  it('missing fields (no task name), with the task id logged and a FAILURE stored', async () => {
    const { log, stillConsuming } = await setup();
    const env = envelope('11111111-1111-4111-8111-111111111111');
    delete (env.headers as Record<string, unknown>).task;
    await h.broker.lpush('celery', JSON.stringify(env));
    await waitFor(async () => ((await deadLetters()).length === 1 ? true : undefined));
    const line = log.events('worker.message_rejected')[0];
    expect(line).toMatchObject({ code: 'missing_field', task_id: '11111111-1111-4111-8111-111111111111' });
    const doc = await h.waitDoc('11111111-1111-4111-8111-111111111111');
    expect(doc).toMatchObject({
      status: 'FAILURE',
      result: { exc_type: 'DecodeError', exc_module: 'kombu.exceptions' },
    });
    await stillConsuming();
  });

  it('content type not in accept_content (pickle is never decoded): ContentDisallowed', async () => {
    const { stillConsuming } = await setup();
    const id = '22222222-2222-4222-8222-222222222222';
    const env = envelope(id);
    env['content-type'] = 'application/x-python-serialize';
    env['content-encoding'] = 'binary';
    env.body = Buffer.from('cos\nsystem\n(S"echo pwned"\ntR.').toString('base64');
    await h.broker.lpush('celery', JSON.stringify(env));
    const doc = await h.waitDoc(id);
    expect(doc).toMatchObject({
      status: 'FAILURE',
      result: { exc_type: 'ContentDisallowed', exc_module: 'kombu.exceptions' },
      task_id: id,
    });
    const [dl] = await deadLetters();
    expect(dl?.reason).toMatch(/^content_type_refused: /);
    await stillConsuming();
  });

  it('larger than the configured limit', async () => {
    const { stillConsuming } = await setup(4096);
    const id = '33333333-3333-4333-8333-333333333333';
    await h.broker.lpush(
      'celery',
      encodeTaskEnvelope({ id, task: 't.add', args: ['x'.repeat(10_000), 1], kwargs: {}, queue: 'celery' }),
    );
    const doc = await h.waitDoc(id);
    expect(doc.status).toBe('FAILURE');
    const [dl] = await deadLetters();
    expect(dl?.reason).toMatch(/^too_large: /);
    await stillConsuming();
  });

  it('an unknown task name: NotRegistered, like Celery', async () => {
    const { stillConsuming, log } = await setup();
    const id = '44444444-4444-4444-8444-444444444444';
    await h.broker.lpush('celery', JSON.stringify(envelope(id, 't.nobody')));
    const doc = await h.waitDoc(id);
    expect(doc).toMatchObject({
      status: 'FAILURE',
      result: { exc_type: 'NotRegistered', exc_message: ['t.nobody'], exc_module: 'celery.exceptions' },
    });
    expect(log.events('worker.message_rejected')[0]).toMatchObject({
      code: 'not_registered',
      task: 't.nobody',
      task_id: id,
    });
    const [dl] = await deadLetters();
    expect(JSON.parse(dl?.raw ?? '{}').headers.id).toBe(id);
    await stillConsuming();
    expect(await h.broker.llen('celery')).toBe(0);
  });

  it('a message with an empty task id runs without keeping the results of its batch out', async () => {
    const { add, stillConsuming } = await setup();
    const env = envelope('55555555-5555-4555-8555-555555555555');
    (env.headers as Record<string, unknown>).id = '';
    const others = await add.applyMany([
      [1, 1],
      [2, 2],
    ]);
    await h.broker.lpush('celery', JSON.stringify(env));
    const more = await add.applyMany([[3, 3]]);
    for (const r of [...others, ...more]) expect(await r.get({ timeout: 10_000 })).toBeGreaterThan(0);
    expect(await h.doc('')).toBeNull();
    await stillConsuming();
  });

  it('malformed callback signatures are skipped; the task and the worker go on', async () => {
    const { stillConsuming, log } = await setup();
    const id = '66666666-6666-4666-8666-666666666666';
    const env = envelope(id);
    const body = JSON.stringify([
      [4, 5],
      {},
      { callbacks: [{}, { task: 't.add', args: 7 }], errbacks: null, chain: [{ task: 42 }], chord: null },
    ]);
    env.body = Buffer.from(body).toString('base64');
    await h.broker.lpush('celery', JSON.stringify(env));
    const doc = await h.waitDoc(id);
    expect(doc).toMatchObject({ status: 'SUCCESS', result: 9 });
    // {task: 't.add', args: 7} is sent as add(9) with the bad args dropped: it fails on its own.
    expect(doc.children).toHaveLength(1);
    expect(log.events('worker.task_crashed')).toHaveLength(0);
    await stillConsuming();
  });

  it('property: random and mutated entries never crash the worker; a valid task still completes', async () => {
    const { stillConsuming, worker } = await setup(64 * 1024);
    const valid = encodeTaskEnvelope({
      id: 'b5f4c3d2-0000-4000-8000-000000000000',
      task: 't.add',
      args: [1, 2],
      kwargs: {},
      queue: 'celery',
    });
    const mutated = fc
      .tuple(fc.nat({ max: valid.length - 1 }), fc.nat({ max: 40 }), fc.string({ maxLength: 12 }))
      .map(([at, cut, insert]) => valid.slice(0, at) + insert + valid.slice(Math.min(valid.length, at + cut)));
    const jsonish = fc.jsonValue().map((v) => JSON.stringify(v));
    const envelopeLike = fc
      .record({
        body: fc.oneof(fc.string(), fc.base64String(), fc.constant(Buffer.from('[[1],{},{}]').toString('base64'))),
        'content-type': fc.constantFrom(
          'application/json',
          'application/x-msgpack',
          'application/x-yaml',
          'text/plain',
        ),
        headers: fc.dictionary(
          fc.constantFrom('id', 'task', 'eta', 'expires', 'retries', 'timelimit', 'argsrepr'),
          fc.jsonValue(),
        ),
        properties: fc.record({
          delivery_tag: fc.oneof(fc.uuid(), fc.integer()),
          delivery_info: fc.anything(),
          body_encoding: fc.constantFrom('base64', 'plain', 'zzz'),
        }),
      })
      .map((e) => JSON.stringify(e));
    // Well-formed envelopes around random bodies: random args/kwargs and embeds (callbacks, chain).
    const sigLike = fc.oneof(
      fc.jsonValue(),
      fc.record({ task: fc.constantFrom('t.add', 't.none', ''), args: fc.jsonValue(), immutable: fc.boolean() }),
    );
    const randomBody = fc
      .tuple(
        fc.jsonValue(),
        fc.jsonValue(),
        fc.record({
          callbacks: fc.oneof(fc.constant(null), fc.array(sigLike, { maxLength: 2 })),
          errbacks: fc.oneof(fc.constant(null), fc.array(sigLike, { maxLength: 2 })),
          chain: fc.oneof(fc.constant(null), fc.array(sigLike, { maxLength: 2 })),
          chord: fc.constant(null),
        }),
        fc.uuid(),
      )
      .map(([args, kwargs, embed, id]) => {
        const env = envelope(id);
        env.body = Buffer.from(JSON.stringify([args, kwargs, embed])).toString('base64');
        return JSON.stringify(env);
      });
    let pushed = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.oneof(fc.string(), mutated, jsonish, envelopeLike, randomBody), { minLength: 1, maxLength: 8 }),
        async (entries) => {
          pushed += entries.length;
          const nonEmpty = entries.filter((e) => e.length > 0);
          if (nonEmpty.length > 0) await h.broker.lpush('celery', ...nonEmpty);
          expect(worker.state).toBe('running');
        },
      ),
      { numRuns: 40 },
    );
    expect(pushed).toBeGreaterThan(40);
    await stillConsuming();
    // Every entry was either run or dead-lettered: nothing left in the queue or held.
    await waitFor(async () =>
      (await h.broker.llen('celery')) === 0 && (await h.broker.hlen('unacked')) === 0 ? true : undefined,
    );
    // No slot or prefetch room leaked either.
    await waitFor(() => (worker.stats().running === 0 && worker.stats().held === 0 ? true : undefined));
  });
});
