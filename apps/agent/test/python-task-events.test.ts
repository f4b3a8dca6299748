import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Celeriac } from '@celeriac/client';
import { type RunningCenter, startCenter } from '@celeriac/config-center';
import { createLogger } from '@celeriac/logger';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CenterApi, eventually } from '../../../test/e2e/support/center-api.js';
import { RedisServer } from '../../../test/support/redis-server.js';
import { Agent } from '../src/agent.js';
import { OUTCOMES_UNAVAILABLE } from '../src/health-collector.js';

// A real agent supervising a real Python Celery worker (Debian's Celery 5.2) whose layers say
// nothing about task events: the agent turns them on in celeryconfig.py, so succeeded and failed
// counts reach its status and /metrics. A layer's explicit `worker_send_task_events: false` is kept
// (a restart, the file says False) and the program's health says its outcomes are unavailable.

const SUPPORT = fileURLToPath(new URL('./support/', import.meta.url));
const ADMIN = 'py-task-events-admin-token-0123456789';
const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-py-events-'));
const stateDir = path.join(dir, 'state');
const logger = createLogger({ level: 'silent' });
const OK = 4;
const BOOM = 2;

let redis: RedisServer;
let center: RunningCenter;
let admin: CenterApi;
let agent: Agent;
let client: Celeriac;
let commands: Redis;

function layer(celery: Record<string, unknown> = {}) {
  return {
    celery: { broker_url: redis.url(0), result_backend: redis.url(1), task_default_queue: 'apy', ...celery },
    programs: {
      py: {
        kind: 'celery-worker',
        app: 'agent_py_health',
        env: { PYTHONPATH: SUPPORT },
        queues: ['apy'],
        concurrency: 1,
        ready_timeout: '40s',
        stop_timeout: '10s',
      },
    },
  };
}

type Py = { pids: number[]; state: string; health?: Record<string, unknown> & { counts: Record<string, number> } };
async function py(): Promise<Py | undefined> {
  return (await admin.node('n1')).programs.py as Py | undefined;
}

const celeryconfig = () => readFileSync(path.join(stateDir, 'programs', 'py', 'celeryconfig.py'), 'utf8');

beforeAll(async () => {
  redis = await RedisServer.start();
  commands = new Redis(redis.url(0));
  center = await startCenter({ logger, dataDir: path.join(dir, 'center'), listen: '127.0.0.1:0', adminToken: ADMIN });
  admin = new CenterApi(center.url, ADMIN);
  const token = await admin.createToken('agent', 'n1');
  const put = await admin.putLayer('nodes/n1', layer());
  expect(put.status, JSON.stringify(put.body)).toBe(201);
  agent = new Agent({
    centerUrl: center.url,
    node: 'n1',
    token,
    stateDir,
    logger,
    metricsListen: '127.0.0.1:0',
    heartbeatMs: 300,
    longPollWaitSec: 5,
    workerProbeMs: 300,
  });
  await agent.start();
  client = new Celeriac('py-events-client', { broker_url: redis.url(0), result_backend: redis.url(1) });
}, 60_000);

afterAll(async () => {
  await client?.close();
  await agent?.close();
  await center?.close();
  commands?.disconnect();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('task events of a Python celery-worker program', () => {
  it('are on without the layer asking: succeeded and failed counts in the status and on /metrics', async () => {
    await eventually(async () => (await py())?.state === 'running', 45_000, 'the Python worker running');
    expect(celeryconfig()).toMatch(/^worker_send_task_events = True$/m);
    expect(celeryconfig()).not.toContain('task_send_sent_event');
    // The agent's task-event subscriber is up (a pattern subscription of its own connection).
    await eventually(
      async () => /name=celeriac-agent-events .*psub=1/.test(String(await commands.call('CLIENT', 'LIST'))),
      20_000,
      'the agent subscribed to the celeryev channels',
    );
    const sent = [];
    for (let i = 0; i < OK; i++) sent.push(await client.sendTask('apy.ok', [i], {}, { queue: 'apy' }));
    for (let i = 0; i < BOOM; i++) sent.push(await client.sendTask('apy.boom', [], {}, { queue: 'apy' }));
    for (const r of sent) await r.get({ timeout: 30_000, propagate: false });

    const health = await eventually(
      async () => {
        const h = (await py())?.health;
        return h && h.counts.succeeded === OK && h.counts.failed === BOOM ? h : undefined;
      },
      20_000,
      'the center shows the Python outcomes',
    );
    expect(health.source).toBe('task_events');
    expect(health.outcomes).toBeUndefined();
    expect(health.failure_ratio).toBeCloseTo(BOOM / (OK + BOOM), 3);
    const metrics = await (await fetch(`${agent.metricsUrl}/metrics`)).text();
    expect(metrics).toContain(`celeriac_tasks_total{program="py",task="apy.ok",outcome="succeeded"} ${OK}`);
    expect(metrics).toContain(`celeriac_tasks_total{program="py",task="apy.boom",outcome="failed"} ${BOOM}`);
  }, 60_000);

  it("keeps a layer's worker_send_task_events: false, and reports the outcomes unavailable", async () => {
    const before = (await py())?.pids ?? [];
    const res = await admin.putLayer('nodes/n1', layer({ worker_send_task_events: false }));
    expect(res.status).toBe(200);
    const revision = (res.body as { revision: number }).revision;
    const health = await eventually(
      async () => {
        const node = await admin.node('n1');
        const p = node.programs.py as Py | undefined;
        const moved = p !== undefined && p.pids.length === 1 && !before.includes(p.pids[0] as number);
        return node.applied_revision === revision && moved && p?.health?.outcomes === 'unavailable'
          ? p.health
          : undefined;
      },
      50_000,
      'the restarted Python worker reported without outcomes',
    );
    expect(health.outcomes_reason).toBe(OUTCOMES_UNAVAILABLE.eventsOff);
    expect(celeryconfig()).toMatch(/^worker_send_task_events = False$/m);
  }, 60_000);
});
