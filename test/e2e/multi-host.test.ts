import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CenterApi, eventually, type NodeSummary } from './support/center-api.js';
import { untilCenterReachable, untilCenterUnreachable } from './support/fleet-processes.js';
import { fleetRuns, fleetTasksDone } from './support/fleet-records.js';
import { startHostAgent, startHostCenter, startHostRedis } from './support/host-processes.js';
import { HostNetwork } from './support/netns-hosts.js';
import type { Spawned } from './support/processes.js';
import { SteadyProducer } from './support/steady-producer.js';

// Three agents on three hosts (network namespaces the test creates; loopback addresses where
// namespaces are refused, said in the output), Redis and the center on hosts of their own. Redis
// is on a data network and the center on a control network (see support/netns-hosts.ts), so a
// partition cuts a host off the center only: its workers keep taking tasks from Redis.

const SUPPORT = fileURLToPath(new URL('./support/', import.meta.url));
const ADMIN = 'multi-host-e2e-admin-token-0123456789abcdef';
const HOSTS = ['h1', 'h2', 'h3'] as const;
type HostName = (typeof HOSTS)[number];
const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-multi-host-'));
const logs = (name: string) => path.join(dir, `${name}.log`);

let network: HostNetwork;
let db: Redis;
let admin: CenterApi;
const agents = {} as Record<HostName, { proc: Spawned; metrics: string }>;
let producer: Producer;
let defaults: { celery: Record<string, unknown>; programs: Record<string, Record<string, unknown>> };

/** Sends tasks every 100 ms (to the shared queue, and to aux now and then); remembers every id. */
class Producer extends SteadyProducer {
  readonly submitted: string[] = [];

  protected async step(i: number): Promise<void> {
    this.submitted.push((await this.app.sendTask('tasks.mul', [i, 2])).id);
    if (i % 4 === 0) this.submitted.push((await this.app.sendTask('tasks.add', [i, 1], {}, { queue: 'aux' })).id);
  }
}

function worker(queues: string[], concurrency: number) {
  return {
    kind: 'celeriac-worker',
    app: path.join(SUPPORT, 'fleet-tasks.mjs'),
    queues,
    concurrency,
    stop_timeout: '10s',
    ready_timeout: '40s',
  };
}

/** Writes `defaults`; resolves with the revision the nodes are then asked to apply. */
async function put(message: string): Promise<number> {
  const res = await admin.putLayer('defaults', defaults, message);
  expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
  return (await admin.node('h1')).desired_revision;
}

/** The node's summary once it applied `revision` (or its desired one) and both programs run. */
async function settled(node: HostName, revision?: number, timeoutMs = 45_000): Promise<NodeSummary> {
  return eventually(
    async () => {
      const n = await admin.node(node);
      const ok =
        n.applied_revision === (revision ?? n.desired_revision) &&
        n.apply_result === 'ok' &&
        ['w', 'aux'].every((p) => n.programs[p]?.state === 'running' && n.programs[p]?.pids.length === 1);
      if (ok) return n;
      // Thrown, not returned: `eventually` puts the last state in its timeout message.
      const programs = Object.entries(n.programs).map(([p, s]) => `${p} ${s.state} pids ${s.pids}`);
      throw new Error(
        `applied ${n.applied_revision} (${n.apply_result}) of desired ${n.desired_revision}; ${programs.join(', ')}`,
      );
    },
    timeoutMs,
    `node ${node} settled at revision ${revision ?? 'desired'}`,
  );
}

const pid = (n: NodeSummary, program: string) => n.programs[program]?.pids[0] as number;

/** Ids of tasks that `node`'s programs finished after `since` (epoch ms). */
async function finishedBy(node: HostName, since: number): Promise<string[]> {
  const [hosts, at] = await Promise.all([db.hgetall('fleet:host'), db.hgetall('fleet:at')]);
  return Object.keys(hosts).filter((id) => hosts[id]?.startsWith(`${node}.`) && Number(at[id]) > since);
}

beforeAll(async () => {
  network = await HostNetwork.create([...HOSTS]);
  console.log(network.describe());
  const startedAt = Date.now();

  const redis = await startHostRedis(network, dir, logs('redis'));
  db = redis.db;

  const center = await startHostCenter(network, { dir, adminToken: ADMIN, logFile: logs('center') });
  admin = center.admin;

  defaults = {
    celery: {
      broker_url: redis.url(0),
      result_backend: redis.url(1),
      task_serializer: 'json',
      accept_content: ['json'],
      task_default_queue: 'celery',
      task_acks_late: true,
    },
    programs: { w: worker(['celery'], 2), aux: worker(['aux'], 1) },
  };
  for (const node of HOSTS) {
    const res = await admin.putLayer(`nodes/${node}`, {}, 'multi-host setup');
    expect(res.status, JSON.stringify(res.body)).toBeLessThan(300);
  }
  await put('multi-host setup');

  for (const node of HOSTS) {
    const token = await admin.createToken('agent', node);
    agents[node] = await startHostAgent(network, node, {
      centerPort: center.port,
      token,
      dir,
      logFile: logs(`agent-${node}`),
    });
  }
  await Promise.all(HOSTS.map((node) => settled(node, undefined, 60_000)));
  console.log(`multi-host: three hosts settled ${Date.now() - startedAt} ms after the network was built`);
  producer = new Producer({ broker_url: redis.url(0), result_backend: redis.url(1) });
  producer.start();
}, 120_000);

afterAll(async () => {
  await producer?.stop();
  await producer?.app.close();
  for (const node of HOSTS) await agents[node]?.proc.stop('SIGTERM');
  db?.disconnect();
  await network?.teardown();
  if (process.env.CELERIAC_KEEP_E2E) process.stderr.write(`multi-host e2e logs in ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe(`three agents on three hosts`, () => {
  it('a change reaches every host and each restarts the affected program only', async () => {
    const before = await Promise.all(HOSTS.map((node) => settled(node)));
    defaults.programs.w = worker(['celery'], 3);
    const revision = await put('w: concurrency 3');
    const after = await Promise.all(HOSTS.map((node) => settled(node, revision)));
    HOSTS.forEach((node, i) => {
      const [b, a] = [before[i] as NodeSummary, after[i] as NodeSummary];
      expect(pid(a, 'w'), `${node} w restarted`).not.toBe(pid(b, 'w'));
      expect(pid(a, 'aux'), `${node} aux untouched`).toBe(pid(b, 'aux'));
      expect(a.message).toMatch(/concurrency/);
    });
  }, 90_000);

  it('a host cut off from the center keeps its last good config and its tasks, then catches up', async () => {
    const before = await Promise.all(HOSTS.map((node) => settled(node)));
    const lastGood = (before[2] as NodeSummary).applied_revision;
    network.partition('h3');
    const cutAt = Date.now();

    defaults.programs.w = worker(['celery'], 4);
    const revision = await put('w: concurrency 4, h3 partitioned');
    const [h1, h2] = await Promise.all([settled('h1', revision), settled('h2', revision)]);
    for (const [n, b] of [
      [h1, before[0]],
      [h2, before[1]],
    ] as const) {
      expect(pid(n, 'w')).not.toBe(pid(b as NodeSummary, 'w'));
      expect(pid(n, 'aux')).toBe(pid(b as NodeSummary, 'aux'));
    }
    // h3 keeps its workers and they still take tasks from Redis: the partition spares the data
    // network. Waiting for tasks it finished after h1 and h2 applied also gives it the time they
    // needed to apply, so a change that got through would show below.
    const othersAppliedAt = Date.now();
    await eventually(
      async () => (await finishedBy('h3', othersAppliedAt)).length >= 5,
      30_000,
      'h3 runs tasks while cut off',
    );
    expect((await finishedBy('h3', cutAt)).length).toBeGreaterThanOrEqual(5);

    // The center has not heard from h3 for 10 heartbeats: the cut is real on its side too.
    const seen = await eventually(
      async () => {
        const n = await admin.node('h3');
        return n.last_seen && Date.now() - Date.parse(n.last_seen) > 5000 ? n : undefined;
      },
      30_000,
      'the center stops hearing from h3',
    );
    // h3's own view (its metrics listen on the data network).
    const h3Before = before[2] as NodeSummary;
    // Its agent learns of the cut from a failed status heartbeat, without waiting for the long-poll's timeout.
    const health = await untilCenterUnreachable(agents.h3.metrics, 30_000, 'h3 reports the center unreachable');
    expect(health.applied_revision).toBe(lastGood);
    expect([seen.desired_revision, seen.applied_revision]).toEqual([revision, lastGood]);
    for (const program of ['w', 'aux']) expect(() => process.kill(pid(h3Before, program), 0)).not.toThrow();
    console.log(
      `multi-host: h3 cut off for ${Date.now() - cutAt} ms, still at revision ${lastGood} (latest ${revision}); center shows it ${seen.state}, its agent reports center_reachable=${health.center_reachable}`,
    );

    network.heal('h3');
    const healedAt = Date.now();
    const h3 = await settled('h3', revision, 60_000);
    console.log(`multi-host: h3 caught up to revision ${revision} ${Date.now() - healedAt} ms after the heal`);
    expect(pid(h3, 'w')).not.toBe(pid(h3Before, 'w'));
    expect(pid(h3, 'aux')).toBe(pid(h3Before, 'aux'));
    await untilCenterReachable(agents.h3.metrics, 30_000, 'h3 reaches the center');
  }, 120_000);

  it('every task sent throughout ran exactly once', async () => {
    await producer.stop();
    const ids = producer.submitted;
    expect(ids.length).toBeGreaterThan(50);
    await fleetTasksDone(db, ids, 40_000).catch(() => undefined);
    const counts = await fleetRuns(db, ids);
    const wrong = ids.map((id, i) => ({ id, runs: counts[i] })).filter((t) => t.runs !== 1);
    expect(wrong).toEqual([]);
    const hosts = new Set(Object.values(await db.hgetall('fleet:host')).map((h) => h.split('.')[0]));
    expect([...hosts].sort()).toEqual([...HOSTS]);
    expect(await db.llen('celeriac.dead-letter')).toBe(0);
  }, 60_000);
});
