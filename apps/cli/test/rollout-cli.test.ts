import type { RunningCenter } from '@celeriac/config-center';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FileCenter, requireBuiltCli, runCli, startFileCenter } from './support/cli-center.js';

// The built CLI (`npm run build` first) against a real center with a rollout held at its first wave.
const ADMIN = 'cli-rollout-admin-token-0123456789abcdef';

let files: FileCenter;
let center: RunningCenter;
let rolloutId: string;

function cli(args: string[]) {
  return runCli(args, { CELERIAC_CENTER: center.url, CELERIAC_TOKEN: ADMIN });
}

async function put(layer: string, body: unknown, ifMatch?: number): Promise<number> {
  const response = await fetch(`${center.url}/v1/layers/${layer}`, {
    method: 'PUT',
    headers: {
      authorization: `Bearer ${ADMIN}`,
      'content-type': 'application/json',
      ...(ifMatch === undefined ? {} : { 'if-match': String(ifMatch) }),
    },
    body: JSON.stringify(body),
  });
  expect(response.status).toBeLessThan(300);
  return ((await response.json()) as { revision: number }).revision;
}

beforeAll(async () => {
  requireBuiltCli('rollout');
  files = await startFileCenter('celeriac-cli-rollout-', ADMIN);
  center = files.center;
  const first = await put('defaults', { celery: { broker_url: 'redis://127.0.0.1:6379/0', timezone: 'UTC' } });
  for (const node of ['a1', 'a2']) {
    await put(`nodes/${node}`, {
      programs: { workers: { kind: 'celeriac-worker', app: './tasks.ts', queues: ['celery'] } },
    });
  }
  const revision = await put(
    'defaults',
    {
      celery: { broker_url: 'redis://127.0.0.1:6379/0', timezone: 'Europe/Paris' },
      rollout: { waves: [{ nodes: 1 }, { rest: true }], soak: '1h' },
    },
    first,
  );
  rolloutId = `r${revision}`;
}, 60_000);

afterAll(async () => {
  await files?.close();
});

describe('celeriac rollout', () => {
  it('lists rollouts and shows one with its waves', async () => {
    const list = await cli(['rollout', 'status']);
    expect(list.exitCode).toBe(0);
    expect(list.stdout).toMatch(new RegExp(`${rolloutId}\\s+\\d+\\s+defaults\\s+running\\s+1/2\\s+1/2`));
    const one = await cli(['rollout', 'status', rolloutId]);
    expect(one.exitCode).toBe(0);
    expect(one.stdout).toContain('> 1. a1 (soak 3600s, 1/1 served)');
    expect(one.stdout).toContain('  2. a2 (soak 3600s, 0/1 served)');
    expect(one.stdout).toContain('apply_ok');
  });

  it('nodes shows what a held node is served, the latest revision and its wave', async () => {
    const nodes = await cli(['nodes']);
    expect(nodes.exitCode).toBe(0);
    const revision = rolloutId.slice(1);
    const [header, ...rows] = nodes.stdout.trim().split('\n');
    expect(header).toMatch(/NODE\s+STATE\s+DESIRED\s+ROLLOUT\s+APPLIED/);
    const a1 = rows.find((row) => row.startsWith('a1'));
    const a2 = rows.find((row) => row.startsWith('a2'));
    expect(a1).toMatch(new RegExp(`\\s${revision}\\s+${rolloutId} wave 1, served`));
    expect(a2).toMatch(new RegExp(`\\s\\d+ \\(latest ${revision}\\)\\s+${rolloutId} wave 2, held`));
  });

  it('config --dry-run says which rollout policy would apply; a bad --rollout is a usage error', async () => {
    const preview = await cli([
      'config',
      'set',
      'defaults',
      'celery.timezone=Asia/Tokyo',
      '--dry-run',
      '--rollout',
      '{"waves":[{"nodes":1},{"rest":true}],"soak":"30s"}',
    ]);
    expect(preview.exitCode).toBe(0);
    expect(preview.stdout).toContain("rollout: the write's own policy (--rollout) applies");
    expect(preview.stdout).toContain('  wave 1: a1 (soak 30s)');
    expect(preview.stdout).toContain('  wave 2: a2 (soak 30s)');
    const none = await cli([
      'config',
      'set',
      'defaults',
      'celery.timezone=Asia/Tokyo',
      '--dry-run',
      '--rollout',
      'none',
    ]);
    expect(none.stdout).toContain('rollout: none (--rollout none)');
    const bad = await cli(['config', 'set', 'defaults', 'celery.timezone=Asia/Tokyo', '--rollout', '{"waves":[]}']);
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('--rollout is not a rollout policy');
  });

  it('pauses, resumes and aborts; refuses a wrong state and a bad command', async () => {
    expect((await cli(['rollout', 'pause', rolloutId])).stdout).toContain('paused');
    const again = await cli(['rollout', 'pause', rolloutId]);
    expect(again.exitCode).toBe(5);
    expect(again.stderr).toContain('cannot be paused');
    expect((await cli(['rollout', 'resume', rolloutId])).stdout).toContain('running');
    expect((await cli(['rollout', 'jump', rolloutId])).exitCode).toBe(2);
    expect((await cli(['rollout', 'abort'])).exitCode).toBe(2);
    const aborted = await cli(['rollout', 'abort', rolloutId]);
    expect(aborted.exitCode).toBe(0);
    expect(aborted.stdout).toMatch(/rolled_back/);
    expect(aborted.stdout).toMatch(/rolled back by revision \d+/);
    const json = JSON.parse((await cli(['rollout', 'status', '--json'])).stdout) as { state: string }[];
    expect(json[0]?.state).toBe('rolled_back');
  });

  it("config set uses a layer's default_rollout, says so, and --rollout none bypasses it", async () => {
    const policy = '{"waves":[{"nodes":1},{"rest":true}],"soak":"1h"}';
    const setDefault = await cli(['config', 'set', 'defaults', `default_rollout=${policy}`]);
    expect(setDefault.exitCode).toBe(0);
    const preview = await cli(['config', 'set', 'defaults', 'celery.timezone=Asia/Tokyo', '--dry-run']);
    expect(preview.stdout).toContain('rollout: the default_rollout of defaults applies');
    const write = await cli(['config', 'set', 'defaults', 'celery.timezone=Asia/Tokyo']);
    expect(write.exitCode).toBe(0);
    const revision = /revision (\d+)/.exec(write.stdout)?.[1];
    expect(write.stdout).toContain(
      `rollout: the default_rollout of defaults applies; follow it with: celeriac rollout status r${revision}`,
    );
    expect((await cli(['rollout', 'abort', `r${revision}`])).exitCode).toBe(0);
    const bypass = await cli(['config', 'set', 'defaults', 'celery.timezone=Asia/Seoul', '--rollout', 'none']);
    expect(bypass.exitCode).toBe(0);
    expect(bypass.stdout).toContain('rollout: none (--rollout none; the default_rollout of defaults is bypassed)');
    const status = JSON.parse((await cli(['rollout', 'status', '--json'])).stdout) as { state: string }[];
    expect(status[0]?.state).toBe('rolled_back');
  });
});
