import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, api, startTestCenter, type TestCenter, workerNodeLayer } from './support/center-harness.js';
import { ConsoleBrowser } from './support/console-browser.js';

// The fleet-wide limits an agent reports (docs/fleet-limits.md): kept in the node summary and
// shown in the console's Nodes view under the node's programs.

let center: TestCenter;
let browser: ConsoleBrowser;

const FLEET_LIMITS = [
  {
    limit: 'task:tasks.add',
    rate: 20,
    concurrency: null,
    key: null,
    current_rate: 19,
    tokens: 0.4,
    slots_held: null,
    waiting: 37,
    running: 0,
  },
  {
    limit: 'queue:emails',
    rate: null,
    concurrency: 4,
    key: 'tenant_id',
    current_rate: 0,
    tokens: null,
    slots_held: null,
    waiting: 2,
    running: 3,
  },
];

beforeAll(async () => {
  center = await startTestCenter({ heartbeatMs: 60_000 });
  const node = await api(center.url, 'PUT', '/v1/layers/nodes/web-1', {
    token: ADMIN_TOKEN,
    body: workerNodeLayer(['web']),
  });
  expect(node.status).toBe(201);
  const reported = await api(center.url, 'POST', '/v1/nodes/web-1/status', {
    token: ADMIN_TOKEN,
    body: { applied_revision: node.body.revision, apply_result: 'ok', programs: {}, fleet_limits: FLEET_LIMITS },
  });
  expect(reported.status).toBe(200);
  browser = await ConsoleBrowser.launch('celeriac-console-fleet-', { width: 1400, height: 900 });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await center?.close();
});

describe('fleet limits in the node summary and the console', () => {
  it('keeps what the agent reported, refuses a malformed report, and shows each limit', async () => {
    const summary = await api(center.url, 'GET', '/v1/nodes/web-1', { token: ADMIN_TOKEN });
    expect(summary.body.fleet_limits).toEqual(FLEET_LIMITS);
    const bad = await api(center.url, 'POST', '/v1/nodes/web-1/status', {
      token: ADMIN_TOKEN,
      body: {
        applied_revision: 1,
        apply_result: 'ok',
        programs: {},
        fleet_limits: [{ limit: 'task:x', rate: 'fast' }],
      },
    });
    expect(bad.status).toBe(400);

    const page = await browser.context.newPage();
    const errors: string[] = [];
    page.on('pageerror', (error) => errors.push(error.message));
    await page.goto(`${center.url}/`);
    await page.getByLabel('Token').fill(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Sign in' }).click();
    const add = page.locator('#nodes-table tr[data-node="web-1"] tr[data-fleet-limit="task:tasks.add"]');
    await add.waitFor({ timeout: 20_000 });
    // biome-ignore lint/performance/useDomNodeTextContent: Playwright's Locator.innerText, the rendered text
    expect((await add.innerText()).split('\t').map((s) => s.trim())).toEqual([
      'task:tasks.add',
      '20',
      '—',
      '—',
      '19',
      '0.4',
      '—',
      '37',
      '—',
    ]);
    const emails = page.locator('#nodes-table tr[data-fleet-limit="queue:emails"]');
    // biome-ignore lint/performance/useDomNodeTextContent: Playwright's Locator.innerText, the rendered text
    expect((await emails.innerText()).split('\t').map((s) => s.trim())).toEqual([
      'queue:emails',
      '—',
      '4',
      'tenant_id',
      '0',
      '—',
      '—',
      '2',
      '3',
    ]);
    expect(errors).toEqual([]);
    await page.close();
  }, 60_000);
});
