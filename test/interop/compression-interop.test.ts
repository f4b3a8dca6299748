// bzip2 and lzma compression (kombu's names) between Debian's Python Celery 5.2 and Celeriac, on one
// private redis-server: Python producers -> the `celeriac worker` program (needs `npm run build`),
// our client and our worker's follow-up messages -> a Python worker. Celery 5.2 stores results
// uncompressed (result_compression only picks the task messages' compression), so results are read
// back as plain JSON in both directions.
import { Celeriac } from '@celeriac/client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { pollUntil } from '../support/celery-poll.js';
import { type PythonClientOp, runPythonClientByRef } from '../support/celery-python-client.js';
import { CeleriacWorkerProcess } from '../support/celery-ts-worker.js';
import { CeleryWorker } from '../support/celery-worker.js';
import { RedisServer } from '../support/redis-server.js';

const GET = { timeout: 20_000 };

describe('bzip2 and lzma compression with Python Celery', { timeout: 90_000 }, () => {
  let redis: RedisServer;
  let broker: Redis;
  let config: Record<string, unknown>;
  let ours: CeleriacWorkerProcess;
  let theirs: CeleryWorker;

  const python = (ops: PythonClientOp[], extra: Record<string, unknown> = {}) =>
    runPythonClientByRef(ops, { ...config, ...extra });

  beforeAll(async () => {
    redis = await RedisServer.start();
    broker = new Redis(redis.url(0));
    config = { broker_url: redis.url(0), result_backend: redis.url(1) };
    [ours, theirs] = await Promise.all([
      // Our worker sends its follow-up messages (the chain's next step) lzma-compressed.
      CeleriacWorkerProcess.start({ config: { ...config, task_compression: 'lzma' }, queues: ['ts-c'] }),
      CeleryWorker.start({ config, queues: ['py-c'], pool: 'solo' }),
    ]);
  });

  afterAll(async () => {
    broker?.disconnect();
    await Promise.all([ours?.stop(), theirs?.stop()]);
    await redis?.stop();
  });

  it('our worker runs what Python compressed with bzip2 and lzma (per call and by task_compression)', async () => {
    const big = 'celery '.repeat(2000);
    const send = (ref: string, compression: string) => ({
      op: 'send' as const,
      ref,
      name: 'tasks.echo',
      args: [`${ref}:${big}`],
      options: { queue: 'ts-c', compression },
      wait: 20,
    });
    const out = await python([send('bzip2', 'bzip2'), send('bzip', 'bzip'), send('lzma', 'lzma'), send('xz', 'xz')]);
    for (const ref of ['bzip2', 'bzip', 'lzma', 'xz']) {
      expect(out.get(ref)).toMatchObject({ ok: true, state: 'SUCCESS', result: `${ref}:${big}` });
    }
    for (const compression of ['bzip2', 'lzma']) {
      const viaSetting = await python(
        [{ op: 'send', ref: 's', name: 'tasks.add', args: [20, 22], options: { queue: 'ts-c' }, wait: 20 }],
        { task_compression: compression },
      );
      expect(viaSetting.get('s')).toMatchObject({ ok: true, result: 42 });
    }
  });

  it('a Python worker runs what our client compressed with lzma (task_compression, and result_compression)', async () => {
    for (const settings of [{ task_compression: 'lzma' }, { task_compression: 'xz' }, { result_compression: 'lzma' }]) {
      const app = new Celeriac('compression', { ...config, ...settings });
      try {
        const big = 'z'.repeat(5000);
        const r = await app.sendTask('tasks.echo', [big], {}, { queue: 'py-c' });
        expect(await r.get(GET)).toBe(big);
        // The wire: kombu's content type, a body far smaller than the 5000 bytes it carries.
        await app.sendTask('tasks.echo', [big], {}, { queue: 'held' });
        const raw = JSON.parse((await broker.rpop('held')) as string) as {
          headers: { compression: string };
          body: string;
        };
        expect(raw.headers.compression).toBe('application/x-lzma');
        expect(Buffer.from(raw.body, 'base64').length).toBeLessThan(500);
      } finally {
        await app.close();
      }
    }
  });

  it("our worker's follow-up messages go out lzma-compressed, and a Python worker runs them", async () => {
    // The chain's second step goes to a queue nobody reads, is checked there, then handed to Python.
    const out = await python([
      {
        op: 'chain',
        ref: 'chain',
        steps: [
          { name: 'tasks.add', args: [1, 2], options: { queue: 'ts-c' } },
          { name: 'tasks.mul', args: [10], options: { queue: 'held-chain' } },
        ],
      },
    ]);
    const raw = await pollUntil(async () => (await broker.rpop('held-chain')) ?? undefined, {
      what: 'the chain step our worker sent',
      timeoutMs: 20_000,
    });
    const message = JSON.parse(raw) as { headers: { compression?: string; task: string } };
    expect(message.headers).toMatchObject({ task: 'tasks.mul', compression: 'application/x-lzma' });
    await broker.lpush('py-c', raw);
    const done = await python([{ op: 'get', ref: 'chain', id: out.get('chain')?.id as string, wait: 20 }]);
    expect(done.get('chain')).toMatchObject({ ok: true, result: 30 });
  });

  it('bzip2 cannot be sent from Celeriac: refused naming why, nothing sent', async () => {
    const attempt = async () => {
      const app = new Celeriac('compression', { ...config, task_compression: 'bzip2' });
      try {
        await app.sendTask('tasks.add', [1, 1], {}, { queue: 'never' });
      } finally {
        await app.close();
      }
    };
    await expect(attempt()).rejects.toThrow(/bzip2 is not supported for sending: Celeriac reads bzip2/);
    expect(await broker.llen('never')).toBe(0);
    // Python's bzip2 still reaches us (the first test); a bzip2 body that is not bzip2 is dead-lettered.
    await broker.lpush(
      'ts-c',
      JSON.stringify({
        body: Buffer.from('not bzip2').toString('base64'),
        'content-encoding': 'utf-8',
        'content-type': 'application/json',
        headers: {
          lang: 'py',
          task: 'tasks.add',
          id: 'bad-bz2-1',
          compression: 'application/x-bz2',
          root_id: 'bad-bz2-1',
          parent_id: null,
          group: null,
        },
        properties: {
          correlation_id: 'bad-bz2-1',
          delivery_mode: 2,
          delivery_info: { exchange: '', routing_key: 'ts-c' },
          priority: 0,
          body_encoding: 'base64',
          delivery_tag: 'bad-bz2-tag',
        },
      }),
    );
    const record = await pollUntil(
      async () => {
        const raws = await broker.lrange('celeriac.dead-letter', 0, -1);
        return raws.map((raw) => JSON.parse(raw) as Record<string, unknown>).find((r) => r.task_id === 'bad-bz2-1');
      },
      { what: 'the broken bzip2 message in the dead-letter list', timeoutMs: 20_000 },
    );
    expect(String(record.reason)).toContain('body cannot be decompressed (application/x-bz2)');
  });
});
