import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { type RunningCenter, startCenter } from '@celeriac/config-center';
import type { NodeStatus } from '@celeriac/config-schema';
import { createLogger } from '@celeriac/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CenterApi, eventually } from '../../../test/e2e/support/center-api.js';
import { CenterClient } from '../src/center-client.js';
import { StatusReporter } from '../src/status-reporter.js';

const ADMIN = 'status-reporter-admin-token-0123456789';
const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-reporter-'));
let center: RunningCenter;
let admin: CenterApi;

beforeAll(async () => {
  center = await startCenter({
    logger: createLogger({ level: 'silent' }),
    dataDir: dir,
    listen: '127.0.0.1:0',
    adminToken: ADMIN,
  });
  admin = new CenterApi(center.url, ADMIN);
});

afterAll(async () => {
  await center.close();
  rmSync(dir, { recursive: true, force: true });
});

const status: NodeStatus = { applied_revision: null, apply_result: 'pending', programs: {}, heartbeat_ms: 100 };

describe('StatusReporter against a real center', () => {
  it('logs every refused report with its HTTP status until one is accepted, then says so once', async () => {
    const lines: Record<string, unknown>[] = [];
    const logger = createLogger({
      level: 'debug',
      pretty: false,
      destination: { write: (line: string) => lines.push(JSON.parse(line)) },
    });
    const client = (token: string) => new CenterClient({ baseUrl: center.url, node: 'rep', token });
    // An operator token may read configs but not report a node's status: the center answers 403.
    const refusedClient = client(await admin.createToken('operator'));
    const acceptedClient = client(await admin.createToken('agent', 'rep'));
    let sends = 0;
    const switching = {
      postStatus: (body: NodeStatus, timeoutMs?: number, signal?: AbortSignal) =>
        (++sends <= 4 ? refusedClient : acceptedClient).postStatus(body, timeoutMs, signal),
    };
    const reporter = new StatusReporter({ client: switching, logger, snapshot: () => status, heartbeatMs: 100 });
    reporter.start();
    await eventually(() => reporter.sent >= 2, 10_000, 'two accepted reports');
    await reporter.close();

    const refused = lines.filter((l) => l.event === 'agent.status_refused');
    expect(refused).toHaveLength(4);
    for (const line of refused) {
      expect(line).toMatchObject({
        level: 50,
        http_status: 403,
        code: 'AGENT_CENTER_AUTH',
        attempt: expect.any(Number),
      });
      expect((line.err as { message: string }).message).toMatch(/403/);
    }
    expect(refused.map((l) => l.attempt)).toEqual([1, 2, 3, 4]);
    expect(lines.filter((l) => l.event === 'agent.status_accepted')).toMatchObject([{ failed_reports: 4 }]);
    expect((await admin.node('rep')).applied_revision).toBeNull();
  });

  it('tells of an unreachable center from a failed heartbeat, and of its return, but not of a refusal', async () => {
    const seen: boolean[] = [];
    const agentToken = await admin.createToken('agent', 'rep2');
    const reachableClient = new CenterClient({ baseUrl: center.url, node: 'rep2', token: agentToken });
    // Port 9 on loopback: nothing listens, so the request fails as a partitioned center would.
    const unreachableClient = new CenterClient({ baseUrl: 'http://127.0.0.1:9', node: 'rep2', token: agentToken });
    const refusedClient = new CenterClient({
      baseUrl: center.url,
      node: 'rep2',
      token: await admin.createToken('operator'),
    });
    let sends = 0;
    const sequence = [unreachableClient, unreachableClient, refusedClient, reachableClient];
    const client = {
      postStatus: (body: NodeStatus, timeoutMs?: number, signal?: AbortSignal) =>
        (sequence[Math.min(sends++, sequence.length - 1)] as CenterClient).postStatus(body, timeoutMs, signal),
    };
    const reporter = new StatusReporter({
      client,
      logger: createLogger({ level: 'silent' }),
      snapshot: () => status,
      heartbeatMs: 50,
      onReachability: (reachable) => seen.push(reachable),
    });
    reporter.start();
    await eventually(() => reporter.sent >= 1, 10_000, 'an accepted report');
    await reporter.close();
    expect(seen.slice(0, 3)).toEqual([false, false, true]);
  });
});
