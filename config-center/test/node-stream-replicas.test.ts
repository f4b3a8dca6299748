import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RedisServer } from '../../test/support/redis-server.js';
import { RedisStore } from '../src/index.js';
import { ADMIN_TOKEN, api, captureLogger, startTestCenter, type TestCenter, until } from './support/center-harness.js';
import { newestNode, type OpenEventStream, openEventStream } from './support/sse-reader.js';

// With the Redis store, GET /v1/nodes reads every replica's reports from the shared hash; the node
// stream of one replica reads it too, so a report or a write through another replica shows on it.

const T = ADMIN_TOKEN;
let redis: RedisServer;
let a: TestCenter;
let b: TestCenter;
const open: OpenEventStream[] = [];

const replica = () => startTestCenter({ store: new RedisStore({ url: redis.url(4), logger: captureLogger([]) }) });

const newest = (stream: OpenEventStream, node: string) => newestNode(stream.events, node);

beforeAll(async () => {
  redis = await RedisServer.start();
  a = await replica();
  b = await replica();
});

afterAll(async () => {
  for (const stream of open) stream.close();
  await a?.close();
  await b?.close();
  await redis?.stop();
});

describe('node streams on two replicas of one Redis', () => {
  it("a report and a write through replica B show on replica A's stream, as on A's GET /v1/nodes", async () => {
    const stream = await openEventStream(a.url, '/v1/nodes/stream', T);
    open.push(stream);
    expect(stream.status).toBe(200);
    await until(() => stream.events.length > 0, 10_000, 'the first list');
    expect(newest(stream, 'w9')).toBeUndefined();

    const body = { applied_revision: null, apply_result: 'failed', message: 'through B', programs: {} };
    expect((await api(b.url, 'POST', '/v1/nodes/w9/status', { token: T, body })).status).toBe(200);
    await until(() => newest(stream, 'w9')?.message === 'through B', 10_000, 'the report through B on A');
    const listed = await api(a.url, 'GET', '/v1/nodes', { token: T });
    const w9 = listed.body.nodes.find((n: { node: string }) => n.node === 'w9');
    expect(newest(stream, 'w9')).toEqual(w9);
    expect(w9).toMatchObject({ state: 'failed', apply_result: 'failed' });

    const put = await api(b.url, 'PUT', '/v1/layers/nodes/w9', {
      token: T,
      body: {
        labels: { zone: 'eu' },
        programs: { sleeper: { kind: 'command', command: [process.execPath, '-e', 'setInterval(() => {}, 1000)'] } },
      },
    });
    expect(put.status, put.text).toBe(201);
    await until(() => newest(stream, 'w9')?.desired_revision === put.body.revision, 10_000, 'the write through B on A');
    expect(newest(stream, 'w9')).toMatchObject({ has_layer: true, labels: { zone: 'eu' } });
  });
});
