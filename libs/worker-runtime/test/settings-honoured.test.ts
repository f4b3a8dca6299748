import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { EventTap } from '../../../test/support/celery-events.js';
import { Harness, LogCapture, waitFor } from './support.js';

const h = new Harness();
beforeAll(() => h.start());
afterEach(() => h.reset());
afterAll(() => h.stop());

interface Envelope {
  headers: Record<string, unknown>;
  properties: Record<string, unknown>;
  body: string;
}

/** The raw entries of a queue, oldest first, parsed. */
async function queued(queue = 'celery'): Promise<Envelope[]> {
  return (await h.broker.lrange(queue, 0, -1)).reverse().map((raw) => JSON.parse(raw) as Envelope);
}

describe('task_default_rate_limit and worker_disable_rate_limits', () => {
  it('five calls of a task at task_default_rate_limit "1/s" take at least 4 s, as on Celery', async () => {
    const app = h.app({ task_default_rate_limit: '1/s' });
    const add = app.task('t.add', (a: number, b: number) => a + b);
    await h.worker(app, { concurrency: 4 });
    const started = performance.now();
    const results = await Promise.all([1, 2, 3, 4, 5].map((i) => add.delay(i, i)));
    expect(await Promise.all(results.map((r) => r.get({ timeout: 20_000 })))).toEqual([2, 4, 6, 8, 10]);
    expect(performance.now() - started).toBeGreaterThanOrEqual(4000);
  }, 30_000);

  it("a task's own rate_limit wins over the default, and worker_disable_rate_limits lifts every limit", async () => {
    const app = h.app({ task_default_rate_limit: '1/m' });
    const own = app.task('t.own', (x: number) => x, { rate_limit: '100/s' });
    expect(app.taskOptions('t.own').rate_limit).toBe('100/s');
    expect(app.taskOptions('t.other').rate_limit).toBe('1/m');
    await h.worker(app);
    const started = performance.now();
    const results = await Promise.all([1, 2, 3, 4, 5].map((i) => own.delay(i)));
    expect(await Promise.all(results.map((r) => r.get({ timeout: 10_000 })))).toEqual([1, 2, 3, 4, 5]);
    expect(performance.now() - started).toBeLessThan(3000);

    const free = h.app({ task_default_rate_limit: '1/m', worker_disable_rate_limits: true });
    const slow = free.task('t.slow', (x: number) => x, { rate_limit: '1/m' });
    expect(free.taskOptions('t.slow').rate_limit).toBeNull();
    await h.worker(free, { queues: ['free'] });
    const freeResults = await Promise.all([1, 2, 3].map((i) => slow.applyAsync([i], {}, { queue: 'free' })));
    expect(await Promise.all(freeResults.map((r) => r.get({ timeout: 10_000 })))).toEqual([1, 2, 3]);
  }, 30_000);
});

describe('task_default_priority', () => {
  it("is the priority of a registered task's messages that give none; a call's priority wins", async () => {
    const app = h.app({ task_default_priority: 6 });
    const add = app.task('t.add', (a: number, b: number) => a + b);
    await add.delay(1, 2);
    await add.applyAsync([1, 2], {}, { priority: 3 });
    const priorities = async (queue: string) => (await queued(queue)).map((m) => m.properties.priority);
    // kombu's priority steps: 6 and 3 go to their own sub-lists.
    expect(await priorities('celery\x06\x166')).toEqual([6]);
    expect(await priorities('celery\x06\x163')).toEqual([3]);
  });
});

describe('settings that are not acted on', () => {
  it('a worker logs exactly one warning per unsupported or misspelt setting, naming it and why', async () => {
    const app = h.app({
      task_store_eager_result: true,
      CELERY_ALWAYS_EAGER: true,
      worker_direct: true,
      task_serialiser: 'json',
      worker_pool: 'solo',
      task_protocol: 2,
    });
    app.task('t.noop', () => null);
    const log = new LogCapture();
    const worker = await h.worker(app, {}, log);
    await worker.warmShutdown();
    const warnings = log.events('worker.setting_not_honoured');
    expect(warnings.map((w) => w.setting)).toEqual(['task_serialiser', 'task_store_eager_result', 'worker_direct']);
    expect(warnings.every((w) => w.level === 40)).toBe(true);
    expect(warnings[0]?.reason).toContain('did you mean task_serializer?');
    expect(warnings[1]?.reason).toContain('not stored in the result backend');
    // The app's own first send does not repeat them.
    const clientLog = new LogCapture();
    app.logger = clientLog.logger;
    await app.sendTask('t.noop');
    expect(clientLog.events('client.setting_not_honoured')).toEqual([]);
  });

  it('celeriac_strict_settings refuses to start, naming every such setting', async () => {
    const app = h.app({ task_store_eager_result: true, worker_max_task_per_child: 3 });
    const log = new LogCapture();
    const strict = h.app({});
    strict.task('t.noop', () => null);
    // Strict at entry: conf.update refuses, naming each one, and changes nothing.
    expect(() => app.conf.update({ celeriac_strict_settings: true })).toThrow(
      /task_store_eager_result is not supported[\s\S]*worker_max_task_per_child is not a Celery setting.*did you mean worker_max_tasks_per_child/,
    );
    expect(app.conf.get('celeriac_strict_settings')).toBeUndefined();
    // Strict from the start: the worker refuses (as `--strict-settings` does).
    const { Worker } = await import('../src/index.js');
    const structural = {
      tasks: strict.tasks,
      conf: { settings: { ...strict.conf.settings, celeriac_strict_settings: true, worker_direct: true } },
      taskOptions: (name: string) => strict.taskOptions(name),
      routeFor: (name: string) => strict.routeFor(name),
      publish: () => Promise.resolve(),
    };
    const worker = new Worker({
      app: structural,
      queues: ['celery'],
      concurrency: 1,
      hostname: 't@h',
      logger: log.logger,
    });
    const error = await worker.start().catch((e: unknown) => e as Error & { code: string });
    expect(error).toMatchObject({ code: 'WORKER_BAD_SETTING' });
    expect((error as Error).message).toContain('worker_direct: not supported');
    expect(worker.state).toBe('failed');
  });

  it('a value the schema refuses stops the worker before it connects, with the path', async () => {
    const app = h.app({ worker_max_tasks_per_child: 2, task_compression: 'bzip2' });
    app.task('t.noop', () => null);
    const error = await h.worker(app).catch((e: unknown) => e as Error & { code: string });
    expect(error).toMatchObject({ code: 'WORKER_BAD_SETTING' });
    expect((error as Error).message).toContain('task_compression: bzip2 is not supported');
  });
});

describe('worker_max_tasks_per_child', () => {
  it('after N tasks the worker stops warm, hands back what it prefetched, and says it recycled', async () => {
    const app = h.app({ worker_max_tasks_per_child: 2 });
    const ran: number[] = [];
    const add = app.task('t.add', (a: number) => {
      ran.push(a);
      return a;
    });
    const results = await Promise.all([1, 2, 3, 4, 5].map((i) => add.delay(i)));
    const log = new LogCapture();
    const worker = await h.worker(app, { concurrency: 1 }, log);
    await waitFor(() => (worker.state === 'stopped' ? true : undefined), 15_000);
    expect(worker.recycled).toMatchObject({ reason: 'max_tasks_per_child', executed: 2, limit: 2 });
    expect(ran).toEqual([1, 2]);
    expect(log.events('worker.recycle')).toHaveLength(1);
    // Nothing lost: the three others are back in the queue, and the next worker runs them.
    expect(await h.broker.llen('celery')).toBe(3);
    const next = h.app({ worker_max_tasks_per_child: 10 });
    next.task('t.add', (a: number) => {
      ran.push(a);
      return a;
    });
    await h.worker(next, { concurrency: 1 });
    expect(await Promise.all(results.map((r) => r.get({ timeout: 10_000 })))).toEqual([1, 2, 3, 4, 5]);
    expect(ran.sort()).toEqual([1, 2, 3, 4, 5]);
  }, 30_000);

  it('worker_max_memory_per_child: above the RSS limit after a task it recycles too', async () => {
    const app = h.app({ worker_max_memory_per_child: 1024 }); // 1 MiB: any Node process is above it
    const add = app.task('t.add', (a: number) => a);
    await add.delay(1);
    const worker = await h.worker(app, { concurrency: 1 });
    await waitFor(() => (worker.state === 'stopped' ? true : undefined), 15_000);
    expect(worker.recycled).toMatchObject({ reason: 'max_memory_per_child', executed: 1, limit: 1024 });
    expect(worker.recycled?.rssKiB).toBeGreaterThan(1024);
  });
});

describe('task_compression / result_compression', () => {
  it('task messages are compressed as kombu does (compression header, zlib body) and the worker reads them', async () => {
    const app = h.app({ task_compression: 'gzip' });
    const echo = app.task('t.echo', (text: string) => text.length);
    const text = 'x'.repeat(10_000);
    const sent = await echo.delay(text);
    const [message] = await queued();
    expect(message?.headers.compression).toBe('application/x-gzip');
    expect(String(message?.body).length).toBeLessThan(1000);
    await h.worker(app);
    expect(await sent.get({ timeout: 10_000 })).toBe(10_000);

    // result_compression alone compresses task messages too, as Celery 5.2 does; results stay plain.
    const other = h.app({ result_compression: 'zlib' });
    const r = await other.sendTask('t.echo', ['abc'], {}, { queue: 'later' });
    const [second] = await queued('later');
    expect(second?.headers.compression).toBe('application/x-gzip');
    await h.worker(app, { queues: ['later'] });
    expect(await r.get({ timeout: 10_000 })).toBe(3);
    expect(JSON.parse((await h.results.get(`celery-task-meta-${r.id}`)) ?? '{}').result).toBe(3);
  });
});

describe('worker_send_task_events', () => {
  it('on: the worker sends task events from the start (as -E); off: only worker events', async () => {
    const tap = await EventTap.start(h.redis.url(0));
    try {
      const on = h.app({ worker_send_task_events: true });
      const add = on.task('t.add', (a: number, b: number) => a + b);
      await h.worker(on, { queues: ['events-on'], hostname: 'on@host' });
      const r = await add.applyAsync([1, 2], {}, { queue: 'events-on' });
      expect(await r.get({ timeout: 10_000 })).toBe(3);
      await waitFor(() => (tap.typesOf(r.id).includes('task-succeeded') ? true : undefined));
      expect(tap.typesOf(r.id)).toEqual(['task-received', 'task-started', 'task-succeeded']);

      const off = h.app({});
      const mul = off.task('t.mul', (a: number, b: number) => a * b);
      await h.worker(off, { queues: ['events-off'], hostname: 'off@host' });
      const quiet = await mul.applyAsync([2, 3], {}, { queue: 'events-off' });
      expect(await quiet.get({ timeout: 10_000 })).toBe(6);
      await waitFor(() => (tap.of('worker-heartbeat').some((e) => e.hostname === 'off@host') ? true : undefined));
      expect(tap.typesOf(quiet.id)).toEqual([]);
    } finally {
      await tap.stop();
    }
  }, 30_000);
});
