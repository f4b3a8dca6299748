import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStore, findTooDeepInJson } from '../src/index.js';
import {
  ADMIN_TOKEN,
  api,
  captureLogger,
  startTestCenter,
  type TestCenter,
  workerNodeLayer,
} from './support/center-harness.js';

const T = ADMIN_TOKEN;
const AUTHOR = { token_id: 'test', name: 'an old center', role: 'admin' as const };

/** `{"celery":{"deep_setting": [[[...]]]}}` with `arrays` nested arrays, as JSON text (8 KB for 4,000). */
function deepLayerText(arrays: number): string {
  return `{"celery":{"deep_setting":${'['.repeat(arrays)}${']'.repeat(arrays)}}}`;
}

/** An object nested `levels` deep in total, the layer itself counting as the first level. */
function nestedLayer(levels: number): Record<string, unknown> {
  let inner: Record<string, unknown> = {};
  for (let i = 0; i < levels - 3; i++) inner = { n: inner };
  return { celery: { celeriac_nested: inner } };
}

describe('findTooDeepInJson', () => {
  it('finds the path of the first level beyond the limit without parsing, ignoring brackets in strings', () => {
    expect(findTooDeepInJson('{"a": [1, {"b": []}]}', 3)).toEqual(['a', 1, 'b']);
    expect(findTooDeepInJson('{"a": [1, {"b": 2}]}', 3)).toBeUndefined();
    expect(findTooDeepInJson('{"[[[[": "]]]]{{{{", "k\\"\\u0041": [[[]]]}', 2)).toEqual(['k"A', 0]);
    expect(findTooDeepInJson(`${'['.repeat(70)}${']'.repeat(70)}`)).toHaveLength(64);
    expect(findTooDeepInJson('not json [[[[[', 2)).toEqual([0, 0]);
  });
});

describe('nesting depth of request bodies', () => {
  let center: TestCenter;
  beforeAll(async () => {
    center = await startTestCenter();
  });
  afterAll(async () => {
    await center.close();
  });

  it.each([4_000, 10_000])('refuses a %i-deep document with 400 naming the limit and the path', async (arrays) => {
    const refused = await api(center.url, 'PUT', '/v1/layers/groups/g', { token: T, rawBody: deepLayerText(arrays) });
    expect(refused.status).toBe(400);
    expect(refused.body.error.code).toBe('CENTER_DOCUMENT_TOO_DEEP');
    expect(refused.body.error.message).toContain('at most 64 levels');
    expect(refused.body.error.message).toContain('celery.deep_setting[0][0][0]');
    expect((await api(center.url, 'GET', '/v1/layers/groups/g', { token: T })).status).toBe(404);
  });

  it('accepts 64 levels and refuses 65, also in a merge patch', async () => {
    const ok = await api(center.url, 'PUT', '/v1/layers/groups/deep', { token: T, body: nestedLayer(64) });
    expect(ok.status).toBe(201);
    const tooDeep = await api(center.url, 'PUT', '/v1/layers/groups/deeper', { token: T, body: nestedLayer(65) });
    expect(tooDeep.status).toBe(400);
    expect(tooDeep.body.error.code).toBe('CENTER_DOCUMENT_TOO_DEEP');
    const patch = await api(center.url, 'PATCH', '/v1/layers/groups/deep', {
      token: T,
      body: nestedLayer(70),
      headers: { 'if-match': String(ok.body.revision), 'content-type': 'application/merge-patch+json' },
    });
    expect(patch.status).toBe(400);
    expect(patch.body.error.code).toBe('CENTER_DOCUMENT_TOO_DEEP');
    // Other bodies (status reports, rollbacks) have the same limit.
    const status = await api(center.url, 'POST', '/v1/nodes/n1/status', { token: T, body: nestedLayer(100) });
    expect(status.status).toBe(400);
    expect(status.body.error.code).toBe('CENTER_DOCUMENT_TOO_DEEP');
  });
});

describe('a layer stored too deep by an older center', () => {
  let dataDir: string;
  let center: TestCenter;
  let deepRevision: number;

  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'celeriac-deep-'));
    // What a center before the depth limit accepted: groups/g holding a 4,000-deep array.
    const store = new FileStore({ dataDir, logger: captureLogger([]) });
    await store.start();
    const write = async (layer: string, document: Record<string, unknown>, head: number, layerRevision = 0) => {
      const result = await store.append(
        { layer, kind: 'put', author: AUTHOR, time: new Date().toISOString(), message: 'old', diff: [], document },
        { layerRevision, headRevision: head },
      );
      if (!result.ok) throw new Error(`could not seed ${layer}`);
      return result.revision.revision;
    };
    await write('defaults', { celery: { broker_url: 'redis://127.0.0.1:6379/0' } }, 0);
    await write('groups/g', { celery: { task_default_queue: 'g' } }, 1);
    deepRevision = await write('groups/g', JSON.parse(deepLayerText(4_000)), 2, 2);
    await write('nodes/web-1', workerNodeLayer(['g']), 3);
    await store.close();
    center = await startTestCenter({ dataDir });
  });
  afterAll(async () => {
    await center?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('serves, diffs and masks it without crashing', async () => {
    const viewer = await api(center.url, 'POST', '/v1/tokens', { token: T, body: { role: 'viewer' } });
    const layer = await api(center.url, 'GET', '/v1/layers/groups/g', { token: viewer.body.token });
    expect(layer.status).toBe(200);
    expect((await api(center.url, 'GET', `/v1/revisions/${deepRevision}`, { token: viewer.body.token })).status).toBe(
      200,
    );
    expect((await api(center.url, 'GET', '/v1/diff?from=0', { token: T })).status).toBe(200);
    expect((await api(center.url, 'GET', '/v1/nodes/web-1/config', { token: T })).status).toBe(200);
  });

  it('refuses a PATCH or a rollback that keeps it too deep, naming the path', async () => {
    const patch = await api(center.url, 'PATCH', '/v1/layers/groups/g', {
      token: T,
      body: { celery: { timezone: 'UTC' } },
      headers: { 'if-match': String(deepRevision) },
    });
    expect(patch.status).toBe(400);
    expect(patch.body.error.code).toBe('CENTER_VALIDATION_FAILED');
    expect(patch.body.error.issues[0].path).toMatch(/^celery\.deep_setting\[0\]\[0\]/);
    expect(patch.body.error.issues[0].message).toContain('deeper than 64 levels');
    const rollback = await api(center.url, 'POST', '/v1/rollback', { token: T, body: { revision: deepRevision } });
    expect(rollback.status).toBe(400);
  });

  it('lets a node join the group, and is repaired by PUT, PATCH or rollback', async () => {
    const joined = await api(center.url, 'PUT', '/v1/layers/nodes/web-2', { token: T, body: workerNodeLayer(['g']) });
    expect(joined.status).toBe(201);
    const removed = await api(center.url, 'PATCH', '/v1/layers/groups/g', {
      token: T,
      body: { celery: { deep_setting: null } },
      headers: { 'if-match': String(deepRevision) },
    });
    expect(removed.status).toBe(200);
    expect(removed.body.document).toEqual({ celery: {} });
    const back = await api(center.url, 'POST', '/v1/rollback', { token: T, body: { revision: deepRevision - 1 } });
    expect(back.status).toBe(200);
    expect(back.body.document).toEqual({ celery: { task_default_queue: 'g' } });
    const put = await api(center.url, 'PUT', '/v1/layers/groups/g', {
      token: T,
      body: {},
      headers: { 'if-match': String(back.body.revision) },
    });
    expect(put.status).toBe(200);
    expect(put.body.document).toEqual({});
  });

  it('repairs it by PUT right away as well', async () => {
    await center.close();
    rmSync(dataDir, { recursive: true, force: true });
    const store = new FileStore({ dataDir, logger: captureLogger([]) });
    await store.start();
    const seeded = await store.append(
      {
        layer: 'groups/g',
        kind: 'put',
        author: AUTHOR,
        time: new Date().toISOString(),
        message: 'old',
        diff: [],
        document: JSON.parse(deepLayerText(4_000)),
      },
      { layerRevision: 0, headRevision: 0 },
    );
    expect(seeded.ok).toBe(true);
    await store.close();
    center = await startTestCenter({ dataDir });
    const put = await api(center.url, 'PUT', '/v1/layers/groups/g', {
      token: T,
      body: {},
      headers: { 'if-match': '1' },
    });
    expect(put.status).toBe(200);
    expect(put.body.diff).toHaveLength(1);
    expect(put.body.diff[0].path).toBe('celery.deep_setting');
  });
});
