import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, RedisServer } from '../support/redis-server.js';
import { CenterApi, eventually, type NodeSummary } from './support/center-api.js';
import { untilCenterUnreachable } from './support/fleet-processes.js';
import { fleetRuns, fleetTasksDone } from './support/fleet-records.js';
import { nodeSettled } from './support/node-settled.js';
import { runCeleriac, type Spawned, spawnCeleriac } from './support/processes.js';
import { SteadyProducer } from './support/steady-producer.js';

// The whole fleet from real programs: redis-server, `celeriac center`, two `celeriac agent`s
// (node a: a celeriac worker and a Python Celery worker; node b: a celeriac worker), a producer
// streaming tasks throughout, and ops changes made with `celeriac config`.

const SUPPORT = fileURLToPath(new URL('./support/', import.meta.url));
const ADMIN = 'fleet-e2e-admin-token-0123456789abcdef';
const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-fleet-'));
const logs = (name: string) => path.join(dir, `${name}.log`);

let redis: RedisServer;
let db: Redis;
let center: Spawned;
let centerPort = 0;
let centerUrl = '';
let admin: CenterApi;
let operator = '';
const agents: Record<'a' | 'b', { proc?: Spawned; token: string; metrics: string }> = {
  a: { token: '', metrics: '' },
  b: { token: '', metrics: '' },
};
let producer: Producer;

/** Sends a steady mix of tasks and remembers every id it submitted. */
class Producer extends SteadyProducer {
  readonly submitted: { id: string; name: string; at: number }[] = [];

  async send(name: string, args: unknown[], queue?: string): Promise<string> {
    const r = await this.app.sendTask(name, args, {}, queue ? { queue } : {});
    this.submitted.push({ id: r.id, name, at: Date.now() });
    return r.id;
  }

  protected async step(i: number): Promise<void> {
    await this.send('tasks.mul', [i, 2]);
    if (i % 2 === 0) await this.send('tasks.add', [i, 1]);
    if (i % 5 === 0) await this.send('py.mul', [i, 3], 'py_queue');
  }
}

async function cli(...args: string[]) {
  return runCeleriac(args, { CELERIAC_CENTER: centerUrl, CELERIAC_TOKEN: operator });
}

function startCenter(): Spawned {
  return spawnCeleriac(
    [
      'center',
      '--data',
      path.join(dir, 'center'),
      '--listen',
      `127.0.0.1:${centerPort}`,
      '--admin-token-file',
      path.join(dir, 'admin-token'),
    ],
    logs('center'),
  );
}

async function waitHealthy(url: string): Promise<void> {
  await eventually(async () => (await fetch(`${url}/healthz`)).ok, 20_000, `${url}/healthz`);
}

async function startAgent(node: 'a' | 'b'): Promise<void> {
  const port = await freePort();
  agents[node].metrics = `http://127.0.0.1:${port}`;
  agents[node].proc = spawnCeleriac(
    [
      'agent',
      '--center',
      centerUrl,
      '--node',
      node,
      '--token',
      agents[node].token,
      '--state-dir',
      path.join(dir, `agent-${node}`),
      '--metrics-listen',
      `127.0.0.1:${port}`,
      '--heartbeat',
      '500ms',
    ],
    logs(`agent-${node}`),
    { PYTHONPATH: SUPPORT },
  );
}

/** Waits until the node applied its desired revision and every program runs. */
function settled(node: 'a' | 'b', programs: string[], timeoutMs = 30_000): Promise<NodeSummary> {
  return nodeSettled(admin, node, Object.fromEntries(programs.map((p) => [p, 1])), timeoutMs);
}

function pid(n: NodeSummary, program: string): number {
  return n.programs[program]?.pids[0] as number;
}

beforeAll(async () => {
  redis = await RedisServer.start();
  db = new Redis(redis.url(0));
  centerPort = await freePort();
  centerUrl = `http://127.0.0.1:${centerPort}`;
  writeFileSync(path.join(dir, 'admin-token'), ADMIN, { mode: 0o600 });
  center = startCenter();
  await waitHealthy(centerUrl);
  admin = new CenterApi(centerUrl, ADMIN);
  operator = await admin.createToken('operator');
  agents.a.token = await admin.createToken('agent', 'a');
  agents.b.token = await admin.createToken('agent', 'b');

  const celery = {
    broker_url: redis.url(0),
    result_backend: redis.url(1),
    task_serializer: 'json',
    result_serializer: 'json',
    accept_content: ['json', 'msgpack'],
    task_default_queue: 'celery',
    task_acks_late: true,
  };
  const worker = (queues: string[]) => ({
    kind: 'celeriac-worker',
    app: path.join(SUPPORT, 'fleet-tasks.mjs'),
    queues,
    concurrency: 8,
    stop_timeout: '10s',
    ready_timeout: '30s',
  });
  const layers: Record<string, unknown> = {
    defaults: { celery },
    'nodes/a': {
      programs: {
        w: worker(['celery']),
        py: {
          kind: 'celery-worker',
          app: 'fleet_py_tasks',
          queues: ['py_queue'],
          concurrency: 2,
          stop_timeout: '10s',
          ready_timeout: '40s',
        },
      },
    },
    // slow runs only the long tasks of step 6: a task that finished but whose (batched) ack had
    // not reached Redis when its worker was killed runs again (at-least-once, as Celery's
    // acks_late), so the killed worker holds only unfinished tasks and "exactly once" stays exact.
    'nodes/b': { programs: { w: worker(['celery']), slow: worker(['slow_queue']) } },
  };
  for (const [layer, doc] of Object.entries(layers)) {
    const file = path.join(dir, `${layer.replace('/', '-')}.json`);
    writeFileSync(file, JSON.stringify(doc));
    const res = await cli('config', 'apply', layer, '-f', file, '-m', 'fleet test setup');
    expect(res.code, res.stderr).toBe(0);
  }
  await startAgent('a');
  await startAgent('b');
  await settled('a', ['w', 'py'], 60_000);
  await settled('b', ['w', 'slow'], 60_000);
  producer = new Producer({ broker_url: redis.url(0), result_backend: redis.url(1) });
  producer.start();
}, 120_000);

afterAll(async () => {
  await producer?.stop();
  await producer?.app.close();
  for (const node of ['a', 'b'] as const) await agents[node].proc?.stop('SIGTERM');
  await center?.stop('SIGTERM');
  db?.disconnect();
  await redis?.stop();
  if (process.env.CELERIAC_KEEP_E2E) process.stderr.write(`fleet e2e logs in ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('a fleet of two nodes under ops changes', () => {
  it('(1) routes tasks.add to add_queue on node a only', async () => {
    const b0 = await settled('b', ['w', 'slow']);
    const res = await cli(
      'config',
      'set',
      'nodes/a',
      'celery.task_routes["tasks.add"].queue=add_queue',
      'programs.w.queues=["celery","add_queue"]',
      '-m',
      'route add to node a',
    );
    expect(res.code, res.stderr).toBe(0);
    const a1 = await eventually(async () => {
      const n = await settled('a', ['w', 'py']);
      return n.message?.includes('w: restart') ? n : undefined;
    });
    expect(a1.message).toMatch(/task_routes/);
    producer.app.conf.update({ task_routes: { 'tasks.add': { queue: 'add_queue' } } });
    const ids = await Promise.all(Array.from({ length: 10 }, (_, i) => producer.send('tasks.add', [i, i])));
    await fleetTasksDone(db, ids);
    const hosts = await db.hmget('fleet:host', ...ids);
    expect(hosts.every((h) => h?.startsWith('a.w.'))).toBe(true);
    expect(await db.llen('add_queue')).toBe(0);
    // Node b was not touched.
    expect(pid(await settled('b', ['w', 'slow']), 'w')).toBe(pid(b0, 'w'));
  }, 90_000);

  it('(2) rate limit 10/s on tasks.add is in force', async () => {
    const b0 = await settled('b', ['w', 'slow']);
    const res = await cli(
      'config',
      'set',
      'nodes/a',
      'celery.task_annotations["tasks.add"].rate_limit=10/s',
      '-m',
      'limit add',
    );
    expect(res.code, res.stderr).toBe(0);
    await eventually(async () => {
      const n = await settled('a', ['w', 'py']);
      return n.message?.includes('task_annotations') ? n : undefined;
    });
    const ids = await Promise.all(Array.from({ length: 30 }, (_, i) => producer.send('tasks.add', [i, 100])));
    await fleetTasksDone(db, ids, 20_000);
    const at = (await db.hmget('fleet:at', ...ids)).map(Number).sort((x, y) => x - y);
    const spanSec = ((at.at(-1) as number) - (at[0] as number)) / 1000;
    const rate = (ids.length - 1) / spanSec;
    expect(rate).toBeGreaterThan(5);
    expect(rate).toBeLessThan(13);
    expect(pid(await settled('b', ['w', 'slow']), 'w')).toBe(pid(b0, 'w'));
  }, 90_000);

  it('(3) task serializer msgpack: every worker restarts onto it and msgpack tasks run', async () => {
    const [a0, b0] = [await settled('a', ['w', 'py']), await settled('b', ['w', 'slow'])];
    const res = await cli('config', 'set', 'defaults', 'celery.task_serializer=msgpack', '-m', 'msgpack');
    expect(res.code, res.stderr).toBe(0);
    const [a1, b1] = await Promise.all([
      eventually(async () => {
        const n = await settled('a', ['w', 'py']);
        return pid(n, 'w') !== pid(a0, 'w') && pid(n, 'py') !== pid(a0, 'py') ? n : undefined;
      }, 60_000),
      eventually(async () => {
        const n = await settled('b', ['w', 'slow']);
        return pid(n, 'w') !== pid(b0, 'w') && pid(n, 'slow') !== pid(b0, 'slow') ? n : undefined;
      }, 60_000),
    ]);
    expect(a1.message).toMatch(/task_serializer/);
    expect(b1.message).toMatch(/task_serializer/);
    const conf = JSON.parse(readFileSync(path.join(dir, 'agent-b', 'programs', 'w', 'config.json'), 'utf8'));
    expect(conf.task_serializer).toBe('msgpack');
    expect(readFileSync(path.join(dir, 'agent-a', 'programs', 'py', 'celeryconfig.py'), 'utf8')).toMatch(
      /task_serializer = "msgpack"/,
    );
    producer.app.conf.update({ task_serializer: 'msgpack' });
    const ids = [
      await producer.send('tasks.mul', [7, 6]),
      await producer.send('py.mul', [7, 6], 'py_queue'),
      await producer.send('tasks.add', [7, 6]),
    ];
    await fleetTasksDone(db, ids);
    expect(await db.llen('celeriac.dead-letter')).toBe(0);
  }, 90_000);

  it('(4) an invalid config is refused and nothing restarts', async () => {
    const [a0, b0] = [await settled('a', ['w', 'py']), await settled('b', ['w', 'slow'])];
    const res = await cli(
      'config',
      'set',
      'nodes/a',
      'celery.task_annotations["tasks.add"].rate_limit=fast',
      '-m',
      'oops',
    );
    expect(res.code).toBe(4);
    expect(res.stderr).toMatch(/rate_limit/);
    await new Promise((r) => setTimeout(r, 1500));
    const [a1, b1] = [await settled('a', ['w', 'py']), await settled('b', ['w', 'slow'])];
    expect(a1.desired_revision).toBe(a0.desired_revision);
    expect([pid(a1, 'w'), pid(a1, 'py'), pid(b1, 'w'), pid(b1, 'slow')]).toEqual([
      pid(a0, 'w'),
      pid(a0, 'py'),
      pid(b0, 'w'),
      pid(b0, 'slow'),
    ]);
  }, 90_000);

  it('(5) workers keep running while the center is down, and report again when it is back', async () => {
    const [a0, b0] = [await settled('a', ['w', 'py']), await settled('b', ['w', 'slow'])];
    const stopped = await center.stop('SIGTERM');
    expect(stopped.code).toBe(0);
    await untilCenterUnreachable(agents.a.metrics, 15_000, 'agent a reports the center unreachable');
    const ids = await Promise.all(Array.from({ length: 10 }, (_, i) => producer.send('tasks.mul', [i, 5])));
    await fleetTasksDone(db, ids);
    await new Promise((r) => setTimeout(r, 1500));
    center = startCenter();
    const backAt = Date.now();
    await waitHealthy(centerUrl);
    // Fresh reports from both agents (the center still holds the ones from before it stopped).
    const fresh = async (node: 'a' | 'b', programs: string[]) =>
      eventually(async () => {
        const n = await settled(node, programs);
        return n.last_seen && Date.parse(n.last_seen) > backAt ? n : undefined;
      });
    const [a1, b1] = await Promise.all([fresh('a', ['w', 'py']), fresh('b', ['w', 'slow'])]);
    expect([pid(a1, 'w'), pid(a1, 'py'), pid(b1, 'w'), pid(b1, 'slow')]).toEqual([
      pid(a0, 'w'),
      pid(a0, 'py'),
      pid(b0, 'w'),
      pid(b0, 'slow'),
    ]);
    expect(a1.applied_revision).toBe(a1.desired_revision);
    expect(b1.applied_revision).toBe(b1.desired_revision);
  }, 90_000);

  it('(6) a worker killed with -9 comes back and its tasks run at once', async () => {
    const b0 = await settled('b', ['w', 'slow']);
    const victim = pid(b0, 'slow');
    const ids = await Promise.all(Array.from({ length: 4 }, () => producer.send('tasks.sleepy', [2], 'slow_queue')));
    await eventually(async () => (await db.llen('slow_queue')) === 0, 10_000, 'the slow worker took the sleepy tasks');
    await new Promise((r) => setTimeout(r, 300));
    process.kill(victim, 'SIGKILL');
    const killedAt = Date.now();
    const b1 = await eventually(async () => {
      const n = await settled('b', ['w', 'slow']);
      return pid(n, 'slow') !== victim ? n : undefined;
    });
    expect(b1.programs.slow?.restarts).toBe(1);
    expect(pid(b1, 'w')).toBe(pid(b0, 'w'));
    await fleetTasksDone(db, ids, 20_000);
    const at = (await db.hmget('fleet:at', ...ids)).map(Number);
    // Restored by the agent at once, not after the one-hour visibility timeout.
    expect(Math.max(...at) - killedAt).toBeLessThan(15_000);
    const metrics = await (await fetch(`${agents.b.metrics}/metrics`)).text();
    expect(Number(/celeriac_agent_tasks_restored_total (\d+)/.exec(metrics)?.[1])).toBeGreaterThanOrEqual(4);
  }, 90_000);

  it('every submitted task completed exactly once, and the center shows each node in sync', async () => {
    await producer.stop();
    const ids = producer.submitted.map((s) => s.id);
    expect(ids.length).toBeGreaterThan(100);
    await fleetTasksDone(db, ids, 40_000).catch(() => undefined);
    const counts = await fleetRuns(db, ids);
    const wrong = producer.submitted
      .filter((_, i) => counts[i] !== 1)
      .map((s) => ({ ...s, runs: counts[producer.submitted.indexOf(s)] }));
    // On failure, say where each missing task is: still queued, held unacked, or nowhere (lost).
    const where = async () => {
      const unacked = Object.values(await db.hgetall('unacked')).join('\n');
      const queued: string[] = [];
      for (const key of await db.keys('*')) {
        if ((await db.type(key)) === 'list') queued.push(`${key}:${(await db.lrange(key, 0, -1)).join('\n')}`);
      }
      return wrong.map((w) => ({
        ...w,
        unacked: unacked.includes(w.id),
        queued: queued.filter((q) => q.includes(w.id)).map((q) => q.split(':')[0]),
      }));
    };
    expect(wrong, wrong.length > 0 ? JSON.stringify(await where()) : '').toEqual([]);
    expect(await db.llen('celeriac.dead-letter')).toBe(0);
    for (const node of ['a', 'b'] as const) {
      const n = await admin.node(node);
      expect(n.applied_revision).toBe(n.desired_revision);
      expect(n.state).toBe('in_sync');
    }
  }, 60_000);
});
