// A `celeriac agent` killed with SIGKILL and started again while a producer streams tasks into
// its acks_late celeriac worker: the new agent adopts the worker when it runs the config it
// applies (no restart at all), and stops it warm (TERM, never a bare SIGKILL) when the config
// changed meanwhile. Every task runs exactly once (runs per task id counted in Redis, as the fleet
// test does). Needs the build (`npx tsc -b tsconfig.build.json`).
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
import { processStartTicks } from '../src/process-group.js';
import { type AgentProcess, killRecordedChildren, spawnAgent } from './support/agent-process.js';

const ADMIN = 'agent-restart-admin-token-0123456789';
const FLEET_TASKS = fileURLToPath(new URL('../../../test/e2e/support/fleet-tasks.mjs', import.meta.url));
const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-agent-restart-'));
const stateDir = path.join(dir, 'state');
const workerLog = path.join(stateDir, 'programs', 'w', 'logs', '1.log');

let redis: RedisServer;
let db: Redis;
let center: RunningCenter;
let admin: CenterApi;
let token = '';
let celery: Record<string, unknown>;
const agents: AgentProcess[] = [];
const WORKER = {
  kind: 'celeriac-worker',
  app: FLEET_TASKS,
  queues: ['restart'],
  concurrency: 4,
  stop_timeout: '20s',
  ready_timeout: '30s',
};

/** Streams tasks (a quick one and one that takes 100 ms, so some always run) and keeps their ids. */
class Producer {
  readonly ids: string[] = [];
  private readonly app: Celeriac;
  private running = false;
  private loop: Promise<void> = Promise.resolve();

  constructor() {
    this.app = new Celeriac('restart-producer', { broker_url: redis.url(0), result_backend: redis.url(1) });
  }

  start(): void {
    this.running = true;
    this.loop = (async () => {
      for (let i = 0; this.running; i++) {
        const name = i % 2 === 0 ? 'tasks.add' : 'tasks.sleepy';
        const args = i % 2 === 0 ? [i, 1] : [0.1];
        this.ids.push((await this.app.sendTask(name, args, {}, { queue: 'restart' })).id);
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
    await this.app.close();
  }
}

function startAgent(): AgentProcess {
  const agent = spawnAgent([
    '--center',
    center.url,
    '--node',
    'r1',
    '--token',
    token,
    '--state-dir',
    stateDir,
    '--heartbeat',
    '300ms',
  ]);
  agents.push(agent);
  return agent;
}

async function kill9(agent: AgentProcess): Promise<void> {
  agent.child.kill('SIGKILL');
  await agent.exited;
}

/** The worker's pid once the node applied its desired revision and the worker runs. */
async function runningWorker(): Promise<number> {
  return eventually(
    async () => {
      const n = await admin.node('r1');
      const w = n.programs.w;
      const ok = n.applied_revision === n.desired_revision && w?.state === 'running' && w.pids.length === 1;
      return ok ? w.pids[0] : undefined;
    },
    40_000,
    'worker running on the desired revision',
  );
}

/** The JSON log lines a worker process wrote (the log file is shared by the processes of replica 1). */
function workerLines(pid: number): Record<string, unknown>[] {
  return readFileSync(workerLog, 'utf8')
    .split('\n')
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((line) => line.pid === pid);
}

beforeAll(async () => {
  redis = await RedisServer.start();
  db = new Redis(redis.url(0));
  const logger = createLogger({ level: 'silent' });
  center = await startCenter({ logger, dataDir: path.join(dir, 'center'), listen: '127.0.0.1:0', adminToken: ADMIN });
  admin = new CenterApi(center.url, ADMIN);
  token = await admin.createToken('agent', 'r1');
  celery = { broker_url: redis.url(0), result_backend: redis.url(1), task_acks_late: true, accept_content: ['json'] };
  expect((await admin.putLayer('nodes/r1', { celery, programs: { w: WORKER } })).status).toBe(201);
});

afterAll(async () => {
  for (const agent of agents) if (agent.child.exitCode === null && agent.child.signalCode === null) kill9(agent);
  killRecordedChildren(stateDir);
  db?.disconnect();
  await center?.close();
  await redis?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('agent kill -9 and restart under load', { timeout: 180_000 }, () => {
  it('adopts a worker on the same config, stops one on a changed config warm, and loses no task', async () => {
    const first = startAgent();
    const workerPid = await runningWorker();
    const producer = new Producer();
    producer.start();
    await new Promise((resolve) => setTimeout(resolve, 1500));

    // 1. Killed and restarted on the same config: the worker is adopted, not restarted.
    await kill9(first);
    await new Promise((resolve) => setTimeout(resolve, 500));
    const second = startAgent();
    expect(await runningWorker()).toBe(workerPid);
    await eventually(() => second.events('program.replica_adopted').length > 0, 10_000, 'adoption logged');
    expect(second.events('program.replica_adopted')[0]).toMatchObject({ program: 'w', replica: 1, pid: workerPid });
    expect(second.events('agent.leftover_stopping')).toEqual([]);
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect(workerLines(workerPid).filter((l) => l.event === 'worker.signal')).toEqual([]);

    // 2. Killed again, and the worker's config changes while no agent runs: stopped warm.
    await kill9(second);
    const change = { celery: { ...celery, result_expires: 3600 }, programs: { w: WORKER } };
    expect((await admin.putLayer('nodes/r1', change)).status).toBe(200);
    const third = startAgent();
    const newPid = await runningWorker();
    expect(newPid).not.toBe(workerPid);
    await eventually(() => third.events('agent.leftover_stopped').length > 0, 30_000, 'leftover stopped');
    expect(third.events('agent.leftover_stopping')[0]).toMatchObject({
      pid: workerPid,
      reason: 'config_changed',
      stop_timeout_ms: 20_000,
    });
    expect(third.events('agent.leftover_stopped')[0]).toMatchObject({ pid: workerPid, warm: true });
    expect(third.events('agent.leftover_stop_timeout')).toEqual([]);
    expect(processStartTicks(workerPid)).toBeNull();
    // Its own log shows the warm shutdown: SIGTERM, then stopped after draining.
    const old = workerLines(workerPid);
    expect(old.find((l) => l.event === 'worker.signal')).toMatchObject({ signal: 'SIGTERM' });
    expect(old.filter((l) => l.event === 'worker.state').at(-1)).toMatchObject({ to: 'stopped' });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    await producer.stop();

    // 3. Every task submitted ran exactly once.
    const ids = producer.ids;
    const runs = await eventually(
      async () => {
        const values = await db.hmget('fleet:runs', ...ids);
        return values.every((v) => v !== null) ? values.map(Number) : undefined;
      },
      60_000,
      'every task ran',
    ).catch(async () => (await db.hmget('fleet:runs', ...ids)).map((v) => (v === null ? 0 : Number(v))));
    const lost = runs.filter((n) => n === 0).length;
    const twice = runs.filter((n) => n > 1).length;
    console.log(`agent restart under load: ${ids.length} tasks, ${lost} lost, ${twice} run more than once`);
    expect(ids.length).toBeGreaterThan(100);
    expect(lost).toBe(0);
    expect(twice).toBe(0);

    third.child.kill('SIGTERM');
    expect((await third.exited).code).toBe(0);
    expect(processStartTicks(newPid)).toBeNull();
  });
});
