import { existsSync, mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, api, startTestCenter, type TestCenter } from './support/center-harness.js';

// Log compaction of the file store: a checkpoint of which revisions changed each node, so that a
// start restores it (one effective-config computation per distinct node layer) instead of
// replaying every revision; the log stays whole, as the history.
const T = ADMIN_TOKEN;
const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-checkpoint-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface Seen {
  nodes: { node: string; desired_revision: number; desired_hash: string; labels: Record<string, string> }[];
  history: Record<string, number[]>;
  configs: Record<string, unknown>;
  head: number;
}

async function observe(center: TestCenter, nodes: string[]): Promise<Seen> {
  const list = (await api(center.url, 'GET', '/v1/nodes', { token: T })).body.nodes;
  const history: Record<string, number[]> = {};
  const configs: Record<string, unknown> = {};
  for (const node of [...nodes, 'no-layer']) {
    const revisions = (await api(center.url, 'GET', `/v1/revisions?node=${node}&limit=1000`, { token: T })).body;
    history[node] = revisions.revisions.map((r: { revision: number }) => r.revision);
    configs[node] = (await api(center.url, 'GET', `/v1/nodes/${node}/config`, { token: T })).body;
  }
  const head = (await api(center.url, 'GET', '/healthz')).body.revision;
  return {
    nodes: list.map((n: Seen['nodes'][number]) => ({
      node: n.node,
      desired_revision: n.desired_revision,
      desired_hash: n.desired_hash,
      labels: n.labels,
    })),
    history,
    configs,
    head,
  };
}

const start = () => startTestCenter({ dataDir: dir });
const checkpointFile = path.join(dir, 'checkpoint.json');

describe('file store checkpoint', () => {
  const nodes = Array.from({ length: 12 }, (_, i) => `n-${i}`);
  let written: Seen;

  it('is written at close, and a start from it gives exactly the state a full replay gives', {
    timeout: 60_000,
  }, async () => {
    const center = await start();
    const put = (layer: string, body: unknown, ifMatch?: number) =>
      api(center.url, 'PUT', `/v1/layers/${layer}`, {
        token: T,
        body,
        headers: ifMatch === undefined ? {} : { 'if-match': String(ifMatch) },
      });
    let defaults = (
      await put('defaults', { programs: { w: { kind: 'celeriac-worker', app: './t.js', queues: ['celery'] } } })
    ).body.revision;
    for (const [i, node] of nodes.entries()) {
      const layer = { groups: [i % 2 ? 'odd' : 'even'], labels: { zone: i % 3 ? 'eu' : 'us' } };
      expect((await put(`nodes/${node}`, layer)).status).toBe(201);
    }
    let odd = 0;
    for (let k = 0; k < 15; k++) {
      if (k % 3 === 0) {
        defaults = (
          await put(
            'defaults',
            {
              celery: { result_expires: k },
              programs: { w: { kind: 'celeriac-worker', app: './t.js', queues: ['celery'] } },
            },
            defaults,
          )
        ).body.revision;
      } else {
        odd = (await put('groups/odd', { celery: { task_default_queue: `q${k}` } }, odd)).body.revision;
      }
    }
    // A label change: a revision that changes no node's effective config.
    const n0 = (await api(center.url, 'GET', '/v1/layers/nodes/n-0', { token: T })).body.revision;
    await put('nodes/n-0', { groups: ['even'], labels: { zone: 'ap' } }, n0);
    written = await observe(center, nodes);
    await center.close();
    const checkpoint = JSON.parse(readFileSync(checkpointFile, 'utf8'));
    expect(checkpoint.head).toBe(written.head);
    expect(Object.keys(checkpoint.nodes).sort()).toEqual([...nodes].sort());

    const restored = await start();
    expect(
      restored.logLines.some((l) => l.includes('"event":"center.checkpoint_restored"') && l.includes('"replay":0')),
    ).toBe(true);
    expect(await observe(restored, nodes)).toEqual(written);
    await restored.close();

    unlinkSync(checkpointFile);
    const replayed = await start();
    expect(replayed.logLines.some((l) => l.includes('center.checkpoint_restored'))).toBe(false);
    expect(await observe(replayed, nodes)).toEqual(written);
    await replayed.close();
  });

  it('replays only the revisions after the checkpoint, and ignores one that does not fit the log', {
    timeout: 60_000,
  }, async () => {
    expect(existsSync(checkpointFile)).toBe(true);
    const stale = readFileSync(checkpointFile, 'utf8');
    const center = await start();
    const odd = (await api(center.url, 'GET', '/v1/layers/groups/odd', { token: T })).body.revision;
    const write = await api(center.url, 'PUT', '/v1/layers/groups/odd', {
      token: T,
      body: { celery: { task_default_queue: 'late' } },
      headers: { 'if-match': String(odd) },
    });
    expect(write.status).toBe(200);
    const after = await observe(center, nodes);
    await center.close();
    // A checkpoint older than the log: restored, then the newer revision replayed on top.
    writeFileSync(checkpointFile, stale);
    const tail = await start();
    expect(tail.logLines.some((l) => l.includes('center.checkpoint_restored') && l.includes('"replay":1'))).toBe(true);
    expect(await observe(tail, nodes)).toEqual(after);
    await tail.close();
    // A checkpoint that names another revision at its head is not used.
    const wrong = JSON.parse(readFileSync(checkpointFile, 'utf8'));
    wrong.head_mark = 'defaults@1999-01-01T00:00:00.000Z';
    writeFileSync(checkpointFile, JSON.stringify(wrong));
    const ignored = await start();
    expect(ignored.logLines.some((l) => l.includes('center.checkpoint_ignored'))).toBe(true);
    expect(await observe(ignored, nodes)).toEqual(after);
    await ignored.close();
  });
});
