import { afterEach, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN,
  api,
  startTestCenter,
  type TestCenter,
  until,
  workerNodeLayer,
} from './support/center-harness.js';

const T = ADMIN_TOKEN;
const NODES = ['n1', 'n2', 'n3'];
const DEFAULTS = { celery: { broker_url: 'redis://127.0.0.1:6379/0', timezone: 'UTC' } };
let center: TestCenter | undefined;

afterEach(async () => {
  await center?.close();
  center = undefined;
});

async function setUp(): Promise<string> {
  center = await startTestCenter();
  const { url } = center;
  expect((await api(url, 'PUT', '/v1/layers/defaults', { token: T, body: DEFAULTS })).status).toBe(201);
  for (const node of NODES) {
    const layer = workerNodeLayer(node === 'n3' ? [] : ['eu'], { labels: { zone: node === 'n3' ? 'us' : 'eu' } });
    expect((await api(url, 'PUT', `/v1/layers/nodes/${node}`, { token: T, body: layer })).status).toBe(201);
  }
  return url;
}

/** PUTs `body` over the layer's current revision. */
async function put(url: string, layer: string, body: Record<string, unknown>) {
  const current = await api(url, 'GET', `/v1/layers/${layer}`, { token: T });
  const ifMatch = current.status === 404 ? '0' : String(current.body.revision);
  return api(url, 'PUT', `/v1/layers/${layer}`, { token: T, headers: { 'if-match': ifMatch }, body });
}

async function served(url: string, node: string): Promise<number> {
  return (await api(url, 'GET', `/v1/nodes/${node}/config`, { token: T })).body.revision as number;
}

async function rollouts(url: string) {
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
  return (await api(url, 'GET', '/v1/rollouts', { token: T })).body.rollouts as Record<string, any>[];
}

const HOLDING = { waves: [{ nodes: 1 }, { rest: true }], soak: '1h' };

describe("a layer's default rollout policy", () => {
  it('is validated with the layer, and is no part of any node config', async () => {
    const url = await setUp();
    const bad = await put(url, 'defaults', { ...DEFAULTS, default_rollout: { waves: [{ percent: 0 }], soak: 'soon' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('CENTER_VALIDATION_FAILED');
    const paths = bad.body.error.issues.map((issue: { path: string }) => issue.path).join(' ');
    expect(paths).toContain('default_rollout');
    expect(paths).toContain('soak');
    const before = await served(url, 'n1');
    const good = await put(url, 'defaults', { ...DEFAULTS, default_rollout: HOLDING });
    expect(good.status).toBe(200);
    // Only the layer's metadata changed: no node is served a new config, no rollout starts.
    expect(await served(url, 'n1')).toBe(before);
    const config = (await api(url, 'GET', '/v1/nodes/n1/config', { token: T })).body.config;
    expect(config).not.toHaveProperty('default_rollout');
    expect(await rollouts(url)).toEqual([]);
  });

  it('applies to a write without a policy: the nearest layer (node, then groups, then defaults) wins', async () => {
    const url = await setUp();
    expect((await put(url, 'defaults', { ...DEFAULTS, default_rollout: HOLDING })).status).toBe(200);
    const groupPolicy = { waves: [{ selector: 'zone=eu' }], soak: '1h' };
    expect((await put(url, 'groups/eu', { default_rollout: groupPolicy })).status).toBe(201);

    // The preview says which policy would apply and the waves it would plan.
    const preview = await api(url, 'POST', '/v1/preview?layer=groups/eu&kind=patch', {
      token: T,
      headers: { 'if-match': String((await api(url, 'GET', '/v1/layers/groups/eu', { token: T })).body.revision) },
      body: { celery: { worker_prefetch_multiplier: 2 } },
    });
    expect(preview.status).toBe(200);
    expect(preview.body.rollout).toMatchObject({ source: 'layer', layer: 'groups/eu' });
    expect(preview.body.rollout.waves.map((w: { nodes: string[] }) => w.nodes)).toEqual([['n1', 'n2']]);

    // A change of the defaults uses the defaults' policy: n1 first, n2 and n3 held.
    const write = await put(url, 'defaults', {
      ...DEFAULTS,
      celery: { ...DEFAULTS.celery, timezone: 'Europe/Paris' },
      default_rollout: HOLDING,
    });
    expect(write.status).toBe(200);
    const revision = write.body.revision as number;
    const revisionBody = (await api(url, 'GET', `/v1/revisions/${revision}`, { token: T })).body;
    expect(revisionBody.rollout).toMatchObject({ source: 'layer', layer: 'defaults' });
    await until(async () => (await served(url, 'n1')) === revision, 5000, 'n1 to be served the change');
    expect(await served(url, 'n2')).toBeLessThan(revision);
    expect(await served(url, 'n3')).toBeLessThan(revision);
    const [rollout] = await rollouts(url);
    expect(rollout).toMatchObject({ id: `r${revision}`, state: 'running' });
    expect(rollout?.waves.map((w: { nodes: string[] }) => w.nodes)).toEqual([['n1'], ['n2', 'n3']]);
    expect((await api(url, 'POST', `/v1/rollouts/r${revision}/abort`, { token: T, body: {} })).status).toBe(200);

    // A node of group eu: its own layer has no default, so the group's applies.
    const n2 = await api(url, 'GET', '/v1/layers/nodes/n2', { token: T });
    const nodeWrite = await api(url, 'PATCH', '/v1/layers/nodes/n2', {
      token: T,
      headers: { 'if-match': String(n2.body.revision) },
      body: { celery: { worker_prefetch_multiplier: 3 } },
    });
    expect(nodeWrite.status).toBe(200);
    const nodeRevision = (await api(url, 'GET', `/v1/revisions/${nodeWrite.body.revision}`, { token: T })).body;
    expect(nodeRevision.rollout).toMatchObject({ source: 'layer', layer: 'groups/eu' });
  });

  it('is bypassed by an explicit rollout: null, and the revision says so', async () => {
    const url = await setUp();
    expect((await put(url, 'defaults', { ...DEFAULTS, default_rollout: HOLDING })).status).toBe(200);
    const preview = await api(url, 'POST', '/v1/preview?layer=defaults', {
      token: T,
      headers: { 'if-match': String((await api(url, 'GET', '/v1/layers/defaults', { token: T })).body.revision) },
      body: {
        ...DEFAULTS,
        celery: { ...DEFAULTS.celery, timezone: 'Asia/Tokyo' },
        default_rollout: HOLDING,
        rollout: null,
      },
    });
    expect(preview.body.rollout).toEqual({ source: 'bypassed', layer: 'defaults' });
    const write = await put(url, 'defaults', {
      ...DEFAULTS,
      celery: { ...DEFAULTS.celery, timezone: 'Asia/Tokyo' },
      default_rollout: HOLDING,
      rollout: null,
    });
    expect(write.status).toBe(200);
    const revision = write.body.revision as number;
    expect(write.body.document).not.toHaveProperty('rollout');
    expect((await api(url, 'GET', `/v1/revisions/${revision}`, { token: T })).body.rollout).toEqual({
      source: 'bypassed',
      layer: 'defaults',
    });
    expect(await rollouts(url)).toEqual([]);
    for (const node of NODES) expect(await served(url, node)).toBe(revision);
  });
});
