import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN,
  api,
  startTestCenter,
  type TestCenter,
  until,
  workerNodeLayer,
} from './support/center-harness.js';

// The long-poll route answers on the raw response (no fastify reply): these check the HTTP
// contract of those answers byte for byte, and a fan-out to many nodes with different configs.

const T = ADMIN_TOKEN;
const NODES = 150;
let center: TestCenter;

interface RawAnswer {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
  socket: unknown;
}

/** One GET over `agent` with node:http, so headers and the socket used can be checked. */
function rawGet(urlPath: string, agent: http.Agent | false, method = 'GET', token = T): Promise<RawAnswer> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      `${center.url}${urlPath}`,
      { method, agent, headers: { authorization: `Bearer ${token}` } },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () =>
          resolve({
            status: response.statusCode ?? 0,
            headers: response.headers,
            body: Buffer.concat(chunks),
            socket: response.socket,
          }),
        );
      },
    );
    request.on('error', reject);
    request.end();
  });
}

/** Writes a layer over whatever revision it is at. */
async function put(layer: string, body: unknown): Promise<number> {
  const current = await api(center.url, 'GET', `/v1/layers/${layer}`, { token: T });
  const ifMatch = current.status === 200 ? String(current.body.revision) : '0';
  const response = await api(center.url, 'PUT', `/v1/layers/${layer}`, {
    token: T,
    body,
    headers: { 'if-match': ifMatch },
  });
  expect(response.status, JSON.stringify(response.body)).toBeLessThan(300);
  return response.body.revision as number;
}

async function metric(pattern: RegExp): Promise<number> {
  return Number(pattern.exec((await api(center.url, 'GET', '/metrics')).text)?.[1]);
}
const held = () => metric(/celeriac_center_long_polls_held (\d+)/);
const answeredChanged = () => metric(/celeriac_center_long_polls_answered_total\{outcome="changed"\} (\d+)/);

beforeAll(async () => {
  center = await startTestCenter({ maxWaitMs: 30_000 });
  await put('defaults', {
    celery: { task_default_queue: 'celery', broker_url: 'redis://:hunter2-secret@10.0.0.5:6379/0' },
  });
  await put('groups/even', { celery: { task_default_queue: 'even' } });
  await put('groups/odd', { celery: { task_default_queue: 'odd' } });
  for (let i = 0; i < NODES; i++) {
    // Every tenth node has a setting of its own: a third distinct config per group.
    const own = i % 10 === 0 ? { celery: { timezone: `Etc/GMT-${i % 12}` } } : {};
    await put(`nodes/n${i}`, workerNodeLayer([i % 2 === 0 ? 'even' : 'odd'], own));
  }
}, 60_000);
afterAll(async () => {
  await center.close();
});

describe('long-poll answers on the raw response', () => {
  it('carry content type, ETag, an exact content length, keep-alive and the body of GET /config', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const first = await rawGet('/v1/nodes/n1/config', agent);
      expect(first.status).toBe(200);
      expect(first.headers['content-type']).toBe('application/json; charset=utf-8');
      const body = JSON.parse(first.body.toString('utf8'));
      expect(Object.keys(body)).toEqual(['node', 'revision', 'hash', 'config']);
      expect(body.node).toBe('n1');
      expect(first.headers.etag).toBe(`"${body.revision}"`);
      expect(Number(first.headers['content-length'])).toBe(first.body.length);
      expect(first.headers.connection).toBe('keep-alive');
      expect(body.config.celery.task_default_queue).toBe('odd');

      // Same socket again: a 304 after a short wait, then a 200.
      const notModified = await rawGet(`/v1/nodes/n1/config?after=${body.revision}&wait=0.2`, agent);
      expect(notModified.status).toBe(304);
      expect(notModified.body.length).toBe(0);
      const again = await rawGet('/v1/nodes/n1/config', agent);
      expect(again.socket).toBe(first.socket);
      expect(again.body.equals(first.body)).toBe(true);

      const head = await rawGet('/v1/nodes/n1/config', agent, 'HEAD');
      expect(head.status).toBe(200);
      expect(head.body.length).toBe(0);
      expect(head.headers['content-length']).toBe(first.headers['content-length']);
    } finally {
      agent.destroy();
    }
    // A client without keep-alive (as the agent's requests are) is answered with Connection: close.
    const fresh = await rawGet('/v1/nodes/n1/config', false);
    expect(fresh.status).toBe(200);
    expect(fresh.headers.connection).toBe('close');
  });

  it('masks secrets for a viewer in a held answer too', async () => {
    const viewer = await api(center.url, 'POST', '/v1/tokens', { token: T, body: { role: 'viewer' } });
    const token = viewer.body.token as string;
    const now = await api(center.url, 'GET', '/v1/nodes/n3/config', { token });
    expect(now.text).not.toContain('hunter2-secret');
    const pending = rawGet(`/v1/nodes/n3/config?after=${now.body.revision}&wait=20`, false, 'GET', token);
    await until(async () => (await held()) === 1, 10_000, 'the viewer long-poll to be held');
    await put('groups/odd', { celery: { task_default_queue: 'odd', result_expires: 7 } });
    const answer = await pending;
    expect(answer.status).toBe(200);
    const text = answer.body.toString('utf8');
    expect(text).not.toContain('hunter2-secret');
    expect(JSON.parse(text).config.celery.broker_url).toBe('redis://:***@10.0.0.5:6379/0');
  });

  it('answers every held node with its own effective config before the write answers', async () => {
    const agent = new http.Agent({ keepAlive: true, maxSockets: Number.POSITIVE_INFINITY });
    try {
      const head = (await api(center.url, 'GET', '/healthz')).body.revision as number;
      const expected = new Map<string, { revision: number; config: unknown }>();
      const before = await answeredChanged();
      const polls = Array.from({ length: NODES }, (_, i) =>
        rawGet(`/v1/nodes/n${i}/config?after=${head}&wait=25`, agent),
      );
      await until(async () => (await held()) === NODES, 20_000, `${NODES} held long-polls`);

      // Only the defaults change, and no group or node overrides the broker: every node changes.
      const revision = await put('defaults', {
        celery: { task_default_queue: 'celery', broker_url: 'redis://:hunter2-secret@10.0.0.6:6379/0' },
      });
      // The write answered only once every answer it caused was written.
      expect(await answeredChanged()).toBe(before + NODES);
      for (let i = 0; i < NODES; i++) {
        const current = await api(center.url, 'GET', `/v1/nodes/n${i}/config`, { token: T });
        expected.set(`n${i}`, { revision: current.body.revision, config: current.body.config });
      }
      const answers = await Promise.all(polls);
      answers.forEach((answer, i) => {
        expect(answer.status).toBe(200);
        const body = JSON.parse(answer.body.toString('utf8'));
        expect(body.node).toBe(`n${i}`);
        expect(body.revision).toBe(revision);
        expect(answer.headers.etag).toBe(`"${revision}"`);
        expect(body.config).toEqual(expected.get(`n${i}`)?.config);
        expect(body.config.celery.broker_url).toBe('redis://:hunter2-secret@10.0.0.6:6379/0');
        expect(body.config.celery.task_default_queue).toBe(i % 2 === 0 ? 'even' : 'odd');
        if (i % 10 === 0) expect(body.config.celery.timezone).toBe(`Etc/GMT-${i % 12}`);
        else expect(body.config.celery.timezone).not.toBe(`Etc/GMT-${i % 12}`);
      });
      expect(await held()).toBe(0);
    } finally {
      agent.destroy();
    }
  });

  it('drops a held poll whose client went away and answers nothing on its socket', async () => {
    const head = (await api(center.url, 'GET', '/healthz')).body.revision as number;
    const request = http.get(`${center.url}/v1/nodes/n5/config?after=${head}&wait=20`, {
      agent: false,
      headers: { authorization: `Bearer ${T}` },
    });
    request.on('error', () => undefined);
    await until(async () => (await held()) === 1, 10_000, 'the long-poll to be held');
    request.destroy();
    await until(async () => (await held()) === 0, 10_000, 'the long-poll to be dropped');
    // A change after it went away wakes nobody and breaks nothing.
    await put('groups/odd', { celery: { task_default_queue: 'odd', result_expires: 9 } });
    expect((await api(center.url, 'GET', '/v1/nodes/n5/config', { token: T })).status).toBe(200);
  });
});
