import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RabbitVhost } from '../support/rabbitmq-vhost.js';
import { RedisServer } from '../support/redis-server.js';
import { eventually, type NodeSummary } from './support/center-api.js';
import { type CenterProcess, startAgentProcess, startCenterProcess } from './support/fleet-processes.js';
import { fleetRuns, fleetTasksDone } from './support/fleet-records.js';
import { nodeSettled } from './support/node-settled.js';
import { runCeleriac, type Spawned } from './support/processes.js';
import { SteadyProducer } from './support/steady-producer.js';

// The agent runs an AMQP fleet end to end: `celeriac center`, one `celeriac agent` whose layer has
// `celery.broker_url: amqp://` (a RabbitMQ vhost of the test's own; results on a Redis of its own),
// two celeriac-worker programs and a celery-worker (Python) program, a producer streaming tasks
// throughout, and ops changes made with `celeriac config`. The agent's duties hold on RabbitMQ too:
// its pidbox probe (workers in the node status), the Python program's health from task events
// (the celeryev topic exchange) and fleet limits (written to the result backend's Redis).

const SUPPORT = fileURLToPath(new URL('./support/', import.meta.url));
const ADMIN = 'amqp-fleet-e2e-admin-token-0123456789';
const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-amqp-fleet-'));
const logs = (name: string) => path.join(dir, `${name}.log`);

let vhost: RabbitVhost;
let redis: RedisServer;
let db: Redis;
let center: CenterProcess;
let agent: Spawned;
let operator = '';
let producer: Producer;

/** What the agent adds to a program's status: its probed workers and its task health summary. */
interface ProbedWorker {
  responding: boolean;
  active?: number;
  reserved?: number;
}
type Probed = NodeSummary & {
  programs: Record<
    string,
    {
      responding?: boolean;
      workers?: Record<string, ProbedWorker>;
      health?: { source: string; outcomes?: string; counts: { succeeded: number; failed: number } };
    }
  >;
};

/** Sends a steady mix of tasks to both kinds of worker and remembers every id it submitted. */
class Producer extends SteadyProducer {
  readonly submitted: string[] = [];

  async send(name: string, args: unknown[], queue?: string): Promise<string> {
    const r = await this.app.sendTask(name, args, {}, queue ? { queue } : {});
    this.submitted.push(r.id);
    return r.id;
  }

  protected async step(i: number): Promise<void> {
    await this.send('tasks.mul', [i, 2]);
    if (i % 3 === 0) await this.send('py.mul', [i, 3], 'py_queue');
  }
}

const cli = (...args: string[]) => runCeleriac(args, { CELERIAC_CENTER: center.url, CELERIAC_TOKEN: operator });

/** Waits until node a applied its desired revision and every program runs all its replicas. */
function settled(timeoutMs = 30_000): Promise<NodeSummary> {
  return nodeSettled(center.admin, 'a', { w: 2, slow: 1, py: 1 }, timeoutMs);
}

/** The agent's log lines with `event` (pino JSON). */
function agentEvents(event: string): Record<string, unknown>[] {
  return readFileSync(logs('agent'), 'utf8')
    .split('\n')
    .filter((l) => l.includes(`"event":"${event}"`))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

beforeAll(async () => {
  [vhost, redis] = await Promise.all([RabbitVhost.create(), RedisServer.start()]);
  db = new Redis(redis.url(1));
  center = await startCenterProcess(dir, ADMIN, logs('center'));
  operator = await center.admin.createToken('operator');
  const agentToken = await center.admin.createToken('agent', 'a');
  const celery = {
    broker_url: vhost.url(),
    result_backend: redis.url(1),
    task_serializer: 'json',
    accept_content: ['json', 'msgpack'],
    task_default_queue: 'celery',
    task_acks_late: true,
  };
  const worker = (queues: string[], replicas: number) => ({
    kind: 'celeriac-worker',
    app: path.join(SUPPORT, 'amqp-fleet-tasks.mjs'),
    queues,
    replicas,
    concurrency: 4,
    stop_timeout: '10s',
    ready_timeout: '30s',
  });
  const layers: Record<string, unknown> = {
    defaults: { celery },
    'nodes/a': {
      programs: {
        w: worker(['celery'], 2),
        // slow runs only the sleepy tasks of the kill -9 step: a task that finished but whose ack had
        // not left when its worker was killed runs again (at-least-once, as Celery's acks_late), so the
        // killed worker holds only unfinished tasks and "exactly once" stays exact.
        slow: worker(['slow_queue'], 1),
        py: {
          kind: 'celery-worker',
          app: 'amqp_fleet_py_tasks',
          env: { PYTHONPATH: SUPPORT },
          queues: ['py_queue'],
          concurrency: 2,
          stop_timeout: '10s',
          ready_timeout: '40s',
        },
      },
    },
  };
  for (const [layer, doc] of Object.entries(layers)) {
    const file = path.join(dir, `${layer.replace('/', '-')}.json`);
    writeFileSync(file, JSON.stringify(doc));
    const res = await cli('config', 'apply', layer, '-f', file, '-m', 'amqp fleet setup');
    expect(res.code, res.stderr).toBe(0);
  }
  agent = await startAgentProcess({
    centerUrl: center.url,
    node: 'a',
    auth: ['--token', agentToken],
    stateDir: path.join(dir, 'agent'),
    heartbeat: '500ms',
    logFile: logs('agent'),
  });
  await settled(60_000);
  producer = new Producer({ broker_url: vhost.url(), result_backend: redis.url(1) });
  producer.start();
}, 120_000);

afterAll(async () => {
  await producer?.stop();
  await producer?.app.close();
  await agent?.stop('SIGTERM');
  await center?.proc.stop('SIGTERM');
  db?.disconnect();
  await redis?.stop();
  await vhost?.delete();
  if (process.env.CELERIAC_KEEP_E2E) process.stderr.write(`amqp fleet e2e logs in ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('an AMQP fleet under the agent', () => {
  it('(1) tasks run on the celeriac and the Python programs over RabbitMQ', async () => {
    const ids = [await producer.send('tasks.add', [2, 3]), await producer.send('py.mul', [6, 7], 'py_queue')];
    await fleetTasksDone(db, ids);
    const hosts = await db.hmget('fleet:host', ...ids);
    // On RabbitMQ a celeriac worker's name carries its generation, as a Python worker's does (unique pidbox queues).
    expect(hosts[0]).toMatch(/^a\.w\.\d+\.g\d+@/);
    expect(hosts[1]).toMatch(/^a\.py\.\d+/);
    expect(await vhost.queueInfo('celery')).toMatchObject({ durable: true });
  }, 60_000);

  it('(2) a queue change restarts exactly program w, rolling, and `celeriac nodes` shows it applied', async () => {
    const before = await settled();
    const res = await cli('config', 'set', 'nodes/a', 'programs.w.queues=["celery","extra"]', '-m', 'w on extra');
    expect(res.code, res.stderr).toBe(0);
    const after = await eventually(
      async () => {
        const n = await center.admin.node('a');
        const replaced = n.programs.w?.pids.every((p) => !before.programs.w?.pids.includes(p));
        return replaced && n.applied_revision === n.desired_revision ? await settled() : undefined;
      },
      60_000,
      'w restarted onto the new revision',
    );
    // Rolling, make before break: the new replicas were ready before the old ones were stopped.
    const at = (event: string, pids: number[] | undefined) =>
      agentEvents(event)
        .filter((e) => e.program === 'w' && pids?.includes(e.pid as number))
        .map((e) => e.time as number);
    const newReady = at('program.replica_ready', after.programs.w?.pids);
    const oldStopped = at('program.replica_stopped', before.programs.w?.pids);
    expect(newReady).toHaveLength(2);
    expect(oldStopped).toHaveLength(2);
    expect(Math.max(...newReady)).toBeLessThanOrEqual(Math.min(...oldStopped));
    expect(after.message).toMatch(/w: restart/);
    // The old and the new process of a replica had names of their own: no shared AMQP pidbox queue.
    const wLogs = readdirSync(path.join(dir, 'agent', 'programs', 'w', 'logs'))
      .map((f) => readFileSync(path.join(dir, 'agent', 'programs', 'w', 'logs', f), 'utf8'))
      .join('\n');
    expect(wLogs).not.toContain('control.duplicate_node');
    expect(after.programs.py?.pids).toEqual(before.programs.py?.pids);
    expect(after.programs.slow?.pids).toEqual(before.programs.slow?.pids);
    const nodes = JSON.parse((await cli('nodes', '--json')).stdout) as {
      node: string;
      state: string;
      desired_revision: number;
      applied_revision: number;
      programs: Record<string, { pids: number[] }>;
    }[];
    const a = nodes.find((n) => n.node === 'a');
    expect(a).toMatchObject({ state: 'in_sync', applied_revision: after.desired_revision });
    expect(a?.programs.w?.pids.sort()).toEqual([...(after.programs.w?.pids ?? [])].sort());
    const ids = await Promise.all(Array.from({ length: 10 }, (_, i) => producer.send('tasks.add', [i, i], 'extra')));
    await fleetTasksDone(db, ids);
    expect((await db.hmget('fleet:host', ...ids)).every((h) => h?.startsWith('a.w.'))).toBe(true);
  }, 90_000);

  it('(3) a celeriac worker killed with -9: RabbitMQ gives its tasks back, no restore is needed', async () => {
    const before = await settled();
    const victim = before.programs.slow?.pids[0] as number;
    const ids = await Promise.all(Array.from({ length: 4 }, () => producer.send('tasks.sleepy', [2], 'slow_queue')));
    await eventually(
      async () => {
        const c = await vhost.queueCounts('slow_queue');
        return c?.ready === 0 && c.unacked === 4;
      },
      15_000,
      'the slow worker took the sleepy tasks',
    );
    process.kill(victim, 'SIGKILL');
    const killedAt = Date.now();
    const after = await eventually(async () => {
      const n = await settled();
      return n.programs.slow?.pids[0] !== victim ? n : undefined;
    });
    expect(after.programs.slow?.restarts).toBe(1);
    await fleetTasksDone(db, ids, 30_000);
    const at = (await db.hmget('fleet:at', ...ids)).map(Number);
    expect(Math.max(...at) - killedAt).toBeLessThan(20_000);
    // The agent does not try a Redis restore on an AMQP broker: it says so once, and fails nothing.
    expect(agentEvents('agent.restore_not_needed')).toHaveLength(1);
    expect(agentEvents('agent.restore_failed')).toEqual([]);
  }, 90_000);

  it('(4) the node status shows the probed workers of both programs (AMQP pidbox): responding, active/reserved', async () => {
    const node = await eventually(
      async () => {
        const n = (await center.admin.node('a')) as Probed;
        const all = ['w', 'slow', 'py'].map((p) => Object.entries(n.programs[p]?.workers ?? {}));
        const counted = (w: ProbedWorker) =>
          w.responding && typeof w.active === 'number' && typeof w.reserved === 'number';
        const ok =
          all[0]?.length === 2 &&
          all[1]?.length === 1 &&
          all[2]?.length === 1 &&
          all.every((entries) => entries.every(([, w]) => counted(w))) &&
          ['w', 'slow', 'py'].every((p) => n.programs[p]?.responding === true);
        return ok ? n : undefined;
      },
      30_000,
      'probed workers in the node status',
    );
    expect(Object.keys(node.programs.w?.workers ?? {}).sort()).toEqual([
      expect.stringMatching(/^a\.w\.1\.g\d+@/),
      expect.stringMatching(/^a\.w\.2\.g\d+@/),
    ]);
    expect(Object.keys(node.programs.py?.workers ?? {})).toEqual([expect.stringMatching(/^a\.py\.1\.g\d+@/)]);
    expect(agentEvents('agent.worker_probe_unavailable')).toEqual([]);
  }, 60_000);

  it('(5) the Python program reports succeeded and failed counts from Celery task events on RabbitMQ', async () => {
    const FAILS = 3;
    const fails = await Promise.all(
      Array.from({ length: FAILS }, () => producer.app.sendTask('py.fail', [], {}, { queue: 'py_queue' })),
    );
    for (const r of fails) await r.get({ timeout: 30_000, propagate: false });
    const health = await eventually(
      async () => {
        const h = ((await center.admin.node('a')) as Probed).programs.py?.health;
        return h?.counts.failed === FAILS && h.counts.succeeded > 0 ? h : undefined;
      },
      30_000,
      'task-event outcomes of the Python program',
    );
    expect(health.source).toBe('task_events');
    expect(health.outcomes).toBeUndefined();
    expect(agentEvents('agent.task_events_unavailable')).toEqual([]);
  }, 60_000);

  it('(6) a fleet_concurrency set in the layer is live (no restart), in the result backend Redis, and obeyed', async () => {
    const LIMIT = 2;
    const before = await settled();
    const annotation = JSON.stringify({ 'tasks.span': { fleet_concurrency: LIMIT } });
    const res = await cli('config', 'set', 'nodes/a', `celery.task_annotations=${annotation}`, '-m', 'fleet limit');
    expect(res.code, res.stderr).toBe(0);
    const after = await eventually(
      async () => {
        const n = await center.admin.node('a');
        return (n.desired_revision ?? 0) > (before.desired_revision ?? 0) && n.applied_revision === n.desired_revision
          ? n
          : undefined;
      },
      30_000,
      'the fleet limit applied',
    );
    expect(after.apply_result).toBe('ok');
    expect(after.message).toMatch(/fleet limits: live \(task:tasks\.span\)/);
    for (const p of ['w', 'slow', 'py']) expect(after.programs[p]?.pids, p).toEqual(before.programs[p]?.pids);
    // Where workers on RabbitMQ read fleet limits: the result backend's Redis.
    const doc = JSON.parse((await db.get('celeriac.fleet-limits')) ?? 'null') as { limits: unknown[] } | null;
    expect(doc?.limits).toMatchObject([{ id: 'task:tasks.span', concurrency: LIMIT }]);
    // Both w workers loaded it (they were started without it: only the agent's document says so).
    const wLogs = path.join(dir, 'agent', 'programs', 'w', 'logs');
    await eventually(
      async () =>
        readdirSync(wLogs).every((f) =>
          readFileSync(path.join(wLogs, f), 'utf8')
            .split('\n')
            .some((l) => l.includes('worker.fleet_limits_loaded') && l.includes('tasks.span')),
        ) || undefined,
      15_000,
      'the w workers loaded the fleet limit',
    );
    const runs = await Promise.all(Array.from({ length: 12 }, () => producer.app.sendTask('tasks.span', [])));
    for (const r of runs) await r.get({ timeout: 30_000 });
    const spans = (await db.lrange('fleet:spans', 0, -1)).map((s) => JSON.parse(s) as [number, number]);
    expect(spans).toHaveLength(12);
    // At most LIMIT runs at any instant across the two workers (8 slots between them).
    const edges = spans.flatMap(([start, end]) => [
      [start, 1],
      [end, -1],
    ]);
    edges.sort((a, b) => (a[0] as number) - (b[0] as number) || (a[1] as number) - (b[1] as number));
    let running = 0;
    let most = 0;
    for (const [, d] of edges) {
      running += d as number;
      most = Math.max(most, running);
    }
    process.stdout.write(`e2e amqp fleet_concurrency ${LIMIT}: at most ${most} of 12 runs at once\n`);
    expect(most).toBeLessThanOrEqual(LIMIT);
    expect(agentEvents('agent.fleet_limits_failed')).toEqual([]);
  }, 60_000);

  it('every submitted task completed exactly once, and the node is in sync', async () => {
    await producer.stop();
    const ids = producer.submitted;
    expect(ids.length).toBeGreaterThan(50);
    await fleetTasksDone(db, ids, 40_000).catch(() => undefined);
    const counts = await fleetRuns(db, ids);
    const wrong = ids.map((id, i) => ({ id, runs: counts[i] })).filter((w) => w.runs !== 1);
    expect(wrong).toEqual([]);
    const n = await center.admin.node('a');
    expect(n.applied_revision).toBe(n.desired_revision);
    expect(n.state).toBe('in_sync');
    // Nothing the agent does assumes a Redis broker: not one error in its log (a Redis client given
    // the amqp:// URL logged RedisUrlError "RabbitMQ (amqp://) is not supported yet" per worker exit).
    const errors = readFileSync(logs('agent'), 'utf8')
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; event?: string; msg?: string })
      .filter((l) => l.level >= 50);
    expect(errors).toEqual([]);
  }, 60_000);
});
