import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CenterState } from '../src/center-state.js';
import { NodeFeed, type NodeListSource } from '../src/node-feed.js';
import type { NodeStatusRecord } from '../src/types.js';
import { ADMIN_TOKEN, api, captureLogger, startTestCenter, type TestCenter, until } from './support/center-harness.js';
import { newestNode, nodeListsOf, type OpenEventStream, openEventStream } from './support/sse-reader.js';

// GET /v1/nodes/stream: GET /v1/nodes as server-sent events, pushed when a node reports, turns
// stale or a write changes what it is served; a burst of reports is coalesced.

const T = ADMIN_TOKEN;
const SECRET = 'hunter2-s3cret';
let center: TestCenter;
let viewerToken: string;
let agentToken: string;
const open: OpenEventStream[] = [];

async function token(role: string, node?: string): Promise<string> {
  const created = await api(center.url, 'POST', '/v1/tokens', {
    token: T,
    body: { role, node, name: `${role}-${node}` },
  });
  expect(created.status).toBe(201);
  return created.body.token as string;
}

async function stream(path: string, as?: string): Promise<OpenEventStream> {
  const opened = await openEventStream(center.url, path, as);
  open.push(opened);
  return opened;
}

async function report(node: string, body: Record<string, unknown>): Promise<void> {
  const as = node === 'api-1' ? agentToken : T;
  const posted = await api(center.url, 'POST', `/v1/nodes/${node}/status`, { token: as, body });
  expect(posted.status, posted.text).toBe(200);
}

const ok = (message: string, extra: Record<string, unknown> = {}) => ({
  applied_revision: null,
  apply_result: 'ok',
  message,
  programs: {},
  ...extra,
});

/** The node's entry in the first event (the whole list) of a stream. */
const first = (stream: OpenEventStream, node: string) =>
  stream.events[0]?.data.nodes.find((n: { node: string }) => n.node === node);

beforeAll(async () => {
  center = await startTestCenter({ heartbeatMs: 60_000 });
  viewerToken = await token('viewer');
  agentToken = await token('agent', 'api-1');
  const web = await api(center.url, 'PUT', '/v1/layers/nodes/web-1', {
    token: T,
    body: { groups: ['web'], programs: {} },
  });
  expect(web.status, web.text).toBe(201);
  await report('api-1', ok(`cannot reach redis://:${SECRET}@cache:6379/0`));
});

afterAll(async () => {
  for (const opened of open) opened.close();
  await center?.close();
});

describe('GET /v1/nodes/stream', () => {
  it('refuses a missing token, an agent token and a bad selector as ordinary error answers', async () => {
    const missing = await stream('/v1/nodes/stream');
    expect(missing.status).toBe(401);
    expect(missing.contentType).toMatch(/application\/json/);
    expect((await stream('/v1/nodes/stream', agentToken)).status).toBe(403);
    const bad = await stream(`/v1/nodes/stream?selector=${encodeURIComponent('zone=')}`, T);
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text).error.code).toBe('CENTER_BAD_REQUEST');
  });

  it('sends GET /v1/nodes at once, with its selection, and masks secrets for viewers only', async () => {
    const admin = await stream('/v1/nodes/stream', T);
    expect(admin.status).toBe(200);
    expect(admin.contentType).toMatch(/^text\/event-stream/);
    const viewer = await stream('/v1/nodes/stream', viewerToken);
    const web = await stream(`/v1/nodes/stream?selector=${encodeURIComponent('group=web')}`, viewerToken);
    await until(() => admin.events.length > 0 && viewer.events.length > 0 && web.events.length > 0, 10_000, 'first');
    expect(admin.events[0]?.name).toBe('nodes');
    const listed = await api(center.url, 'GET', '/v1/nodes', { token: T });
    // The same answer as GET /v1/nodes but for the clock-free fields (none differ within a second).
    expect(admin.events[0]?.data.nodes.map((n: { node: string }) => n.node)).toEqual(
      listed.body.nodes.map((n: { node: string }) => n.node),
    );
    expect(first(admin, 'api-1').message).toContain(SECRET);
    expect(JSON.stringify(viewer.events[0]?.data)).not.toContain(SECRET);
    expect(first(viewer, 'api-1').message).toMatch(/redis:\/\/.*cache:6379/);
    const viewerList = await api(center.url, 'GET', '/v1/nodes', { token: viewerToken });
    expect(first(viewer, 'api-1').message).toBe(
      viewerList.body.nodes.find((n: { node: string }) => n.node === 'api-1').message,
    );
    expect(web.events[0]?.data.nodes.map((n: { node: string }) => n.node)).toEqual(['web-1']);

    // A report of a node outside the selection reaches the whole list, not the selection's.
    const webBefore = web.events.length;
    const adminBefore = admin.events.length;
    await report('api-1', ok('second report'));
    await until(
      () => newestNode(admin.events, 'api-1')?.message === 'second report',
      10_000,
      'the report on the whole list',
    );
    // A change of web-1 comes after; the selection's stream got nothing before it.
    await report('web-1', ok('web report'));
    await until(() => newestNode(web.events, 'web-1')?.message === 'web report', 10_000, 'the report on the selection');
    // Only changes are sent after the first list: the selection's stream got web-1's, and nothing of api-1.
    const changes = web.events.slice(webBefore);
    expect(changes.map((e) => e.name)).toEqual(changes.map(() => 'nodes_changed'));
    expect(changes.flatMap((e) => e.data.changed.map((n: { node: string }) => n.node))).toEqual(['web-1']);
    expect(
      nodeListsOf(web.events)
        .at(-1)
        ?.map((n) => n.node),
    ).toEqual(['web-1']);
    // The whole list's stream got api-1's report as a change of that node alone.
    const adminChanges = admin.events.slice(adminBefore);
    expect(adminChanges[0]?.data).toMatchObject({
      changed: [{ node: 'api-1', message: 'second report' }],
      removed: [],
    });
  });

  it('pushes a node turning stale and a write changing its desired revision, with no request from the client', async () => {
    const admin = await stream('/v1/nodes/stream', T);
    await until(() => admin.events.length > 0, 10_000, 'the first list');
    // An agent with a 1 s heartbeat is stale 3 s after its report: the stream says so by itself.
    const reported = Date.now();
    await report('quick', ok('quick report', { heartbeat_ms: 1000 }));
    await until(() => newestNode(admin.events, 'quick') !== undefined, 10_000, 'quick reported');
    await until(() => newestNode(admin.events, 'quick')?.state === 'stale', 10_000, 'quick turning stale');
    expect(Date.now() - reported).toBeGreaterThanOrEqual(3000);
    expect(newestNode(admin.events, 'quick')).toMatchObject({ stale: true, message: 'quick report' });
    // Never applied anything: pending until it turned stale.
    const states = nodeListsOf(admin.events).map((list) => list.find((n) => n.node === 'quick')?.state);
    expect(states.filter((state) => state !== undefined)).toContain('pending');

    const before = newestNode(admin.events, 'web-1')?.desired_revision as number;
    const layer = await api(center.url, 'GET', '/v1/layers/nodes/web-1', { token: T });
    const write = await api(center.url, 'PUT', '/v1/layers/nodes/web-1', {
      token: T,
      headers: { 'if-match': String(layer.body.revision) },
      body: {
        groups: ['web'],
        labels: { zone: 'eu' },
        programs: { sleeper: { kind: 'command', command: [process.execPath, '-e', 'setInterval(() => {}, 1000)'] } },
      },
    });
    expect(write.status, write.text).toBe(200);
    await until(
      () => (newestNode(admin.events, 'web-1')?.desired_revision ?? 0) > before,
      10_000,
      'the write on the stream',
    );
    expect(newestNode(admin.events, 'web-1')).toMatchObject({ labels: { zone: 'eu' } });
    // Nothing changes any more: no event either (lists are sent only when their text changed).
    const settled = admin.events.length;
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(admin.events.length).toBe(settled);
  });

  it('coalesces a burst: 50 reports give a few events, the last one with the last report', async () => {
    const admin = await stream('/v1/nodes/stream', T);
    await until(() => admin.events.length > 0, 10_000, 'the first list');
    const before = admin.events.length;
    const started = Date.now();
    for (let i = 0; i < 50; i += 1) await report('api-1', ok(`burst ${i}`));
    const sentMs = Date.now() - started;
    await until(
      () => newestNode(admin.events, 'api-1')?.message === 'burst 49',
      10_000,
      'the last report of the burst',
    );
    const events = admin.events.length - before;
    // One send per 500 ms turn at most: the burst took sentMs, plus the turn after it.
    console.info(`node-stream: 50 reports in ${sentMs} ms gave ${events} event(s)`);
    expect(events).toBeGreaterThanOrEqual(1);
    expect(events).toBeLessThanOrEqual(Math.ceil(sentMs / 500) + 2);
    expect(events).toBeLessThan(50);
  });

  it('ends its streams when the center closes, and the feed stops with them', async () => {
    const other = await startTestCenter();
    const opened = await openEventStream(other.url, '/v1/nodes/stream', T);
    await until(() => opened.events.length > 0, 10_000, 'the first list');
    const started = Date.now();
    // An open stream would hold the server open: close() resolves only because it was ended.
    await other.close();
    await opened.ended;
    expect(Date.now() - started).toBeLessThan(10_000);
  });
});

describe('NodeFeed', () => {
  /** A center of `nodes` that reported at `receivedAt`, counting the reads of the statuses and the list builds. */
  function fakeCenter(nodes: string[]) {
    const state = new CenterState();
    const reads = { statuses: 0, selects: 0 };
    const records = new Map<string, NodeStatusRecord>(
      nodes.map((node) => [node, { node, received_at: new Date().toISOString(), status: { apply_result: 'ok' } }]),
    );
    const source: NodeListSource = {
      state,
      statuses: async () => {
        reads.statuses += 1;
        return new Map(records);
      },
      selectNodes: () => {
        reads.selects += 1;
        return [...records.keys()].sort();
      },
      servedView: (node: string) => state.view(node),
      rolloutPlacement: () => null,
    };
    return { source, records, reads };
  }

  it('builds one list per turn for every stream of a selection, and sends only changed lists', async () => {
    const { source, records, reads } = fakeCenter(['a', 'b']);
    const feed = new NodeFeed(source, {
      fallbackStaleAfterMs: 60_000,
      logger: captureLogger([]),
      checkMs: 60_000,
      coalesceMs: 50,
    });
    const got: string[][] = Array.from({ length: 20 }, () => []);
    const names: string[] = [];
    const unsubscribes: (() => void)[] = [];
    const selection = { selectorText: '', selector: undefined, masked: false };
    for (const list of got)
      unsubscribes.push(
        await feed.subscribe(selection, (event, json) => {
          if (list === got[0]) names.push(event);
          list.push(json);
        }),
      );
    // The first stream built the list; the other 19 got the same text.
    expect(reads).toEqual({ statuses: 1, selects: 1 });
    expect(new Set(got.map((list) => list[0])).size).toBe(1);
    expect(feed.size).toBe(1);

    records.set('a', { node: 'a', received_at: new Date().toISOString(), status: { apply_result: 'failed' } });
    for (let i = 0; i < 10; i += 1) feed.poke();
    await until(() => got.every((list) => list.length === 2), 5000, 'the change on every stream');
    // Ten pokes, one turn: one read and one list for the 20 streams.
    expect(reads).toEqual({ statuses: 2, selects: 2 });
    // The first event is the whole list, the next only what changed, the same text for every stream.
    expect(names).toEqual(['nodes', 'nodes_changed']);
    expect(JSON.parse(got[0]?.[0] ?? '{}').nodes.map((n: { node: string }) => n.node)).toEqual(['a', 'b']);
    expect(JSON.parse(got[0]?.[1] ?? '{}')).toMatchObject({ changed: [{ node: 'a', state: 'failed' }], removed: [] });
    expect(new Set(got.map((list) => list[1])).size).toBe(1);

    // A poke with nothing changed reads again but sends nothing.
    feed.poke();
    await until(() => reads.statuses === 3, 5000, 'the next turn');
    await new Promise((resolve) => setTimeout(resolve, 120));
    expect(got.every((list) => list.length === 2)).toBe(true);

    for (const unsubscribe of unsubscribes) unsubscribe();
    expect(feed.size).toBe(0);
    feed.poke();
    await new Promise((resolve) => setTimeout(resolve, 150));
    expect(reads.statuses).toBe(3);
    feed.close();
  });
});
