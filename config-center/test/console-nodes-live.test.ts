import type { Locator } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, api, startTestCenter, type TestCenter, until } from './support/center-harness.js';
import { ConsoleBrowser, recordRequests, signIn, watchStreamStates } from './support/console-browser.js';

// The console's Nodes view is live: the center pushes the node list on GET /v1/nodes/stream when a
// node reports or turns stale, and the page reconnects after the center drops the stream. It
// makes no request in between.

let center: TestCenter;
let browser: ConsoleBrowser;
let viewerToken: string;
let agentToken: string;
const pageErrors: string[] = [];

/** The text as a person sees it: rendered, table cells separated by tabs. */
function shown(locator: Locator): Promise<string> {
  // biome-ignore lint/performance/useDomNodeTextContent: Playwright's Locator.innerText, the rendered text with cell separators
  return locator.innerText();
}

/** Reports through the API as the agent of web-7 does: its worker program with one probed worker. */
async function report(extra: { active: number; reserved: number; state?: string; heartbeatMs?: number }) {
  const body = {
    applied_revision: null,
    apply_result: 'ok',
    message: `active ${extra.active}`,
    heartbeat_ms: extra.heartbeatMs ?? 60_000,
    programs: {
      workers: {
        kind: 'celeriac-worker',
        state: extra.state ?? 'running',
        pids: [5150],
        restarts: 0,
        config_hash: 'feedface00000000',
        last_exit: null,
        workers: { 'celery@web-7': { responding: true, active: extra.active, reserved: extra.reserved } },
      },
    },
  };
  const posted = await api(center.url, 'POST', '/v1/nodes/web-7/status', { token: agentToken, body });
  expect(posted.status, posted.text).toBe(200);
}

beforeAll(async () => {
  center = await startTestCenter({ heartbeatMs: 60_000 });
  const token = async (role: string, node?: string) => {
    const created = await api(center.url, 'POST', '/v1/tokens', { token: ADMIN_TOKEN, body: { role, node } });
    expect(created.status).toBe(201);
    return created.body.token as string;
  };
  viewerToken = await token('viewer');
  agentToken = await token('agent', 'web-7');
  browser = await ConsoleBrowser.launch('celeriac-console-nodes-live-', { width: 1400, height: 1000 });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await center?.close();
});

describe('console Nodes view', () => {
  it('shows reports and a node turning stale without a poll, and reconnects after the center drops it', async () => {
    const page = await browser.newPage(pageErrors);
    const requests = recordRequests(page);
    await page.goto(`${center.url}/`);
    await signIn(page, viewerToken);
    const status = page.locator('#nodes-updated');
    await page.locator('#nodes-updated[data-stream="live"]').waitFor();
    expect(await shown(page.locator('#nodes-list'))).toContain('No node yet');

    // A report through the API (as the agent sends it): the node, its worker's counts show, no request.
    let mark = requests.length;
    let sent = Date.now();
    await report({ active: 3, reserved: 5 });
    const row = page.locator('#nodes-table tr[data-node="web-7"]');
    const worker = row.locator('[data-worker="celery@web-7"]');
    await worker.getByText('celery@web-7: 3 active, 5 reserved').waitFor();
    const firstShownMs = Date.now() - sent;
    expect(await shown(row.locator('tr[data-program="workers"]'))).toMatch(/celeriac-worker\s+running\s+5150/);
    expect(requests.slice(mark)).toEqual([]);

    // Another node reports; then web-7's next report rebuilds web-7's row only (web-8's is the same element).
    const other = await api(center.url, 'POST', '/v1/nodes/web-8/status', {
      token: ADMIN_TOKEN,
      body: { applied_revision: null, apply_result: 'ok', heartbeat_ms: 60_000, programs: {} },
    });
    expect(other.status).toBe(200);
    await page.locator('#nodes-table tr[data-node="web-8"]').waitFor();
    await page.evaluate(`document.querySelector('#nodes-table tr[data-node="web-8"]').dataset.kept = 'yes'`);
    mark = requests.length;
    await report({ active: 0, reserved: 1, state: 'backoff' });
    await worker.getByText('celery@web-7: 0 active, 1 reserved').waitFor();
    expect(await shown(row.locator('tr[data-program="workers"]'))).toMatch(/backoff/);
    expect(await status.textContent()).toMatch(/^Live, last change/);
    expect(await page.locator('#nodes-table tr[data-node="web-8"][data-kept="yes"]').count()).toBe(1);
    expect(
      await page
        .locator('#nodes-table > tbody > tr')
        .evaluateAll((rows) => rows.map((r) => r.getAttribute('data-node'))),
    ).toEqual(['web-7', 'web-8']);

    // A 300 ms heartbeat, then silence: stale 1 s (the floor) later, pushed with no report and no request.
    await report({ active: 1, reserved: 0, heartbeatMs: 300 });
    await worker.getByText('celery@web-7: 1 active, 0 reserved').waitFor();
    sent = Date.now();
    await row
      .locator('td', { hasText: /^stale$/ })
      .first()
      .waitFor();
    const staleShownMs = Date.now() - sent;
    expect(await shown(page.locator('#nodes-table caption'))).toBe('2 node(s): 1 pending, 1 stale');
    expect(requests.slice(mark)).toEqual([]);

    // The center drops every connection: the page reconnects and is live again.
    const streams = () => requests.filter((r) => r.startsWith('GET /v1/nodes/stream')).length;
    const before = streams();
    expect(before).toBe(1);
    const streamStates = await watchStreamStates(page, 'nodes-updated');
    center.running.server.server.closeAllConnections();
    await until(() => streams() > before, 15_000, 'the page to reconnect its node stream');
    await page.locator('#nodes-updated[data-stream="live"]').waitFor();
    const states = await streamStates();
    expect(states).toContain('reconnecting');
    expect(states.at(-1)).toBe('live');

    // A report after the drop arrives on the new stream.
    mark = requests.length;
    await report({ active: 7, reserved: 2 });
    await worker.getByText('celery@web-7: 7 active, 2 reserved').waitFor();
    expect(await shown(page.locator('#nodes-table caption'))).toBe('2 node(s): 2 pending');
    expect(requests.slice(mark)).toEqual([]);
    // Nothing but the two streams the whole time: the view never polled GET /v1/nodes.
    expect(requests.filter((r) => /\/v1\/nodes/.test(r) && !r.startsWith('GET /v1/nodes/stream'))).toEqual([]);
    console.info(`console-nodes-live: report shown after ${firstShownMs} ms, stale after ${staleShownMs} ms`);

    // Leaving the view closes the stream.
    const failed: string[] = [];
    page.on('requestfailed', (request) => failed.push(new URL(request.url()).pathname));
    await page.getByRole('button', { name: 'History', exact: true }).click();
    await until(() => failed.includes('/v1/nodes/stream'), 10_000, 'the node stream closed');
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 60_000);
});
