import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Celeriac } from '@celeriac/client';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../support/redis-server.js';
import { type CenterApi, eventually, type NodeSummary } from './support/center-api.js';
import { type CenterProcess, startAgentProcess, startCenterProcess } from './support/fleet-processes.js';
import type { Spawned } from './support/processes.js';

// Fleet-wide limits end to end: redis-server, `celeriac center`, two `celeriac agent`s running
// three celeriac workers (node a: 2 replicas, node b: 1), all sharing tasks.add at 20/s through
// `task_annotations` in the center; then a live change to 40/s, applied without a restart.

const SUPPORT = fileURLToPath(new URL('./support/', import.meta.url));
const ADMIN = 'fleet-limits-e2e-admin-token-0123456789';
const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-fleet-limits-'));

let redis: RedisServer;
let db: Redis;
let center: CenterProcess;
let admin: CenterApi;
const agents: Spawned[] = [];
let producer: Celeriac;

function layerDefaults(rate: string): unknown {
  return {
    celery: {
      broker_url: redis.url(0),
      result_backend: redis.url(1),
      task_annotations: { 'tasks.add': { fleet_rate_limit: rate } },
    },
  };
}

function worker(replicas: number): unknown {
  return {
    kind: 'celeriac-worker',
    app: path.join(SUPPORT, 'fleet-tasks.mjs'),
    queues: ['celery'],
    concurrency: 8,
    replicas,
    stop_timeout: '10s',
    ready_timeout: '30s',
  };
}

async function settled(node: string, replicas: number, revision?: number): Promise<NodeSummary> {
  return eventually(
    async () => {
      const n = await admin.node(node);
      const ok =
        n.applied_revision === n.desired_revision &&
        (revision === undefined || n.applied_revision === revision) &&
        n.apply_result === 'ok' &&
        n.programs.w?.state === 'running' &&
        n.programs.w.pids.length === replicas;
      return ok ? n : undefined;
    },
    60_000,
    `node ${node} settled`,
  );
}

/** Completion times (ms) of every task run so far. */
async function completions(): Promise<number[]> {
  return Object.values(await db.hgetall('fleet:at')).map(Number);
}

function within(times: number[], from: number, to: number): number {
  return times.filter((t) => t >= from && t < to).length;
}

async function metricsOf(agentLog: string): Promise<string> {
  const url = await eventually(
    async () => {
      const { readFileSync } = await import('node:fs');
      const line = readFileSync(agentLog, 'utf8')
        .split('\n')
        .find((l) => l.includes('"agent.metrics_listening"'));
      return line === undefined ? undefined : (JSON.parse(line) as { url: string }).url;
    },
    20_000,
    'agent metrics url',
  );
  return (await fetch(`${url}/metrics`)).text();
}

beforeAll(async () => {
  redis = await RedisServer.start();
  db = new Redis(redis.url(0));
  center = await startCenterProcess(dir, ADMIN, path.join(dir, 'center.log'));
  admin = center.admin;
  for (const [layer, doc] of [
    ['defaults', layerDefaults('20/s')],
    ['nodes/a', { programs: { w: worker(2) } }],
    ['nodes/b', { programs: { w: worker(1) } }],
  ] as const) {
    const res = await admin.putLayer(layer, doc, 'fleet limits e2e');
    expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
  }
  for (const node of ['a', 'b']) {
    const token = await admin.createToken('agent', node);
    agents.push(
      await startAgentProcess({
        centerUrl: center.url,
        node,
        auth: ['--token', token],
        stateDir: path.join(dir, `agent-${node}`),
        heartbeat: '500ms',
        logFile: path.join(dir, `agent-${node}.log`),
      }),
    );
  }
  await settled('a', 2);
  await settled('b', 1);
  producer = new Celeriac('producer', { broker_url: redis.url(0), result_backend: redis.url(1) });
}, 120_000);

afterAll(async () => {
  await producer?.close();
  for (const agent of agents) await agent.stop('SIGTERM');
  await center?.proc.stop('SIGTERM');
  db?.disconnect();
  await redis?.stop();
  if (process.env.CELERIAC_KEEP_E2E) process.stderr.write(`fleet limits e2e logs in ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('fleet-wide rate limit through the center and two agents', () => {
  it('three workers run 300 ± 5 % in 15 s at 20/s; a change to 40/s is live within 1 s, no pid changes', async () => {
    const add = producer.task('tasks.add', () => 0, { params: ['a', 'b'] });
    for (let i = 0; i < 1600; i += 400) await add.applyMany(Array.from({ length: 400 }, (_, j) => [i + j, 1]));
    const first = await eventually(async () => Math.min(...(await completions())) || undefined, 20_000, 'first run');
    await new Promise((r) => setTimeout(r, Math.max(0, first + 15_000 - Date.now()) + 200));
    const in15 = within(await completions(), first, first + 15_000);
    process.stdout.write(`e2e fleet 20/s: ${in15} runs in 15 s over 3 workers on 2 agents\n`);
    expect(in15).toBeGreaterThanOrEqual(285);
    expect(in15).toBeLessThanOrEqual(315);

    const before = { a: await settled('a', 2), b: await settled('b', 1) };
    const changedAt = Date.now();
    const res = await admin.putLayer('defaults', layerDefaults('40/s'), 'fleet limit 40/s');
    expect(res.status).toBeLessThan(300);
    const writtenAt = await eventually(
      async () => ((await db.get('celeriac.fleet-limits'))?.includes('"40/s"') ? Date.now() : undefined),
      5_000,
      'new limit in Redis',
    );
    process.stdout.write(`e2e fleet limit change: in Redis ${writtenAt - changedAt} ms after the center's change\n`);
    expect(writtenAt - changedAt).toBeLessThan(1_000);
    await new Promise((r) => setTimeout(r, Math.max(0, changedAt + 6_000 - Date.now()) + 200));
    const after = within(await completions(), changedAt + 1_000, changedAt + 6_000);
    process.stdout.write(`e2e fleet 40/s: ${after} runs in the 5 s from 1 s after the change\n`);
    expect(after).toBeGreaterThanOrEqual(180);
    expect(after).toBeLessThanOrEqual(220);
    const now = { a: await admin.node('a'), b: await admin.node('b') };
    for (const node of ['a', 'b'] as const) {
      expect(now[node].apply_result).toBe('ok');
      expect(now[node].applied_revision).toBe(now[node].desired_revision);
      expect(now[node].applied_revision).toBeGreaterThan(before[node].applied_revision as number);
      expect(now[node].programs.w?.pids).toEqual(before[node].programs.w?.pids);
      expect(now[node].programs.w?.restarts).toBe(before[node].programs.w?.restarts);
    }
    expect(`${now.a.message} ${now.b.message}`).toMatch(/fleet limits: live/);

    const metrics = await metricsOf(path.join(dir, 'agent-a.log'));
    expect(metrics).toMatch(/celeriac_fleet_limit_rate\{limit="task:tasks.add"\} 40/);
    const current = Number(/celeriac_fleet_limit_current_rate\{limit="task:tasks.add"\} (\d+)/.exec(metrics)?.[1]);
    expect(current).toBeGreaterThan(0);
    expect(current).toBeLessThanOrEqual(45);
    expect(metrics).toMatch(/celeriac_fleet_limit_granted_total\{limit="task:tasks.add"\} \d+/);
    expect(metrics).toMatch(/celeriac_fleet_limit_waiting\{limit="task:tasks.add"\} \d+/);
    // The agent reports them to the center too (node summary, shown in the console's Nodes view).
    const reported = await eventually(
      async () => {
        const n = (await admin.node('a')) as NodeSummary & { fleet_limits?: { limit: string; rate: number | null }[] };
        return n.fleet_limits?.some((l) => l.limit === 'task:tasks.add' && l.rate === 40) ? n : undefined;
      },
      10_000,
      'fleet limits in the node summary',
    );
    expect(reported.fleet_limits?.length).toBe(1);
  }, 120_000);
});
