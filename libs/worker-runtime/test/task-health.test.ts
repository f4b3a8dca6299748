import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { HEALTH_BUCKETS_S as AGENT_BUCKETS } from '../../../apps/agent/src/health-windows.js';
import {
  HEALTH_BUCKETS_S,
  type HealthFileContent,
  healthFileFor,
  TaskHealth,
  TaskHealthFile,
  taskHealth,
  UNKNOWN_TASK,
} from '../src/index.js';
import { Harness, LogCapture, waitFor } from './support.js';

const h = new Harness();
beforeAll(() => h.start());
beforeEach(() => taskHealth.reset());
afterEach(() => h.reset());
afterAll(() => h.stop());

const bucketOf = (s: number) => {
  const i = HEALTH_BUCKETS_S.findIndex((b) => s <= b);
  return i === -1 ? HEALTH_BUCKETS_S.length : i;
};

describe('task health: counters and histograms per task name', () => {
  it('the agent reads the same bucket bounds the worker writes', () => {
    expect([...AGENT_BUCKETS]).toEqual([...HEALTH_BUCKETS_S]);
  });

  it('counts outcomes and puts runtimes and waits in the log-scale buckets', async () => {
    const t = new TaskHealth();
    const start = performance.now();
    await sleep(30);
    t.received('a');
    t.started('a', Date.now() - 200, 0);
    t.succeeded('a', start);
    t.received('a');
    t.started('a', Date.now() - 10_000, Date.now() - 40); // eta later than receipt: waits from the eta
    t.failed('a', performance.now());
    t.retried('b', performance.now());
    t.rejected(undefined);
    t.revoked('b');
    const s = t.snapshot();
    expect(s.a).toMatchObject({ received: 2, succeeded: 1, failed: 1, retried: 0, rejected: 0, revoked: 0 });
    expect(s.b).toMatchObject({ retried: 1, revoked: 1, received: 0 });
    expect(s[UNKNOWN_TASK]?.rejected).toBe(1);
    const runtime = s.a?.runtime.counts ?? [];
    expect(runtime).toHaveLength(HEALTH_BUCKETS_S.length + 1);
    expect(runtime.reduce((x, y) => x + y, 0)).toBe(2);
    // 30 ms or more: the 0.05 bucket or later (a loaded machine may be slower), never below.
    expect(runtime.slice(bucketOf(0.03)).reduce((x, y) => x + y, 0)).toBeGreaterThanOrEqual(1);
    const wait = s.a?.queue_wait.counts ?? [];
    expect(wait[bucketOf(0.2)] ?? 0).toBeGreaterThanOrEqual(0);
    expect(wait.reduce((x, y) => x + y, 0)).toBe(2);
    expect(wait.slice(bucketOf(5)).reduce((x, y) => x + y, 0)).toBe(0);
    expect(s.a?.queue_wait.sum_s).toBeGreaterThanOrEqual(0.2);
    expect(s.a?.queue_wait.sum_s).toBeLessThan(5);
  });

  it('a real worker on Redis counts received, succeeded, failed, retried, rejected and revoked', async () => {
    const app = h.app();
    const ok = app.task('h.ok', async (ms: number) => {
      await sleep(ms);
      return ms;
    });
    const bad = app.task('h.bad', () => {
      throw new Error('no');
    });
    const again = app.task(
      'h.again',
      (ctx: { retry(o: object): never; retries: number }) => {
        if (ctx.retries < 1) ctx.retry({ countdown: 0 });
        return 'done';
      },
      { bind: true },
    );
    await h.worker(app, { concurrency: 8 });
    const results = [];
    for (let i = 0; i < 12; i++) results.push(await ok.delay(20));
    for (let i = 0; i < 5; i++) results.push(await bad.delay());
    const r = await again.delay();
    const late = await ok.applyAsync([0], {}, { countdown: 30 });
    await waitFor(() => ((taskHealth.snapshot()['h.ok']?.received ?? 0) >= 13 ? true : undefined), 20_000);
    await late.revoke();
    await h.broker.lpush('celery', 'not a kombu message');
    for (const x of results) await h.waitDoc(x.id);
    await h.waitDoc(r.id, 'SUCCESS');
    const s = await waitFor(() => {
      const snap = taskHealth.snapshot();
      return (snap['h.ok']?.revoked ?? 0) >= 1 && (snap[UNKNOWN_TASK]?.rejected ?? 0) >= 1 ? snap : undefined;
    }, 20_000);
    expect(s['h.ok']).toMatchObject({ received: 13, succeeded: 12, failed: 0, revoked: 1 });
    expect(s['h.bad']).toMatchObject({ received: 5, succeeded: 0, failed: 5 });
    expect(s['h.again']).toMatchObject({ received: 2, retried: 1, succeeded: 1 });
    const runtime = s['h.ok']?.runtime.counts ?? [];
    expect(runtime.reduce((x, y) => x + y, 0)).toBe(12);
    expect(runtime.slice(0, bucketOf(0.019)).reduce((x, y) => x + y, 0)).toBe(0);
    expect(s['h.ok']?.queue_wait.counts.reduce((x, y) => x + y, 0)).toBe(12);
  }, 60_000);

  it('the health file is rewritten every interval with cumulative counts, pid, RSS and loop lag', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'health-'));
    const readyFile = path.join(dir, 'ready', '1.json');
    const file = healthFileFor(readyFile) ?? '';
    expect(file).toBe(path.join(dir, 'ready', '1.health.json'));
    const writer = new TaskHealthFile({ file, name: 'w@h', logger: new LogCapture().logger, intervalMs: 50 });
    taskHealth.received('x');
    writer.start();
    const first = await waitFor(() => {
      try {
        return JSON.parse(readFileSync(file, 'utf8')) as HealthFileContent;
      } catch {
        return undefined;
      }
    });
    expect(first).toMatchObject({ v: 1, pid: process.pid, name: 'w@h', tasks: { x: { received: 1 } } });
    expect(first.rss_bytes).toBeGreaterThan(10_000_000);
    taskHealth.received('x');
    const later = await waitFor(() => {
      const c = JSON.parse(readFileSync(file, 'utf8')) as HealthFileContent;
      return c.tasks.x?.received === 2 ? c : undefined;
    });
    expect(Date.parse(later.written_at)).toBeGreaterThanOrEqual(Date.parse(first.written_at));
    expect(later.loop_lag_ms.max).toBeGreaterThanOrEqual(0);
    await writer.close();
  });
});
