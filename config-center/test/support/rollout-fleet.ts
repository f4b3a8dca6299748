import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileStore, startCenter } from '../../src/index.js';
import { ADMIN_TOKEN, api, captureLogger, type TestCenter, workerNodeLayer } from './center-harness.js';

// A center with a few fake agents that report health as a real agent does (POST
// /v1/nodes/<node>/status with programs.*.health, applying what the status answer says it is
// served), for the console's rollout and health tests and the README screenshot.

/** The fleet's nodes: 4 nodes so that waves of 1, 50 % and the rest are all different. */
export const FLEET_NODES = ['web-1', 'web-2', 'web-3', 'web-4'];
/** The env var a change sets to make the fake workers' tasks fail (as a task module reading it would). */
export const FAILING_FLAVOUR = 'bad';

const BROKER = 'redis://127.0.0.1:6379/0';

/** One node's fake agent: applies the revision it is served at once, and reports figures that depend on it. */
class FakeAgent {
  private revision = 0;
  private flavour = '';
  private reports = 0;
  /** A health window still holds the failures of a bad config for a while after it is gone. */
  private failingUntil = 0;

  constructor(
    private readonly url: string,
    private readonly node: string,
    private readonly token: string,
  ) {}

  /** Tasks/s, failure ratio and p95 of this node now: steady with a little wobble, failing on the bad flavour. */
  private figures(): { succeeded: number; failed: number; p95: number } {
    const wobble = Math.sin((this.reports + FLEET_NODES.indexOf(this.node) * 7) / 4);
    const total = 18 + FLEET_NODES.indexOf(this.node) * 3 + wobble * 2;
    const failing = this.flavour === FAILING_FLAVOUR || Date.now() < this.failingUntil;
    const ratio = failing ? 0.55 : 0.01 + 0.005 * (wobble + 1);
    return { succeeded: total * (1 - ratio), failed: total * ratio, p95: failing ? 0.42 : 0.12 + 0.02 * wobble };
  }

  private health() {
    const window = 10;
    const { succeeded, failed, p95 } = this.figures();
    const counts = {
      received: Math.round((succeeded + failed) * window),
      succeeded: Math.round(succeeded * window),
      failed: Math.round(failed * window),
      retried: 0,
      rejected: 0,
      revoked: 0,
    };
    return {
      source: 'health_file',
      window_s: window,
      counts,
      rates: { received: succeeded + failed, succeeded, failed, retried: 0, rejected: 0, revoked: 0 },
      failure_ratio: failed / (succeeded + failed),
      runtime_p50_s: p95 / 3,
      runtime_p95_s: p95,
      queue_wait_p50_s: 0.002,
      queue_wait_p95_s: 0.01,
      restarts_5m: 0,
      crash_loop: false,
    };
  }

  async report(): Promise<void> {
    this.reports += 1;
    const body = {
      applied_revision: this.revision,
      apply_result: 'ok',
      programs: {
        workers: {
          kind: 'celeriac-worker',
          state: 'running',
          pids: [4000 + FLEET_NODES.indexOf(this.node)],
          restarts: 0,
          config_hash: `h${this.revision}`,
          last_exit: null,
          health: this.health(),
        },
      },
      agent: { pid: 900 + FLEET_NODES.indexOf(this.node), started_at: '2026-12-01T09:00:00.000Z', version: '0.1.0' },
      heartbeat_ms: 60_000,
    };
    const answer = await api(this.url, 'POST', `/v1/nodes/${this.node}/status`, { token: this.token, body });
    if (answer.status !== 200) throw new Error(`status of ${this.node}: ${answer.status} ${answer.text}`);
    if (answer.body.desired_revision !== this.revision) {
      const served = await api(this.url, 'GET', `/v1/nodes/${this.node}/config`, { token: this.token });
      if (served.status !== 200) throw new Error(`config of ${this.node}: ${served.status} ${served.text}`);
      this.revision = served.body.revision;
      const flavour = served.body.config.programs?.workers?.env?.FLAVOUR ?? '';
      if (this.flavour === FAILING_FLAVOUR && flavour !== FAILING_FLAVOUR) this.failingUntil = Date.now() + 3_000;
      this.flavour = flavour;
    }
  }
}

/** A running center with its fake agents reporting every `reportMs`. */
export interface RolloutFleet {
  center: TestCenter;
  operatorToken: string;
  viewerToken: string;
  /** Writes `defaults` (the worker's env FLAVOUR) with a rollout policy; returns the write's answer. */
  writeFlavour(flavour: string, rollout: unknown): Promise<{ status: number; revision: number; text: string }>;
  /** The rollout as GET /v1/rollouts/<id> answers. */
  // biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON
  rollout(id: string): Promise<any>;
  close(): Promise<void>;
}

/**
 * Starts a center (one health point per node per second, gates evaluated every 200 ms), gives each
 * node a layer, and starts its fake agent.
 */
export async function startRolloutFleet(options: { reportMs?: number } = {}): Promise<RolloutFleet> {
  const dataDir = mkdtempSync(path.join(tmpdir(), 'celeriac-rollout-console-'));
  const logger = captureLogger([]);
  const running = await startCenter({
    listen: '127.0.0.1:0',
    store: new FileStore({ dataDir, logger, statusFlushMs: 20 }),
    adminToken: ADMIN_TOKEN,
    logger,
    heartbeatMs: 60_000,
    healthStepS: 1,
    rolloutTickMs: 200,
  });
  const url = running.url;
  const center: TestCenter = {
    url,
    dataDir,
    logLines: [],
    running,
    close: async () => {
      await running.close();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
  const admin = async (method: string, urlPath: string, body: unknown, headers: Record<string, string> = {}) => {
    const answer = await api(url, method, urlPath, { token: ADMIN_TOKEN, body, headers });
    if (answer.status >= 300) throw new Error(`${method} ${urlPath}: ${answer.status} ${answer.text}`);
    return answer;
  };
  const token = async (role: string, name: string) =>
    (await admin('POST', '/v1/tokens', { role, name })).body.token as string;
  const operatorToken = await token('operator', 'ops-alice');
  const viewerToken = await token('viewer', 'viewer-bob');
  await admin(
    'PUT',
    '/v1/layers/defaults',
    { celery: { broker_url: BROKER } },
    { 'x-change-message': 'seed defaults' },
  );
  for (const [index, node] of FLEET_NODES.entries()) {
    await admin(
      'PUT',
      `/v1/layers/nodes/${node}`,
      workerNodeLayer(['web'], { labels: { zone: index < 2 ? 'eu' : 'us' } }),
    );
  }
  const agents = FLEET_NODES.map((node) => new FakeAgent(url, node, ADMIN_TOKEN));
  let stopped = false;
  const failures: Error[] = [];
  const loops = agents.map(async (agent) => {
    while (!stopped) {
      await agent.report().catch((error: Error) => failures.push(error));
      await new Promise((resolve) => setTimeout(resolve, options.reportMs ?? 300));
    }
  });

  return {
    center,
    operatorToken,
    viewerToken,
    async writeFlavour(flavour, rollout) {
      const current = await api(url, 'GET', '/v1/layers/defaults', { token: ADMIN_TOKEN });
      const answer = await api(url, 'PUT', '/v1/layers/defaults', {
        token: operatorToken,
        headers: { 'if-match': String(current.body.revision), 'x-change-message': `worker flavour ${flavour}` },
        body: { celery: { broker_url: BROKER }, programs: { workers: { env: { FLAVOUR: flavour } } }, rollout },
      });
      return { status: answer.status, revision: answer.body?.revision, text: answer.text };
    },
    async rollout(id) {
      const answer = await api(url, 'GET', `/v1/rollouts/${id}`, { token: ADMIN_TOKEN });
      if (answer.status !== 200) throw new Error(`GET /v1/rollouts/${id}: ${answer.status} ${answer.text}`);
      return answer.body;
    },
    async close() {
      stopped = true;
      await Promise.all(loops);
      await center.close();
      // A fake agent that failed to report is a broken test setup, not a flake to ignore.
      const unexpected = failures.filter((error) => !/ECONNREFUSED|fetch failed|503/.test(error.message));
      if (unexpected.length > 0) throw unexpected[0];
    },
  };
}
