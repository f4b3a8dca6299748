import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../../test/support/redis-server.js';
import { CenterStartError, RedisStore, startCenter } from '../src/index.js';
import {
  ADMIN_TOKEN,
  api,
  captureLogger,
  startTestCenter,
  type TestCenter,
  until,
  workerNodeLayer,
} from './support/center-harness.js';

const T = ADMIN_TOKEN;
let redis: RedisServer;
let a: TestCenter;
let b: TestCenter;

async function replica(): Promise<TestCenter> {
  return startTestCenter({ store: new RedisStore({ url: redis.url(3), logger: captureLogger([]) }) });
}

beforeAll(async () => {
  redis = await RedisServer.start();
  a = await replica();
  b = await replica();
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await redis?.stop();
});

describe('two center replicas on one Redis', () => {
  it('a write through one replica wakes a long-poll held by the other', async () => {
    expect((await api(a.url, 'PUT', '/v1/layers/nodes/w1', { token: T, body: workerNodeLayer([]) })).status).toBe(201);
    await until(
      async () => (await api(b.url, 'GET', '/v1/nodes/w1/config', { token: T })).body.revision === 1,
      10_000,
      'replica b to see revision 1',
    );
    const held = api(b.url, 'GET', '/v1/nodes/w1/config?after=1&wait=20', { token: T });
    await until(
      async () => /celeriac_center_long_polls_held 1/.test((await api(b.url, 'GET', '/metrics')).text),
      10_000,
      'b to hold the long-poll',
    );
    const started = Date.now();
    const write = await api(a.url, 'PATCH', '/v1/layers/nodes/w1', {
      token: T,
      body: { celery: { task_default_queue: 'moved' } },
      headers: { 'if-match': '1' },
    });
    expect(write.status).toBe(200);
    const answer = await held;
    expect(answer.status).toBe(200);
    expect(answer.body.revision).toBe(2);
    expect(answer.body.config.celery.task_default_queue).toBe('moved');
    expect(Date.now() - started).toBeLessThan(5000);
  });

  it('refuses the stale one of two concurrent writes based on the same revision', async () => {
    for (let round = 0; round < 5; round++) {
      const current = (await api(a.url, 'GET', '/v1/layers/nodes/w1', { token: T })).body.revision as number;
      await until(
        async () => (await api(b.url, 'GET', '/v1/layers/nodes/w1', { token: T })).body.revision === current,
        10_000,
        'b in step',
      );
      const [fromA, fromB] = await Promise.all([
        api(a.url, 'PATCH', '/v1/layers/nodes/w1', {
          token: T,
          body: { celery: { task_default_queue: `a-${round}` } },
          headers: { 'if-match': String(current) },
        }),
        api(b.url, 'PATCH', '/v1/layers/nodes/w1', {
          token: T,
          body: { celery: { task_default_queue: `b-${round}` } },
          headers: { 'if-match': String(current) },
        }),
      ]);
      const statuses = [fromA.status, fromB.status].sort();
      expect(statuses, `round ${round}: ${fromA.text} / ${fromB.text}`).toEqual([200, 409]);
      const loser = fromA.status === 409 ? fromA : fromB;
      expect(loser.body.error).toMatchObject({ code: 'CENTER_CONFLICT', current_revision: current + 1 });
    }
    const history = await api(b.url, 'GET', '/v1/revisions?layer=nodes/w1', { token: T });
    expect(history.body.revisions).toHaveLength(7);
    const numbers = history.body.revisions.map((r: { revision: number }) => r.revision);
    expect(numbers).toEqual([...numbers].sort((x: number, y: number) => y - x));
  });

  it('shares tokens and node statuses between replicas, and a new replica loads every revision', async () => {
    const created = await api(a.url, 'POST', '/v1/tokens', { token: T, body: { role: 'agent', node: 'w1' } });
    const agent = created.body.token as string;
    const status = await api(b.url, 'POST', '/v1/nodes/w1/status', {
      token: agent,
      body: { applied_revision: 2, apply_result: 'ok', programs: {} },
    });
    expect(status.status).toBe(200);
    const nodes = await api(a.url, 'GET', '/v1/nodes', { token: T });
    const w1 = nodes.body.nodes.find((n: { node: string }) => n.node === 'w1');
    expect(w1).toMatchObject({ applied_revision: 2, apply_result: 'ok', state: 'pending', drift: true });
    expect(w1.desired_revision).toBeGreaterThan(2);
    expect((await api(a.url, 'DELETE', `/v1/tokens/${created.body.id}`, { token: T })).status).toBe(200);
    expect((await api(b.url, 'GET', '/v1/nodes/w1/config', { token: agent })).status).toBe(401);

    const c = await replica();
    try {
      const head = (await api(a.url, 'GET', '/healthz')).body.revision;
      expect((await api(c.url, 'GET', '/healthz')).body.revision).toBe(head);
      const fromA = await api(a.url, 'GET', '/v1/nodes/w1/config', { token: T });
      const fromC = await api(c.url, 'GET', '/v1/nodes/w1/config', { token: T });
      expect(fromC.body).toEqual(fromA.body);
    } finally {
      await c.close();
    }
  });

  it('lets exactly one of two stores append on the same expectation (the Lua compare-and-append)', async () => {
    const logger = captureLogger([]);
    const one = new RedisStore({ url: redis.url(4), logger });
    const two = new RedisStore({ url: redis.url(4), logger });
    await one.start();
    await two.start();
    try {
      const heard: number[] = [];
      two.onAppend((head) => heard.push(head));
      const draft = (name: string) => ({
        layer: 'groups/g',
        kind: 'put' as const,
        author: { token_id: 't', name, role: 'admin' as const },
        time: new Date().toISOString(),
        message: name,
        diff: [],
        document: { celery: { task_default_queue: name } },
      });
      const results = await Promise.all([
        one.append(draft('one'), { layerRevision: 0, headRevision: 0 }),
        two.append(draft('two'), { layerRevision: 0, headRevision: 0 }),
      ]);
      expect(results.filter((r) => r.ok)).toHaveLength(1);
      expect(results.find((r) => !r.ok)).toMatchObject({
        ok: false,
        reason: 'layer_conflict',
        currentLayerRevision: 1,
      });
      const moved = await one.append({ ...draft('other'), layer: 'groups/h' }, { layerRevision: 0, headRevision: 0 });
      expect(moved).toMatchObject({ ok: false, reason: 'head_moved', headRevision: 1 });
      const stored = await two.readRevisions(0);
      expect(stored).toHaveLength(1);
      expect(stored[0]?.revision).toBe(1);
      await until(() => heard.includes(1), 5000, 'the change notification');
    } finally {
      await one.close();
      await two.close();
    }
  });
});

describe('Redis store set-up errors', () => {
  it('fails to start on an unreachable Redis with a coded error that hides the password', async () => {
    const lines: string[] = [];
    const url = 'redis://:hunter2secret@127.0.0.1:1/0';
    const store = new RedisStore({ url, logger: captureLogger(lines) });
    expect(store.description).toBe('redis://:***@127.0.0.1:1/0');
    const error = await startCenter({
      listen: '127.0.0.1:0',
      store,
      logger: captureLogger(lines),
      adminToken: ADMIN_TOKEN,
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CenterStartError);
    expect((error as CenterStartError).code).toBe('CENTER_STORE_UNREACHABLE');
    expect((error as CenterStartError).message).not.toContain('hunter2secret');
    expect(lines.join('')).not.toContain('hunter2secret');
  });
});
