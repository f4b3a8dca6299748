import { Celeriac } from '@celeriac/client';
import { ControlClient } from '@celeriac/control-plane';
import { createLogger } from '@celeriac/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CeleryWorker } from '../../../test/support/celery-worker.js';
import { RedisServer } from '../../../test/support/redis-server.js';
import { HealthCollector } from '../src/health-collector.js';

// Python Celery programs' task health, from real Celery 5.2 workers on a real redis-server: one
// sends task events (`worker_send_task_events`), the other does not and is read through
// `inspect stats`.

const logger = createLogger({ level: 'warn', pretty: false });
let redis: RedisServer;
let withEvents: CeleryWorker;
let withoutEvents: CeleryWorker;
let client: Celeriac;
let control: ControlClient;
const health = new HealthCollector(logger);

beforeAll(async () => {
  redis = await RedisServer.start();
  const config = { broker_url: redis.url(0), result_backend: redis.url(1) };
  [withEvents, withoutEvents] = await Promise.all([
    CeleryWorker.start({ config: { ...config, worker_send_task_events: true }, queues: ['ev'], name: 'ev@localhost' }),
    CeleryWorker.start({ config, queues: ['st'], name: 'st@localhost' }),
  ]);
  client = new Celeriac('health-celery', config);
  control = new ControlClient({ url: redis.url(0), logger, shareRevokes: false });
}, 90_000);

afterAll(async () => {
  await health.close();
  await control?.close();
  await client?.close();
  await Promise.all([withEvents?.stop(), withoutEvents?.stop()]);
  await redis?.stop();
}, 60_000);

describe('task health of Python Celery workers', () => {
  it('counts outcomes and runtimes from task events, and received totals from inspect stats', async () => {
    const targets = [
      { program: 'pyev', name: 'ev@localhost', kind: 'celery-worker', brokerUrl: redis.url(0) },
      { program: 'pyst', name: 'st@localhost', kind: 'celery-worker', brokerUrl: redis.url(0) },
    ];
    // Subscribes to the events before any task is sent, and takes the stats baseline.
    await health.collect(targets);
    await health.stats(control, targets, ['ev@localhost', 'st@localhost'], 2000);
    const sent = [];
    for (let i = 0; i < 5; i++) sent.push(await client.sendTask('tasks.sleep', [0.06], {}, { queue: 'ev' }));
    for (let i = 0; i < 3; i++) sent.push(await client.sendTask('tasks.fail', [], {}, { queue: 'ev' }));
    for (let i = 0; i < 4; i++) sent.push(await client.sendTask('tasks.add', [i, 1], {}, { queue: 'st' }));
    for (const r of sent) await r.get({ timeout: 30_000, propagate: false });
    const deadline = Date.now() + 30_000;
    let ev = health.windows.summary('pyev');
    let st = health.windows.summary('pyst');
    while (Date.now() < deadline && (ev.counts.succeeded + ev.counts.failed < 8 || st.counts.received < 4)) {
      await new Promise((r) => setTimeout(r, 200));
      await health.collect(targets);
      await health.stats(control, targets, ['ev@localhost', 'st@localhost'], 2000);
      ev = health.windows.summary('pyev');
      st = health.windows.summary('pyst');
    }
    expect(ev.source).toBe('task_events');
    expect(ev.counts).toMatchObject({ received: 8, succeeded: 5, failed: 3, retried: 0 });
    expect(ev.tasks?.['tasks.sleep']).toMatchObject({ received: 5, succeeded: 5 });
    expect(ev.tasks?.['tasks.fail']).toMatchObject({ received: 3, failed: 3 });
    // Celery's own runtime: every sleep took 60 ms or more.
    expect(ev.tasks?.['tasks.sleep']?.runtime_p95_s).toBeGreaterThanOrEqual(0.05);
    expect(ev.tasks?.['tasks.sleep']?.runtime_p95_s).toBeLessThan(2.5);
    expect(ev.queue_wait_p95_s).not.toBeNull();
    expect(st.source).toBe('inspect_stats');
    expect(st.counts).toMatchObject({ received: 4, succeeded: 0, failed: 0 });
    expect(st.tasks?.['tasks.add']?.received).toBe(4);
    expect(st.rss_bytes).toBeGreaterThan(1_000_000);
  }, 90_000);
});
