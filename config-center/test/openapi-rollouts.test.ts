import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, api, startTestCenter, type TestCenter, workerNodeLayer } from './support/center-harness.js';
import { reportWorkersRunning, servedConfig } from './support/worker-status.js';

// /v1/openapi.json describes the rollout routes (rollout-routes.ts), and the records a real
// rollout answers with have exactly the fields its RolloutRecord schema names.

const T = ADMIN_TOKEN;
const BROKER = 'redis://127.0.0.1:6379/0';
let center: TestCenter;
// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
let doc: Record<string, any>;

beforeAll(async () => {
  center = await startTestCenter();
  expect(
    (await api(center.url, 'PUT', '/v1/layers/defaults', { token: T, body: { celery: { broker_url: BROKER } } }))
      .status,
  ).toBe(201);
  for (const node of ['n1', 'n2']) {
    expect(
      (await api(center.url, 'PUT', `/v1/layers/nodes/${node}`, { token: T, body: workerNodeLayer() })).status,
    ).toBe(201);
    await reportWorkersRunning(center.url, node, (await servedConfig(center.url, node)).revision, 4242);
  }
  doc = (await api(center.url, 'GET', '/v1/openapi.json')).body;
});

afterAll(async () => {
  await center?.close();
});

/** Every `$ref` under `value`. */
function refs(value: unknown): string[] {
  if (Array.isArray(value)) return value.flatMap(refs);
  if (value === null || typeof value !== 'object') return [];
  return Object.entries(value).flatMap(([key, v]) => (key === '$ref' && typeof v === 'string' ? [v] : refs(v)));
}

describe('the rollout routes in /v1/openapi.json', () => {
  it('lists GET /v1/rollouts, GET /v1/rollouts/{id} and POST /v1/rollouts/{id}/{command}, their schemas resolving', () => {
    const answer = (op: { responses: Record<string, { content?: Record<string, { schema: unknown }> }> }) =>
      op.responses['200']?.content?.['application/json']?.schema;
    expect(answer(doc.paths['/v1/rollouts'].get)).toEqual({ $ref: '#/components/schemas/RolloutList' });
    expect(answer(doc.paths['/v1/rollouts/{id}'].get)).toEqual({ $ref: '#/components/schemas/RolloutRecord' });
    const command = doc.paths['/v1/rollouts/{id}/{command}'];
    expect(answer(command.post)).toEqual({ $ref: '#/components/schemas/RolloutRecord' });
    expect(command.parameters.find((p: { name: string }) => p.name === 'command').schema.enum).toEqual([
      'pause',
      'resume',
      'promote',
      'abort',
    ]);
    expect(Object.keys(command.post.responses)).toEqual(expect.arrayContaining(['200', '404', '409', '503']));
    const schemas = doc.components.schemas;
    for (const path of ['/v1/rollouts', '/v1/rollouts/{id}', '/v1/rollouts/{id}/{command}'])
      for (const ref of refs(doc.paths[path]))
        expect(schemas[ref.replace('#/components/schemas/', '')], ref).toBeDefined();
    for (const ref of refs(schemas.RolloutRecord).concat(refs(schemas.RolloutList)))
      expect(schemas[ref.replace('#/components/schemas/', '')], ref).toBeDefined();
    expect(schemas.RolloutRecord.properties.policy).toEqual({ $ref: '#/components/schemas/RolloutPolicy' });
    expect(schemas.RolloutPolicy.required).toContain('waves');
  });

  it("a real rollout's answers carry the fields RolloutRecord names, its required ones included", async () => {
    const current = await api(center.url, 'GET', '/v1/layers/defaults', { token: T });
    const write = await api(center.url, 'PUT', '/v1/layers/defaults', {
      token: T,
      headers: { 'if-match': String(current.body.revision) },
      body: { celery: { broker_url: BROKER, timezone: 'UTC' }, rollout: { waves: [{ nodes: 1 }], soak: '1h' } },
    });
    expect(write.status, JSON.stringify(write.body)).toBe(200);
    const list = await api(center.url, 'GET', '/v1/rollouts', { token: T });
    expect(list.status).toBe(200);
    const schema = doc.components.schemas.RolloutRecord;
    expect(Object.keys(list.body).sort()).toEqual([...doc.components.schemas.RolloutList.required].sort());
    const [record] = list.body.rollouts;
    expect(record).toBeDefined();
    const paused = await api(center.url, 'POST', `/v1/rollouts/${record.id}/pause`, { token: T });
    expect(paused.status).toBe(200);
    for (const answer of [
      record,
      paused.body,
      (await api(center.url, 'GET', `/v1/rollouts/${record.id}`, { token: T })).body,
    ]) {
      for (const key of Object.keys(answer)) expect(schema.properties, key).toHaveProperty(key);
      for (const key of schema.required) expect(answer, key).toHaveProperty(key);
    }
    expect(paused.body.state).toBe('paused');
    // Leaves no rollout running.
    expect((await api(center.url, 'POST', `/v1/rollouts/${record.id}/abort`, { token: T })).status).toBe(200);
  });
});
