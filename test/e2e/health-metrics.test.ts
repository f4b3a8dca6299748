import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Celeriac } from '@celeriac/client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, RedisServer } from '../support/redis-server.js';
import { CenterApi, eventually } from './support/center-api.js';
import { type Spawned, spawnCeleriac } from './support/processes.js';

// Task health measured end to end: redis-server, `celeriac center`, one `celeriac agent` running
// a celeriac worker (N successes, M failures), a Python Celery worker and a program that keeps
// crashing; the counts show on the agent's /metrics and in the center's node status.

const SUPPORT = fileURLToPath(new URL('./support/', import.meta.url));
const ADMIN = 'health-e2e-admin-token-0123456789abcdef';
const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-health-'));
const N = 20;
const M = 7;
const PY = 6;

interface Health {
  source: string;
  counts: Record<string, number>;
  failure_ratio: number | null;
  runtime_p50_s: number | null;
  runtime_p95_s: number | null;
  queue_wait_p95_s: number | null;
  restarts_5m: number;
  crash_loop: boolean;
  rss_bytes?: number;
  loop_lag_p99_ms?: number;
  tasks?: Record<string, Record<string, number | null>>;
}
type Programs = Record<string, { state: string; restarts: number; health?: Health }>;

let redis: RedisServer;
let center: Spawned;
let agent: Spawned;
let admin: CenterApi;
let metricsUrl = '';
let client: Celeriac;

async function programs(): Promise<Programs> {
  return (await admin.node('h1')).programs as unknown as Programs;
}

beforeAll(async () => {
  redis = await RedisServer.start();
  const centerPort = await freePort();
  const centerUrl = `http://127.0.0.1:${centerPort}`;
  writeFileSync(path.join(dir, 'admin-token'), ADMIN, { mode: 0o600 });
  center = spawnCeleriac(
    [
      'center',
      '--data',
      path.join(dir, 'center'),
      '--listen',
      `127.0.0.1:${centerPort}`,
      '--admin-token-file',
      path.join(dir, 'admin-token'),
    ],
    path.join(dir, 'center.log'),
  );
  await eventually(async () => (await fetch(`${centerUrl}/healthz`)).ok, 20_000, 'center up');
  admin = new CenterApi(centerUrl, ADMIN);
  const token = await admin.createToken('agent', 'h1');
  // Task events on: the agent reads the Python worker's outcomes and runtimes from them.
  const celery = {
    broker_url: redis.url(0),
    result_backend: redis.url(1),
    task_default_queue: 'celery',
    worker_send_task_events: true,
  };
  const res = await admin.putLayer('nodes/h1', {
    celery,
    programs: {
      w: { kind: 'celeriac-worker', app: path.join(SUPPORT, 'health-tasks.mjs'), queues: ['celery'], concurrency: 4 },
      py: { kind: 'celery-worker', app: 'health_py_tasks', queues: ['py_queue'], concurrency: 1, ready_timeout: '40s' },
      crashy: { kind: 'command', command: ['/bin/sh', '-c', 'sleep 0.8; exit 3'] },
    },
  });
  expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
  const metricsPort = await freePort();
  metricsUrl = `http://127.0.0.1:${metricsPort}`;
  agent = spawnCeleriac(
    [
      'agent',
      '--center',
      centerUrl,
      '--node',
      'h1',
      '--token',
      token,
      '--state-dir',
      path.join(dir, 'agent'),
      '--metrics-listen',
      `127.0.0.1:${metricsPort}`,
      '--heartbeat',
      '500ms',
    ],
    path.join(dir, 'agent.log'),
    { PYTHONPATH: SUPPORT },
  );
  await eventually(
    async () => {
      const p = await programs();
      // The probe has reached the Python worker (its stats came in): the event subscription is up.
      return p.w?.state === 'running' && p.py?.state === 'running' && p.py.health?.source === 'inspect_stats';
    },
    90_000,
    'worker programs running and probed',
  );
  client = new Celeriac('health-client', { broker_url: redis.url(0), result_backend: redis.url(1) });
}, 150_000);

afterAll(async () => {
  await client?.close();
  await agent?.stop('SIGTERM');
  await center?.stop('SIGTERM');
  await redis?.stop();
  if (process.env.CELERIAC_KEEP_E2E) process.stderr.write(`health e2e logs in ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('task health on the agent and the center', () => {
  it(`a celeriac worker's ${N} successes and ${M} failures, with a plausible p95, and a Python worker's counts`, async () => {
    const sent = [];
    for (let i = 0; i < N; i++) sent.push(await client.sendTask('health.nap', [60]));
    for (let i = 0; i < M; i++) sent.push(await client.sendTask('health.boom', []));
    for (let i = 0; i < PY; i++) sent.push(await client.sendTask('hpy.echo', [i], {}, { queue: 'py_queue' }));
    for (const r of sent) await r.get({ timeout: 60_000, propagate: false });

    const w = await eventually(
      async () => {
        const h = (await programs()).w?.health;
        return h && h.counts.succeeded === N && h.counts.failed === M ? h : undefined;
      },
      60_000,
      'center shows the worker counts',
    );
    expect(w.source).toBe('health_file');
    expect(w.counts).toMatchObject({ received: N + M, succeeded: N, failed: M, retried: 0, rejected: 0, revoked: 0 });
    expect(w.failure_ratio).toBeCloseTo(M / (N + M), 3);
    // Tasks sleep 60 ms: p95 in or above the 50-100 ms bucket, below 2.5 s even on a loaded machine.
    expect(w.runtime_p95_s).toBeGreaterThanOrEqual(0.05);
    expect(w.runtime_p95_s).toBeLessThan(2.5);
    expect(w.queue_wait_p95_s).not.toBeNull();
    expect(w.tasks?.['health.nap']).toMatchObject({ succeeded: N, failed: 0 });
    expect(w.tasks?.['health.boom']).toMatchObject({ succeeded: 0, failed: M });
    expect(w.rss_bytes).toBeGreaterThan(10_000_000);
    expect(w.loop_lag_p99_ms).toBeGreaterThanOrEqual(0);
    expect(w.crash_loop).toBe(false);

    const py = await eventually(
      async () => {
        const h = (await programs()).py?.health;
        return h && h.counts.succeeded === PY ? h : undefined;
      },
      60_000,
      'center shows the Python worker counts',
    );
    expect(py.source).toBe('task_events');
    expect(py.counts).toMatchObject({ succeeded: PY, failed: 0 });
    expect(py.counts.received).toBeGreaterThanOrEqual(PY);
    expect(py.tasks?.['hpy.echo']?.succeeded).toBe(PY);
    expect(py.runtime_p95_s).not.toBeNull();
    expect(py.runtime_p95_s).toBeLessThan(2.5);

    const body = await (await fetch(`${metricsUrl}/metrics`)).text();
    const sample = (series: string) => {
      const line = body.split('\n').find((l) => l.startsWith(`${series} `));
      return line === undefined ? undefined : Number(line.slice(series.length + 1));
    };
    expect(sample('celeriac_tasks_total{program="w",task="health.nap",outcome="succeeded"}')).toBe(N);
    expect(sample('celeriac_tasks_total{program="w",task="health.boom",outcome="failed"}')).toBe(M);
    expect(sample('celeriac_tasks_total{program="w",task="health.boom",outcome="succeeded"}')).toBe(0);
    expect(sample('celeriac_tasks_total{program="py",task="hpy.echo",outcome="succeeded"}')).toBe(PY);
    expect(sample('celeriac_task_runtime_seconds_count{program="py",task="hpy.echo"}')).toBe(PY);
    expect(sample('celeriac_task_runtime_seconds_count{program="w",task="health.nap"}')).toBe(N);
    // Every nap took at least 60 ms: none in the buckets up to 50 ms, all by +Inf.
    expect(sample('celeriac_task_runtime_seconds_bucket{program="w",task="health.nap",le="0.05"}')).toBe(0);
    expect(sample('celeriac_task_runtime_seconds_bucket{program="w",task="health.nap",le="+Inf"}')).toBe(N);
    expect(sample('celeriac_program_crash_loop{program="w"}')).toBe(0);
    expect(body).toMatch(/celeriac_worker_rss_bytes\{program="w",process="w:\d+"\} \d+/);
  }, 180_000);

  it('a program that keeps crashing shows as a crash loop in the summary and on /metrics', async () => {
    const crashy = await eventually(
      async () => {
        const p = (await programs()).crashy;
        return p?.health?.crash_loop ? p : undefined;
      },
      90_000,
      'crash loop reported',
    );
    expect(crashy.restarts).toBeGreaterThanOrEqual(1);
    expect(crashy.health?.source).toBe('none');
    const body = await (await fetch(`${metricsUrl}/metrics`)).text();
    expect(body).toContain('celeriac_program_crash_loop{program="crashy"} 1');
    // The healthy worker is not in one.
    expect((await programs()).w?.health?.crash_loop).toBe(false);
  }, 120_000);
});
