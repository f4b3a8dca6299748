import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../../test/support/redis-server.js';
import { RedisStore, type RunningCenter, startCenter } from '../src/index.js';
import { ADMIN_TOKEN, api, captureLogger, until, workerNodeLayer } from './support/center-harness.js';

// GET /v1/rollouts/stream on a replica that does not drive rollouts: a change made by the driver
// (a rollout starting, a pause) reaches a stream held on the other replica, through the records the
// replicas share in Redis (rollout-redis-store.ts) and the feed's change detection (rollout-feed.ts).

const T = ADMIN_TOKEN;
let redis: RedisServer;
const replicas: RunningCenter[] = [];

async function startReplica(): Promise<RunningCenter> {
  const logger = captureLogger([]);
  const center = await startCenter({
    listen: '127.0.0.1:0',
    store: new RedisStore({ url: redis.url(6), logger }),
    adminToken: T,
    logger,
    rolloutTickMs: 200,
    rolloutLeaseMs: 1500,
  });
  replicas.push(center);
  return center;
}

/** Reads `rollouts` events of an open stream into `events` until aborted. */
function follow(url: string, events: { driving: boolean; rollouts: { id: string; state: string }[] }[]) {
  const controller = new AbortController();
  const done = (async () => {
    const response = await fetch(`${url}/v1/rollouts/stream`, {
      headers: { authorization: `Bearer ${T}` },
      signal: controller.signal,
    });
    expect(response.status).toBe(200);
    const reader = (response.body as ReadableStream<Uint8Array>).pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done: ended } = await reader.read();
      if (ended) return;
      buffer += value;
      let end = buffer.indexOf('\n\n');
      while (end >= 0) {
        const data = /^data: (.*)$/m.exec(buffer.slice(0, end))?.[1];
        if (data) events.push(JSON.parse(data));
        buffer = buffer.slice(end + 2);
        end = buffer.indexOf('\n\n');
      }
    }
  })().catch((error: Error) => {
    if (!controller.signal.aborted) throw error;
  });
  return { stop: () => controller.abort(), done };
}

beforeAll(async () => {
  redis = await RedisServer.start();
}, 30_000);

afterAll(async () => {
  for (const replica of replicas) await replica.close();
  await redis?.stop();
});

describe('the rollout stream across replicas', () => {
  it('pushes the driver’s rollout and its pause to a stream held on the other replica', async () => {
    const driver = await startReplica();
    await until(
      async () => (await api(driver.url, 'GET', '/v1/rollouts', { token: T })).body.driving,
      10_000,
      'the first replica to drive',
    );
    const follower = await startReplica();
    const events: { driving: boolean; rollouts: { id: string; state: string }[] }[] = [];
    const stream = follow(follower.url, events);
    try {
      await until(() => events.length > 0, 10_000, 'the first event');
      expect(events[0]).toMatchObject({ driving: false, rollouts: [] });
      const defaults = { celery: { broker_url: 'redis://127.0.0.1:6379/0' } };
      expect((await api(driver.url, 'PUT', '/v1/layers/defaults', { token: T, body: defaults })).status).toBe(201);
      for (const node of ['n1', 'n2'])
        expect(
          (await api(driver.url, 'PUT', `/v1/layers/nodes/${node}`, { token: T, body: workerNodeLayer() })).status,
        ).toBe(201);
      const current = await api(driver.url, 'GET', '/v1/layers/defaults', { token: T });
      const write = await api(driver.url, 'PUT', '/v1/layers/defaults', {
        token: T,
        headers: { 'if-match': String(current.body.revision) },
        body: {
          celery: { ...defaults.celery, timezone: 'Europe/Paris' },
          rollout: { waves: [{ nodes: 1 }, { rest: true }], soak: '1h' },
        },
      });
      expect(write.status, write.text).toBe(200);
      const id = `r${write.body.revision}`;
      const stateOf = () => events.at(-1)?.rollouts.find((r) => r.id === id)?.state;
      await until(() => stateOf() === 'running', 10_000, 'the rollout on the follower’s stream');
      const pushedBefore = events.length;
      // Paused through the driver: the follower re-reads the records and its stream says so.
      expect((await api(driver.url, 'POST', `/v1/rollouts/${id}/pause`, { token: T })).status).toBe(200);
      await until(() => stateOf() === 'paused', 10_000, 'the pause on the follower’s stream');
      expect(events.length).toBeGreaterThan(pushedBefore);
      expect(events.at(-1)?.driving).toBe(false);
      // Aborted through the follower (queued for the driver): pushed on the follower's stream too.
      expect((await api(follower.url, 'POST', `/v1/rollouts/${id}/abort`, { token: T })).status).toBe(200);
      await until(() => stateOf() === 'rolled_back', 10_000, 'the abort on the follower’s stream');
    } finally {
      stream.stop();
      await stream.done;
    }
  }, 60_000);

  it('ends its streams when the replica closes, so that closing does not wait for them', async () => {
    const replica = await startReplica();
    const events: { driving: boolean; rollouts: { id: string; state: string }[] }[] = [];
    const stream = follow(replica.url, events);
    await until(() => events.length > 0, 10_000, 'the first event');
    const health = await fetch(`${replica.url}/v1/health/stream`, { headers: { authorization: `Bearer ${T}` } });
    expect(health.status).toBe(200);
    const started = Date.now();
    await replica.close();
    // The server ended the streams: both readers see the end (not an abort of ours).
    await stream.done;
    expect(await health.text()).toMatch(/^retry: 1000\n\nevent: history\ndata: \{/);
    console.info(`rollout-stream-replicas: closed with open streams in ${Date.now() - started} ms`);
    expect(Date.now() - started).toBeLessThan(10_000);
  }, 30_000);
});
