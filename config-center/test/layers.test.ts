import { rmSync } from 'node:fs';
import { contentHash } from '@celeriac/config-schema';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, api, startTestCenter, type TestCenter, workerNodeLayer } from './support/center-harness.js';

let center: TestCenter;
const T = ADMIN_TOKEN;

beforeAll(async () => {
  center = await startTestCenter({ keepData: true });
});
afterAll(async () => {
  await center.close();
  rmSync(center.dataDir, { recursive: true, force: true });
});

describe('layers, merge and If-Match', () => {
  it('creates layers without If-Match and serves the merged config of a node', async () => {
    const defaults = await api(center.url, 'PUT', '/v1/layers/defaults', {
      token: T,
      body: { celery: { BROKER_URL: 'redis://10.0.0.5:6379/0', task_default_queue: 'celery', timezone: 'UTC' } },
      headers: { 'x-change-message': 'first defaults' },
    });
    expect(defaults.status).toBe(201);
    expect(defaults.headers.get('etag')).toBe('"1"');
    expect(defaults.body.document.celery.broker_url).toBe('redis://10.0.0.5:6379/0');
    expect(defaults.body.document.celery.BROKER_URL).toBeUndefined();

    const group = await api(center.url, 'PUT', '/v1/layers/groups/web', {
      token: T,
      body: {
        celery: { task_routes: { 'tasks.add': { queue: 'add_queue' } }, task_default_queue: 'web' },
        message: 'web routes',
      },
    });
    expect(group.status).toBe(201);
    const node = await api(center.url, 'PUT', '/v1/layers/nodes/web-1', {
      token: T,
      body: workerNodeLayer(['web'], { celery: { timezone: null, task_default_queue: 'web1' } }),
    });
    expect(node.status).toBe(201);
    expect(node.body.revision).toBe(3);

    const config = await api(center.url, 'GET', '/v1/nodes/web-1/config', { token: T });
    expect(config.status).toBe(200);
    expect(config.body.node).toBe('web-1');
    expect(config.body.revision).toBe(3);
    const celery = config.body.config.celery;
    expect(celery.broker_url).toBe('redis://10.0.0.5:6379/0');
    expect(celery.task_routes).toEqual({ 'tasks.add': { queue: 'add_queue' } });
    expect(celery.task_default_queue).toBe('web1');
    expect(celery.timezone).toBeUndefined();
    expect(config.body.config.programs.workers).toMatchObject({
      kind: 'celeriac-worker',
      replicas: 1,
      stop_timeout: '30s',
    });
    expect(config.body.hash).toBe(contentHash(config.body.config));

    const layer = await api(center.url, 'GET', '/v1/layers/groups/web', { token: T });
    expect(layer.status).toBe(200);
    expect(layer.headers.get('etag')).toBe('"2"');
    expect(layer.body).toMatchObject({ layer: 'groups/web', revision: 2 });
    const list = await api(center.url, 'GET', '/v1/layers', { token: T });
    expect(list.body.layers.map((l: { layer: string }) => l.layer)).toEqual(['defaults', 'groups/web', 'nodes/web-1']);
  });

  it('refuses a write without If-Match on an existing layer (428) and a stale one (409)', async () => {
    const missing = await api(center.url, 'PUT', '/v1/layers/defaults', { token: T, body: { celery: {} } });
    expect(missing.status).toBe(428);
    expect(missing.body.error).toMatchObject({ code: 'CENTER_PRECONDITION_REQUIRED', current_revision: 1 });

    const stale = await api(center.url, 'PATCH', '/v1/layers/defaults', {
      token: T,
      body: { celery: { timezone: 'Europe/Paris' } },
      headers: { 'if-match': '"0"' },
    });
    expect(stale.status).toBe(409);
    expect(stale.body.error).toMatchObject({ code: 'CENTER_CONFLICT', current_revision: 1 });

    const created = await api(center.url, 'PUT', '/v1/layers/groups/batch', {
      token: T,
      body: {},
      headers: { 'if-match': '7' },
    });
    expect(created.status).toBe(409);
    expect(created.body.error.current_revision).toBe(0);

    const ok = await api(center.url, 'PATCH', '/v1/layers/defaults', {
      token: T,
      body: { celery: { timezone: 'Europe/Paris', task_default_queue: null } },
      headers: { 'if-match': '"1"', 'content-type': 'application/merge-patch+json' },
    });
    expect(ok.status).toBe(200);
    expect(ok.body.revision).toBe(4);
    expect(ok.body.document.celery).toEqual({ broker_url: 'redis://10.0.0.5:6379/0', timezone: 'Europe/Paris' });
    expect(ok.body.diff).toEqual(
      expect.arrayContaining([
        { path: 'celery.timezone', before: 'UTC', after: 'Europe/Paris' },
        { path: 'celery.task_default_queue', before: 'celery' },
      ]),
    );

    const again = await api(center.url, 'PATCH', '/v1/layers/defaults', {
      token: T,
      body: { celery: { timezone: 'Europe/Paris' } },
      headers: { 'if-match': '4' },
    });
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ changed: false, revision: 4 });
    expect((await api(center.url, 'GET', '/healthz')).body.revision).toBe(4);
  });

  it('lists every problem of a refused layer with its path', async () => {
    const refused = await api(center.url, 'PUT', '/v1/layers/groups/bad', {
      token: T,
      body: {
        groups: ['x'],
        celery: {
          task_serializer: 'pickle',
          worker_concurrency: -1,
          task_annotations: { 'tasks.add': { rate_limit: '10/x' } },
          task_routes: { 'tasks.mul': { queue: '' } },
        },
        programs: { 'Bad Name': { kind: 'celeriac-worker' }, workers: { kind: 'nope', replicas: 100, env: { A: 1 } } },
        extra: 1,
      },
    });
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('CENTER_VALIDATION_FAILED');
    const paths = refused.body.error.issues.map((i: { path: string }) => i.path);
    for (const expected of [
      'groups',
      'celery.task_serializer',
      'celery.worker_concurrency',
      'celery.task_annotations["tasks.add"].rate_limit',
      'celery.task_routes["tasks.mul"].queue',
      'programs["Bad Name"]',
      'programs.workers.kind',
      'programs.workers.replicas',
      'programs.workers.env.A',
      'extra',
    ]) {
      expect(paths, `issue at ${expected}`).toContain(expected);
    }
    for (const issue of refused.body.error.issues) expect(issue.message.length).toBeGreaterThan(5);
    expect((await api(center.url, 'GET', '/v1/layers/groups/bad', { token: T })).status).toBe(404);
  });

  it('refuses a write that would make the effective config of an affected node invalid', async () => {
    const incomplete = await api(center.url, 'PUT', '/v1/layers/nodes/web-2', {
      token: T,
      body: { programs: { workers: { replicas: 2 } } },
    });
    expect(incomplete.status).toBe(400);
    expect(incomplete.body.error.issues).toEqual(
      expect.arrayContaining([expect.objectContaining({ node: 'web-2', path: 'programs.workers.kind' })]),
    );

    const groupBreaks = await api(center.url, 'PUT', '/v1/layers/groups/web', {
      token: T,
      body: { programs: { sidecar: { kind: 'command' } } },
      headers: { 'if-match': '2' },
    });
    expect(groupBreaks.status).toBe(400);
    const issue = groupBreaks.body.error.issues.find((i: { node?: string }) => i.node === 'web-1');
    expect(issue).toBeDefined();
    expect(issue.path).toMatch(/^programs\.sidecar/);
    expect(issue.message).toContain('web-1');
    expect((await api(center.url, 'GET', '/v1/layers/groups/web', { token: T })).body.revision).toBe(2);
  });
});

describe('revisions, diff and rollback', () => {
  it('records author, time, message and diff of each write', async () => {
    const history = await api(center.url, 'GET', '/v1/revisions?layer=defaults', { token: T });
    expect(history.status).toBe(200);
    expect(history.body.revisions.map((r: { revision: number }) => r.revision)).toEqual([4, 1]);
    const first = history.body.revisions[1];
    expect(first).toMatchObject({ layer: 'defaults', kind: 'put', message: 'first defaults' });
    expect(first.author).toMatchObject({ token_id: 'admin-bootstrap', role: 'admin' });
    expect(Date.parse(first.time)).toBeGreaterThan(Date.now() - 60_000);
    expect(first.document).toBeUndefined();

    const group = await api(center.url, 'GET', '/v1/revisions/2', { token: T });
    expect(group.body).toMatchObject({ revision: 2, layer: 'groups/web', message: 'web routes' });
    expect(group.body.document.celery.task_default_queue).toBe('web');
    expect(group.body.diff).toContainEqual({ path: 'celery.task_default_queue', after: 'web' });

    const byNode = await api(center.url, 'GET', '/v1/revisions?node=web-1', { token: T });
    expect(byNode.body.revisions.map((r: { revision: number }) => r.revision)).toEqual([3, 1]);
    expect((await api(center.url, 'GET', '/v1/revisions/99', { token: T })).status).toBe(404);
  });

  it('diffs layers and node configs between two revisions', async () => {
    const diff = await api(center.url, 'GET', '/v1/diff?from=1&to=4', { token: T });
    expect(diff.status).toBe(200);
    const defaults = diff.body.layers.find((l: { layer: string }) => l.layer === 'defaults');
    expect(defaults.changes).toContainEqual({ path: 'celery.timezone', before: 'UTC', after: 'Europe/Paris' });
    expect(diff.body.layers.find((l: { layer: string }) => l.layer === 'groups/web')).toBeDefined();
    const node = diff.body.nodes.find((n: { node: string }) => n.node === 'web-1');
    expect(node.changes).toContainEqual({ path: 'celery.task_default_queue', before: 'celery', after: 'web1' });
  });

  it('rolls a layer back to its content at an old revision as a new revision', async () => {
    const rollback = await api(center.url, 'POST', '/v1/rollback', {
      token: T,
      body: { revision: 1, message: 'back to the first defaults' },
    });
    expect(rollback.status).toBe(200);
    expect(rollback.body).toMatchObject({ layer: 'defaults', revision: 5, restored_from: 1, changed: true });
    const layer = await api(center.url, 'GET', '/v1/layers/defaults', { token: T });
    const first = await api(center.url, 'GET', '/v1/revisions/1', { token: T });
    expect(layer.body.document).toEqual(first.body.document);
    const revision = await api(center.url, 'GET', '/v1/revisions/5', { token: T });
    expect(revision.body).toMatchObject({ kind: 'rollback', restored_from: 1, message: 'back to the first defaults' });
    const config = await api(center.url, 'GET', '/v1/nodes/web-1/config', { token: T });
    expect(config.body.revision).toBe(3);
    const bad = await api(center.url, 'POST', '/v1/rollback', { token: T, body: { revision: 'x' } });
    expect(bad.status).toBe(400);
    expect(bad.body.error.issues[0].path).toBe('revision');
  });

  it('keeps everything across a restart of the center', async () => {
    await center.close();
    center = await startTestCenter({ dataDir: center.dataDir });
    const layer = await api(center.url, 'GET', '/v1/layers/defaults', { token: T });
    expect(layer.body.revision).toBe(5);
    const config = await api(center.url, 'GET', '/v1/nodes/web-1/config', { token: T });
    expect(config.body.revision).toBe(3);
    expect((await api(center.url, 'GET', '/v1/revisions', { token: T })).body.revisions).toHaveLength(5);
  });
});

describe('errors as coded JSON', () => {
  it('answers malformed JSON, huge bodies, unknown paths and bad names with stable codes', async () => {
    const malformed = await api(center.url, 'PUT', '/v1/layers/groups/x', { token: T, rawBody: '{"celery": ' });
    expect(malformed.status).toBe(400);
    expect(malformed.body.error.code).toBe('CENTER_BAD_REQUEST');

    const huge = await api(center.url, 'PUT', '/v1/layers/groups/x', {
      token: T,
      rawBody: JSON.stringify({ celery: { timezone: 'x'.repeat(2 * 1024 * 1024) } }),
    });
    expect(huge.status).toBe(413);
    expect(huge.body.error.code).toBe('CENTER_PAYLOAD_TOO_LARGE');

    const unknown = await api(center.url, 'GET', '/v1/nope', { token: T });
    expect(unknown.status).toBe(404);
    expect(unknown.body.error.code).toBe('CENTER_NOT_FOUND');

    const badName = await api(center.url, 'GET', '/v1/layers/groups/Web%20Servers', { token: T });
    expect(badName.status).toBe(400);
    expect(badName.body.error.code).toBe('CENTER_BAD_REQUEST');
    const traversal = await api(center.url, 'PUT', '/v1/layers/nodes/..%2F..%2Fetc', { token: T, body: {} });
    expect(traversal.status).toBe(400);

    const array = await api(center.url, 'PUT', '/v1/layers/groups/x', { token: T, body: [1, 2] });
    expect(array.status).toBe(400);
    const badIfMatch = await api(center.url, 'PUT', '/v1/layers/groups/x', {
      token: T,
      body: {},
      headers: { 'if-match': 'abc' },
    });
    expect(badIfMatch.body.error.code).toBe('CENTER_BAD_REQUEST');
  });

  it('serves healthz, Prometheus metrics and an OpenAPI 3.1 document', async () => {
    const health = await api(center.url, 'GET', '/healthz');
    expect(health.body.status).toBe('ok');
    const metrics = await api(center.url, 'GET', '/metrics');
    expect(metrics.headers.get('content-type')).toContain('text/plain');
    expect(metrics.text).toMatch(
      /celeriac_center_http_requests_total\{method="GET",route="\/v1\/layers\/\*",status="200"\} \d+/,
    );
    expect(metrics.text).toContain('celeriac_center_long_polls_held 0');
    expect(metrics.text).toContain('celeriac_center_revisions 5');
    expect(metrics.text).toMatch(/celeriac_center_nodes\{state="unknown"\} 1/);
    const openapi = await api(center.url, 'GET', '/v1/openapi.json');
    expect(openapi.body.openapi).toBe('3.1.0');
    expect(openapi.body.components.schemas.NodeStatus.type).toBe('object');
    expect(openapi.body.components.schemas.Layer).toBeDefined();
    expect(Object.keys(openapi.body.paths)).toContain('/v1/nodes/{node}/config');
    expect(openapi.body.paths['/v1/whoami'].get.responses['200'].content['application/json'].schema).toEqual({
      $ref: '#/components/schemas/WhoAmI',
    });
    expect(openapi.body.components.schemas.WhoAmI.properties.may.required).toContain('write_config');
  });
});
