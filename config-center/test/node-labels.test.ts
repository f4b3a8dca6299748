import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, api, startTestCenter, type TestCenter, workerNodeLayer } from './support/center-harness.js';

const T = ADMIN_TOKEN;
let center: TestCenter;

const names = async (selector?: string) => {
  const query = selector === undefined ? '' : `?selector=${encodeURIComponent(selector)}`;
  const response = await api(center.url, 'GET', `/v1/nodes${query}`, { token: T });
  expect(response.status).toBe(200);
  return (response.body.nodes as { node: string }[]).map((n) => n.node);
};

beforeAll(async () => {
  center = await startTestCenter();
  const layers: Record<string, Record<string, unknown>> = {
    'web-1': workerNodeLayer(['web'], { labels: { zone: 'eu', role: 'video' } }),
    'web-2': workerNodeLayer(['web'], { labels: { zone: 'us', role: 'video' } }),
    'batch-1': workerNodeLayer(['batch'], { labels: { zone: 'eu', role: 'batch' } }),
    plain: workerNodeLayer([]),
  };
  for (const [node, layer] of Object.entries(layers)) {
    expect((await api(center.url, 'PUT', `/v1/layers/nodes/${node}`, { token: T, body: layer })).status).toBe(201);
  }
});
afterAll(async () => {
  await center.close();
});

describe('node labels', () => {
  it('shows each node layer labels in GET /v1/nodes and GET /v1/nodes/<node>', async () => {
    const list = (await api(center.url, 'GET', '/v1/nodes', { token: T })).body.nodes as {
      node: string;
      labels: Record<string, string>;
    }[];
    expect(Object.fromEntries(list.map((n) => [n.node, n.labels]))).toEqual({
      'batch-1': { role: 'batch', zone: 'eu' },
      plain: {},
      'web-1': { role: 'video', zone: 'eu' },
      'web-2': { role: 'video', zone: 'us' },
    });
    expect((await api(center.url, 'GET', '/v1/nodes/web-2', { token: T })).body.labels).toEqual({
      role: 'video',
      zone: 'us',
    });
  });

  it('selects nodes by label, group and name', async () => {
    expect(await names('zone=eu')).toEqual(['batch-1', 'web-1']);
    expect(await names('zone=eu,role=video')).toEqual(['web-1']);
    expect(await names('group=web')).toEqual(['web-1', 'web-2']);
    expect(await names('node=web-*,zone!=eu')).toEqual(['web-2']);
    expect(await names('!zone')).toEqual(['plain']);
    expect(await names('')).toEqual(['batch-1', 'plain', 'web-1', 'web-2']);
  });

  it('refuses a bad selector with 400 saying the syntax', async () => {
    const response = await api(center.url, 'GET', `/v1/nodes?selector=${encodeURIComponent('zone=')}`, { token: T });
    expect(response.status).toBe(400);
    expect(response.body.error.code).toBe('CENTER_BAD_REQUEST');
    expect(response.body.error.message).toContain('selector term "zone="');
  });

  it('versions labels like the rest of the layer, and a label change restarts nothing', async () => {
    const before = await api(center.url, 'GET', '/v1/nodes/web-1/config', { token: T });
    const layer = await api(center.url, 'GET', '/v1/layers/nodes/web-1', { token: T });
    const patch = await api(center.url, 'PATCH', '/v1/layers/nodes/web-1', {
      token: T,
      body: { labels: { zone: 'ap', role: null } },
      headers: { 'if-match': String(layer.body.revision), 'x-change-message': 'move web-1' },
    });
    expect(patch.status).toBe(200);
    expect(patch.body.diff).toEqual([
      { path: 'labels.role', before: 'video' },
      { path: 'labels.zone', before: 'eu', after: 'ap' },
    ]);
    const history = await api(center.url, 'GET', `/v1/revisions/${patch.body.revision}`, { token: T });
    expect(history.body.document.labels).toEqual({ zone: 'ap' });
    expect(history.body.message).toBe('move web-1');
    // The effective config (what the agent gets) leaves labels out: same revision, same hash.
    const after = await api(center.url, 'GET', '/v1/nodes/web-1/config', { token: T });
    expect(after.body.revision).toBe(before.body.revision);
    expect(after.body.hash).toBe(before.body.hash);
    expect(after.body.config.labels).toBeUndefined();
    expect(await names('zone=ap')).toEqual(['web-1']);
    expect(await names('role=video')).toEqual(['web-2']);
  });

  it('refuses invalid labels and labels outside node layers', async () => {
    const bad = await api(center.url, 'PUT', '/v1/layers/nodes/bad', { token: T, body: { labels: { node: 'x' } } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues[0].path).toBe('labels.node');
    const group = await api(center.url, 'PUT', '/v1/layers/groups/x', { token: T, body: { labels: { zone: 'eu' } } });
    expect(group.status).toBe(400);
    expect(group.body.error.issues).toEqual([
      { path: 'labels', message: expect.stringContaining('only a node layer') },
    ]);
  });
});
