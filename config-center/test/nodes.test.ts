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

const program = (state: string) => ({
  kind: 'celeriac-worker',
  state,
  pids: [4242],
  restarts: 1,
  config_hash: 'h1',
  last_exit: { code: 1, signal: null, at: '2026-11-24T22:00:00Z' },
});

async function report(node: string, body: unknown) {
  return api(center.url, 'POST', `/v1/nodes/${node}/status`, { token: T, body });
}

async function nodeState(node: string) {
  return (await api(center.url, 'GET', `/v1/nodes/${node}`, { token: T })).body;
}

beforeAll(async () => {
  center = await startTestCenter({ heartbeatMs: 1500 });
  for (const node of ['ok', 'late', 'broken', 'edited', 'old']) {
    const put = await api(center.url, 'PUT', `/v1/layers/nodes/${node}`, { token: T, body: workerNodeLayer() });
    expect(put.status).toBe(201);
  }
});
afterAll(async () => {
  await center.close();
});

describe('node statuses', () => {
  it('shows desired vs applied revision, apply result, drift, programs, and stale nodes', {
    timeout: 60_000,
  }, async () => {
    const desired = async (node: string) =>
      (await api(center.url, 'GET', `/v1/nodes/${node}/config`, { token: T })).body.revision as number;
    expect(
      (
        await report('ok', {
          applied_revision: await desired('ok'),
          apply_result: 'ok',
          programs: { workers: program('running') },
        })
      ).status,
    ).toBe(200);
    await report('broken', {
      applied_revision: null,
      attempted_revision: await desired('broken'),
      apply_result: 'failed',
      message: 'not ready in 30s',
      programs: {},
    });
    await report('edited', {
      applied_revision: await desired('edited'),
      apply_result: 'ok',
      drift: true,
      programs: {},
    });
    await report('old', { applied_revision: 0, apply_result: 'ok', programs: {} });

    const ok = await nodeState('ok');
    expect(ok).toMatchObject({ state: 'in_sync', drift: false, apply_result: 'ok', stale: false, has_layer: true });
    expect(ok.applied_revision).toBe(ok.desired_revision);
    expect(ok.programs.workers).toMatchObject({ state: 'running', pids: [4242], restarts: 1 });
    expect(Date.parse(ok.last_seen)).toBeGreaterThan(Date.now() - 10_000);
    expect(await nodeState('broken')).toMatchObject({
      state: 'failed',
      message: 'not ready in 30s',
      applied_revision: null,
    });
    expect(await nodeState('edited')).toMatchObject({ state: 'drift', drift: true });
    expect(await nodeState('old')).toMatchObject({ state: 'pending', drift: true, applied_revision: 0 });
    expect(await nodeState('late')).toMatchObject({ state: 'unknown', last_seen: null });

    const all = await api(center.url, 'GET', '/v1/nodes', { token: T });
    expect(all.body.nodes.map((n: { node: string }) => n.node)).toEqual(['broken', 'edited', 'late', 'ok', 'old']);
    // A node is stale after 3 heartbeats (3 x 1.5 s here) without a report.
    await until(async () => (await nodeState('ok')).state === 'stale', 20_000, 'ok to become stale');
    await until(
      async () => /celeriac_center_nodes\{state="stale"\} 4/.test((await api(center.url, 'GET', '/metrics')).text),
      20_000,
      'the four reporting nodes to be stale in /metrics',
    );
    const metrics = await api(center.url, 'GET', '/metrics');
    expect(metrics.text).toMatch(/celeriac_center_nodes\{state="unknown"\} 1/);
  });

  it('makes a node that only reported a status known, and refuses malformed reports with every path', async () => {
    expect((await report('newcomer', { applied_revision: null, apply_result: 'pending', programs: {} })).status).toBe(
      200,
    );
    expect(await nodeState('newcomer')).toMatchObject({ has_layer: false, state: 'pending' });
    const bad = await report('ok', {
      applied_revision: -1,
      apply_result: 'maybe',
      programs: { workers: { kind: 'x', state: 'running', pids: [], restarts: 0, config_hash: 'h', last_exit: null } },
    });
    expect(bad.status).toBe(400);
    expect(bad.body.error.code).toBe('CENTER_VALIDATION_FAILED');
    const paths = bad.body.error.issues.map((i: { path: string }) => i.path);
    expect(paths).toEqual(expect.arrayContaining(['applied_revision', 'apply_result', 'programs.workers.kind']));
    expect((await api(center.url, 'GET', '/v1/nodes/nobody', { token: T })).status).toBe(404);
  });
});
