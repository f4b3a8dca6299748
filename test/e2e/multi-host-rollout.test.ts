import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeTestCertificates, type TestCertificates } from '../support/tls-certs.js';
import { type CenterApi, eventually, type NodeSummary } from './support/center-api.js';
import { untilCenterReachable, untilCenterUnreachable } from './support/fleet-processes.js';
import { startHostAgent, startHostCenter, startHostRedis } from './support/host-processes.js';
import { HostNetwork } from './support/netns-hosts.js';
import type { Spawned } from './support/processes.js';

// A rollout across three hosts (network namespaces the test creates, as in multi-host.test.ts;
// loopback addresses and relays where namespaces are refused, said in the output) with the center
// serving HTTPS (a CA made for the test; agents verify it with --ca-file) and one host cut off the
// center during its wave: the rollout holds at that wave (the host's apply result is unknown), rolls
// back when the wave's progress deadline passes, never touches the host of the later wave, and the
// cut-off host keeps its last good config and workers, then converges to what its wave allows.

const SUPPORT = fileURLToPath(new URL('./support/', import.meta.url));
const ADMIN = 'multi-host-rollout-admin-token-0123456789abcdef';
const HOSTS = ['h1', 'h2', 'h3'] as const;
type HostName = (typeof HOSTS)[number];
const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-multi-host-rollout-'));
const logs = (name: string) => path.join(dir, `${name}.log`);
/** How long the cut-off host's wave may stay pending before the rollout is rolled back. */
const DEADLINE_S = 12;

let network: HostNetwork;
let pki: TestCertificates;
let db: Redis;
let admin: CenterApi;
const agents = {} as Record<HostName, { proc: Spawned; metrics: string }>;
let defaults: { celery: Record<string, unknown>; programs: Record<string, Record<string, unknown>> };

function worker(concurrency: number) {
  return {
    kind: 'celeriac-worker',
    app: path.join(SUPPORT, 'fleet-tasks.mjs'),
    queues: ['celery'],
    concurrency,
    stop_timeout: '10s',
    ready_timeout: '40s',
  };
}

/** The node's summary once it applied `revision` and its worker runs. */
async function settled(node: HostName, revision: number, timeoutMs = 45_000): Promise<NodeSummary> {
  return eventually(
    async () => {
      const n = await admin.node(node);
      if (n.applied_revision === revision && n.apply_result === 'ok' && n.programs.w?.state === 'running') return n;
      throw new Error(`applied ${n.applied_revision} (${n.apply_result}) of desired ${n.desired_revision}`);
    },
    timeoutMs,
    `node ${node} settled at revision ${revision}`,
  );
}

const pid = (n: NodeSummary) => n.programs.w?.pids[0] as number;

// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
async function rollout(id: string): Promise<Record<string, any>> {
  const res = await admin.request('GET', `/v1/rollouts/${id}`);
  expect(res.status).toBe(200);
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
  return res.body as Record<string, any>;
}

beforeAll(async () => {
  network = await HostNetwork.create([...HOSTS]);
  console.log(network.describe());
  // Valid for the center's address and, in loopback mode, each host's relay to it.
  pki = makeTestCertificates({
    serverIps: [network.center.controlAddress, ...HOSTS.map((h) => network.host(h).controlAddress)],
  });

  const redis = await startHostRedis(network, dir, logs('redis'));
  db = redis.db;

  const center = await startHostCenter(network, {
    dir,
    adminToken: ADMIN,
    logFile: logs('center'),
    tls: { cert: pki.serverCert, key: pki.serverKey, caFile: pki.caCert },
  });
  admin = center.admin;

  defaults = {
    celery: {
      broker_url: redis.url(0),
      result_backend: redis.url(1),
      task_serializer: 'json',
      accept_content: ['json'],
      task_default_queue: 'celery',
    },
    programs: { w: worker(1) },
  };
  for (const node of HOSTS) expect((await admin.putLayer(`nodes/${node}`, {}, 'setup')).status).toBeLessThan(300);
  expect((await admin.putLayer('defaults', defaults, 'setup')).status).toBeLessThan(300);
  const revision = (await admin.node('h1')).desired_revision;

  for (const node of HOSTS) {
    const token = await admin.createToken('agent', node);
    agents[node] = await startHostAgent(network, node, {
      centerPort: center.port,
      token,
      dir,
      logFile: logs(`agent-${node}`),
      caFile: pki.caCert,
    });
  }
  await Promise.all(HOSTS.map((node) => settled(node, revision, 60_000)));
}, 120_000);

afterAll(async () => {
  for (const node of HOSTS) await agents[node]?.proc.stop('SIGTERM');
  db?.disconnect();
  await network?.teardown();
  pki?.remove();
  if (process.env.CELERIAC_KEEP_E2E) process.stderr.write(`multi-host rollout e2e logs in ${dir}\n`);
  else rmSync(dir, { recursive: true, force: true });
}, 60_000);

describe('a rollout over TLS across three hosts, one cut off the center during its wave', () => {
  it('holds at the unreachable wave, rolls back at its deadline, and the cut-off host converges after the heal', async () => {
    const before = Object.fromEntries(
      await Promise.all(HOSTS.map(async (node) => [node, await admin.node(node)] as const)),
    ) as Record<HostName, NodeSummary>;
    const lastGood = before.h2.applied_revision as number;

    defaults.programs.w = worker(2);
    const write = await admin.request(
      'PUT',
      '/v1/layers/defaults',
      {
        ...defaults,
        rollout: {
          waves: [
            { nodes: 1, soak: '1s' },
            { nodes: 1, soak: '1s' },
            { rest: true, soak: '1s' },
          ],
          progress_deadline: `${DEADLINE_S}s`,
        },
      },
      { 'if-match': String((await admin.request('GET', '/v1/layers/defaults')).etag?.replaceAll('"', '')) },
    );
    expect(write.status, JSON.stringify(write.body)).toBe(200);
    const revision = (write.body as { revision: number }).revision;
    const id = `r${revision}`;
    // h2's wave comes second: cut it off while the first wave (h1) applies.
    network.partition('h2');
    const cutAt = Date.now();

    const h1 = await settled('h1', revision);
    expect(pid(h1)).not.toBe(pid(before.h1));
    // Wave 1 soaked and was promoted: h2 is served the revision but cannot fetch it.
    await eventually(async () => (await rollout(id)).wave === 1, 30_000, 'the rollout to reach h2’s wave');
    const waveStartedAt = Date.parse((await rollout(id)).wave_started_at);

    // Until its deadline the wave holds: pending on h2's apply result, h3 still held back. Every
    // look is kept, and checked once the rollout ended.
    const looks: { wave: number; state: string; verdict: string | null; h3Hash: string; h3Pid: number }[] = [];
    await eventually(
      async () => {
        const r = await rollout(id);
        const h3 = await admin.node('h3');
        looks.push({ wave: r.wave, state: r.state, verdict: r.last_verdict, h3Hash: h3.desired_hash, h3Pid: pid(h3) });
        return r.state === 'rolled_back';
      },
      DEADLINE_S * 1000 + 20_000,
      'the rollback at the wave deadline',
    );
    expect(
      looks.filter((l) => l.wave > 1),
      'never promoted past the unreachable wave',
    ).toEqual([]);
    expect(looks.filter((l) => l.state === 'running' && l.verdict === 'pending').length).toBeGreaterThan(3);
    // h3 is never served the change (the rollback revision has its old config) and never restarts.
    expect(new Set(looks.map((l) => l.h3Hash))).toEqual(new Set([before.h3.desired_hash]));
    expect(new Set(looks.map((l) => l.h3Pid))).toEqual(new Set([pid(before.h3)]));
    const done = await rollout(id);
    expect(Date.now() - waveStartedAt).toBeGreaterThanOrEqual(DEADLINE_S * 1000 - 1000);
    expect(done.last_reason).toMatch(/pending .*apply_ok .*waiting for h2/);
    const rollbackRevision = done.rollback_revision as number;
    expect(rollbackRevision).toBeGreaterThan(revision);

    // While cut off, h2 ran its last good config with the same worker process.
    const health = await untilCenterUnreachable(agents.h2.metrics, 20_000, 'h2 reports the center unreachable');
    expect(health.applied_revision).toBe(lastGood);
    expect(() => process.kill(pid(before.h2), 0)).not.toThrow();
    const seen = await admin.node('h2');
    expect(seen.applied_revision).toBe(lastGood);
    // h1 went back to the old config; h3 was never changed.
    const h1Back = await settled('h1', rollbackRevision);
    expect(pid(h1Back)).not.toBe(pid(h1));
    console.log(
      `multi-host rollout: h2 cut off for ${Date.now() - cutAt} ms; ${id} held at wave 2 and rolled back by revision ${rollbackRevision} (${done.last_reason})`,
    );

    network.heal('h2');
    const healedAt = Date.now();
    // Its wave now allows the rollback revision, whose config is the one it ran. (The answer the
    // center gave its held long-poll when the wave started was in flight on the cut link: TCP may
    // deliver it on the heal, so h2 may apply the revision before the rollback one on its way.)
    const h2 = await settled('h2', rollbackRevision, 60_000);
    console.log(
      `multi-host rollout: h2 converged to revision ${rollbackRevision} ${Date.now() - healedAt} ms after the heal`,
    );
    expect(h2.desired_hash).toBe(before.h2.desired_hash);
    expect(h2.drift).toBe(false);
    expect(pid(await admin.node('h3'))).toBe(pid(before.h3));
    await untilCenterReachable(agents.h2.metrics, 30_000, 'h2 reaches the center');
  }, 150_000);
});
