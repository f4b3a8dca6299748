import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, api, startTestCenter, type TestCenter } from './support/center-harness.js';

const T = ADMIN_TOKEN;
let center: TestCenter;

const defaults = {
  celery: { broker_url: 'redis://127.0.0.1:6379/0', task_annotations: { 'tasks.add': { rate_limit: '10/m' } } },
  programs: {
    workers: { kind: 'celeriac-worker', app: './tasks.ts', queues: ['celery'], replicas: 2, concurrency: 4 },
    sidecar: { kind: 'command', command: ['sleep', '1000'] },
  },
};

async function revision(layer: string): Promise<number> {
  return (await api(center.url, 'GET', `/v1/layers/${layer}`, { token: T })).body.revision;
}

async function preview(layer: string, body: unknown, options: { kind?: string; ifMatch?: number | null } = {}) {
  const ifMatch = options.ifMatch === undefined ? await revision(layer) : options.ifMatch;
  const kind = options.kind ? `&kind=${options.kind}` : '';
  return api(center.url, 'POST', `/v1/preview?layer=${encodeURIComponent(layer)}${kind}`, {
    token: T,
    body,
    headers: ifMatch === null ? {} : { 'if-match': String(ifMatch) },
  });
}

beforeAll(async () => {
  center = await startTestCenter();
  expect((await api(center.url, 'PUT', '/v1/layers/defaults', { token: T, body: defaults })).status).toBe(201);
  for (const node of ['a', 'b']) {
    const body = { groups: ['video'], labels: { zone: node === 'a' ? 'eu' : 'us' } };
    expect((await api(center.url, 'PUT', `/v1/layers/nodes/${node}`, { token: T, body })).status).toBe(201);
  }
  const c = { programs: { workers: { replicas: 1, concurrency: 2 } } };
  expect((await api(center.url, 'PUT', '/v1/layers/nodes/c', { token: T, body: c })).status).toBe(201);
});
afterAll(async () => {
  await center.close();
});

describe('POST /v1/preview', () => {
  it('says per node and program what restarts and why, and what is out of service at once, writing nothing', async () => {
    const head = (await api(center.url, 'GET', '/healthz')).body.revision;
    const response = await preview(
      'defaults',
      { celery: { task_annotations: { 'tasks.add': { rate_limit: '10/s' } } } },
      { kind: 'patch' },
    );
    expect(response.status).toBe(200);
    const body = response.body;
    expect(body.changed).toBe(true);
    expect(body.diff).toEqual([
      { path: 'celery.task_annotations["tasks.add"].rate_limit', before: '10/m', after: '10/s' },
    ]);
    expect(body.nodes.map((n: { node: string }) => n.node)).toEqual(['a', 'b', 'c']);
    const a = body.nodes[0];
    expect(a.programs.workers).toMatchObject({
      kind: 'celeriac-worker',
      action: 'restart',
      reasons: ['task_annotations changed (tasks.add rate_limit 10/m → 10/s)'],
      replicas_before: 2,
      replicas_after: 2,
      concurrency_before: 4,
      processes_out_at_once: 2,
      worker_slots_out_at_once: 8,
      worker_slots_removed: 0,
    });
    // The command's template does not read the Celery settings: it stays.
    expect(a.programs.sidecar).toMatchObject({ action: 'none', processes_out_at_once: 0 });
    expect(a.processes_out_at_once).toBe(2);
    const c = body.nodes[2];
    expect(c.programs.workers).toMatchObject({ processes_out_at_once: 1, worker_slots_out_at_once: 2 });
    expect(body.totals).toEqual({
      nodes_changed: 3,
      nodes_restarting: 3,
      programs_restarting: 3,
      processes_out_at_once: 5,
      worker_slots_out_at_once: 18,
      worker_slots_removed: 0,
    });
    // Nothing was written.
    expect((await api(center.url, 'GET', '/healthz')).body.revision).toBe(head);
    expect((await api(center.url, 'GET', '/v1/layers/defaults', { token: T })).body.document).toEqual(defaults);
  });

  it('counts a scale down and a removed program as worker slots removed', async () => {
    const response = await preview('nodes/c', {
      programs: { workers: { replicas: 0, concurrency: 2 }, sidecar: null },
    });
    expect(response.status).toBe(200);
    const [c] = response.body.nodes;
    expect(c.programs.workers).toMatchObject({ action: 'scale', reasons: ['replicas 1 → 0'], worker_slots_removed: 2 });
    expect(c.programs.sidecar).toMatchObject({ action: 'stop', processes_out_at_once: 1, worker_slots_removed: 1 });
    expect(response.body.unchanged_nodes).toBe(0);
  });

  it('lists nothing for a label change: labels restart nothing', async () => {
    const response = await preview('nodes/a', { labels: { zone: 'ap' } }, { kind: 'patch' });
    expect(response.status).toBe(200);
    expect(response.body.changed).toBe(true);
    expect(response.body.nodes).toEqual([]);
    expect(response.body.unchanged_nodes).toBe(1);
  });

  it('answers changed false for the same document', async () => {
    const response = await preview('defaults', defaults);
    expect(response.body).toMatchObject({ changed: false, nodes: [], diff: [] });
  });

  it('refuses what the write would refuse, with the same codes', async () => {
    const invalid = await preview('defaults', { celery: { task_serializer: 'pickle' } }, { kind: 'patch' });
    expect(invalid.status).toBe(400);
    expect(invalid.body.error.code).toBe('CENTER_VALIDATION_FAILED');
    const merged = await preview('nodes/c', { programs: { extra: { replicas: 1 } } }, { kind: 'patch' });
    expect(merged.status).toBe(400);
    expect(merged.body.error.issues[0].node).toBe('c');
    const stale = await preview('defaults', defaults, { ifMatch: 1_000 });
    expect(stale.status).toBe(409);
    expect(stale.body.error.code).toBe('CENTER_CONFLICT');
    const missing = await preview('defaults', defaults, { ifMatch: null });
    expect(missing.status).toBe(428);
    const noLayer = await api(center.url, 'POST', '/v1/preview', { token: T, body: {} });
    expect(noLayer.status).toBe(400);
    expect(noLayer.body.error.message).toContain('?layer=');
  });

  it('needs a token that may write', async () => {
    const viewer = await api(center.url, 'POST', '/v1/tokens', { token: T, body: { role: 'viewer', name: 'v' } });
    const response = await api(center.url, 'POST', '/v1/preview?layer=defaults', {
      token: viewer.body.token,
      body: defaults,
      headers: { 'if-match': '1' },
    });
    expect(response.status).toBe(403);
  });
});
