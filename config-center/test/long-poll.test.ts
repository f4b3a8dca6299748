import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN,
  api,
  startTestCenter,
  type TestCenter,
  until,
  workerNodeLayer,
} from './support/center-harness.js';

const T = ADMIN_TOKEN;
let center: TestCenter;

/** A long-poll in flight, with its answer once it came. */
function poll(node: string, after: number, waitSec: number, signal?: AbortSignal) {
  const state: { done: boolean; status?: number; body?: { revision: number; hash: string } } = { done: false };
  const promise = api(center.url, 'GET', `/v1/nodes/${node}/config?after=${after}&wait=${waitSec}`, {
    token: T,
    ...(signal ? { signal } : {}),
  }).then((response) => {
    state.done = true;
    state.status = response.status;
    state.body = response.body;
    return response;
  });
  return { state, promise };
}

async function held(): Promise<number> {
  const metrics = await api(center.url, 'GET', '/metrics');
  return Number(/celeriac_center_long_polls_held (\d+)/.exec(metrics.text)?.[1]);
}

async function put(layer: string, body: unknown, ifMatch?: number) {
  const response = await api(center.url, 'PUT', `/v1/layers/${layer}`, {
    token: T,
    body,
    headers: ifMatch === undefined ? {} : { 'if-match': String(ifMatch) },
  });
  expect(response.status, JSON.stringify(response.body)).toBeLessThan(300);
  return response.body.revision as number;
}

beforeAll(async () => {
  center = await startTestCenter({ maxWaitMs: 30_000 });
  await put('defaults', { celery: { task_default_queue: 'celery' } });
  await put('groups/g1', { celery: { task_default_queue: 'g1' } });
  await put('groups/g2', { celery: { task_default_queue: 'g2' } });
  await put('nodes/a', workerNodeLayer(['g1'], { celery: { timezone: 'Europe/Paris' } }));
  await put('nodes/b', workerNodeLayer(['g1']));
  await put('nodes/c', workerNodeLayer(['g2']));
});
afterAll(async () => {
  await center.close();
});

describe('long-poll', () => {
  it('answers at once when the config changed after `after`, and 304 after the wait otherwise', async () => {
    const now = await api(center.url, 'GET', '/v1/nodes/a/config?after=0&wait=10', { token: T });
    expect(now.status).toBe(200);
    expect(now.body.revision).toBe(4);
    const started = Date.now();
    const timeout = await api(center.url, 'GET', '/v1/nodes/a/config?after=4&wait=0.3', { token: T });
    expect(timeout.status).toBe(304);
    expect(timeout.text).toBe('');
    expect(Date.now() - started).toBeGreaterThanOrEqual(280);
    const noWait = await api(center.url, 'GET', '/v1/nodes/a/config?after=4', { token: T });
    expect(noWait.status).toBe(304);
  });

  it('wakes exactly the nodes whose effective config changed', async () => {
    const a = poll('a', 4, 20);
    const b = poll('b', 5, 20);
    const c = poll('c', 6, 20);
    await until(async () => (await held()) === 3, 10_000, '3 held long-polls');

    // g1 changes timezone: b gets it, a overrides timezone itself, c is in g2.
    const revision = await put('groups/g1', { celery: { task_default_queue: 'g1', timezone: 'UTC' } }, 2);
    const response = await b.promise;
    expect(response.status).toBe(200);
    expect(response.body.revision).toBe(revision);
    expect(response.body.config.celery.timezone).toBe('UTC');
    await new Promise((resolve) => setTimeout(resolve, 300));
    expect(a.state.done).toBe(false);
    expect(c.state.done).toBe(false);
    expect(await held()).toBe(2);

    const unchanged = await api(center.url, 'GET', '/v1/nodes/a/config', { token: T });
    expect(unchanged.body.revision).toBe(4);

    const cRevision = await put('nodes/c', workerNodeLayer(['g2'], { celery: { timezone: 'Asia/Tokyo' } }), 6);
    expect((await c.promise).body.revision).toBe(cRevision);
    expect(a.state.done).toBe(false);

    const defaultsRevision = await put('defaults', { celery: { task_default_queue: 'celery', result_expires: 60 } }, 1);
    const aAnswer = await a.promise;
    expect(aAnswer.status).toBe(200);
    expect(aAnswer.body.revision).toBe(defaultsRevision);
    expect(aAnswer.body.config.celery.result_expires).toBe(60);
    expect(await held()).toBe(0);
  });

  it('wakes a node without a layer when the defaults change', async () => {
    const first = await api(center.url, 'GET', '/v1/nodes/lonely/config', { token: T });
    expect(first.status).toBe(200);
    const lonely = poll('lonely', first.body.revision, 20);
    const b = poll('b', (await api(center.url, 'GET', '/v1/nodes/b/config', { token: T })).body.revision, 20);
    await until(async () => (await held()) === 2, 10_000, '2 held long-polls');
    const revision = await put(
      'defaults',
      { celery: { task_default_queue: 'celery', result_expires: 120 } },
      first.body.revision,
    );
    expect((await lonely.promise).body.revision).toBe(revision);
    expect((await b.promise).body.revision).toBe(revision);
  });

  it('drops a long-poll whose client went away', async () => {
    const controller = new AbortController();
    const head = (await api(center.url, 'GET', '/healthz')).body.revision;
    const gone = poll('a', head, 20, controller.signal);
    gone.promise.catch(() => undefined);
    await until(async () => (await held()) === 1, 10_000, 'the long-poll to be held');
    controller.abort();
    await until(async () => (await held()) === 0, 10_000, 'the aborted long-poll to be dropped');
  });

  it('caps the wait and answers held long-polls with 304 when the center closes', async () => {
    const capped = await startTestCenter({ maxWaitMs: 300 });
    try {
      const started = Date.now();
      const response = await api(capped.url, 'GET', '/v1/nodes/x/config?after=0&wait=60', { token: T });
      expect(response.status).toBe(304);
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await capped.close();
    }
    const closing = await startTestCenter();
    const pending = api(closing.url, 'GET', '/v1/nodes/x/config?after=0&wait=60', { token: T });
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = Date.now();
    await closing.close();
    const answer = await pending;
    expect(answer.status).toBe(304);
    expect(Date.now() - started).toBeLessThan(5000);
  });
});
