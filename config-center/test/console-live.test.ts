import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, api, until } from './support/center-harness.js';
import { ConsoleBrowser, recordRequests, watchStreamStates } from './support/console-browser.js';
import { type RolloutFleet, startRolloutFleet } from './support/rollout-fleet.js';

// The console's Rollouts and Health views are live: the center pushes changes on server-sent-event
// streams (GET /v1/rollouts/stream, /v1/health/stream) that the page reads with fetch(), and the
// page reconnects after the center drops them. No view polls.

let fleet: RolloutFleet;
let browser: ConsoleBrowser;
const pageErrors: string[] = [];

/** Requests to the rollout or health API other than the two streams: what a polling view would make. */
const polls = (requests: readonly string[]) =>
  requests.filter((r) => /\/v1\/(rollouts|health)/.test(r) && !/\/v1\/(rollouts|health)\/stream/.test(r));

async function command(id: string, name: string): Promise<void> {
  const answer = await api(fleet.center.url, 'POST', `/v1/rollouts/${id}/${name}`, { token: fleet.operatorToken });
  expect(answer.status, answer.text).toBe(200);
}

/** Reads the start of an event stream answer: its status, type and first event. */
async function firstEvent(path: string, token?: string) {
  const controller = new AbortController();
  const response = await fetch(`${fleet.center.url}${path}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
    signal: controller.signal,
  });
  if (!response.ok || !response.body) {
    const text = await response.text();
    return { status: response.status, type: response.headers.get('content-type'), text, event: undefined };
  }
  const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
  let text = '';
  while (!/\ndata: .*\n\n/.test(text)) {
    const { value, done } = await reader.read();
    if (done) break;
    text += value;
  }
  controller.abort();
  const name = /event: (\S+)/.exec(text)?.[1];
  const data = /\ndata: (.*)\n/.exec(text)?.[1];
  return {
    status: response.status,
    type: response.headers.get('content-type'),
    text,
    event: { name, data: data ? JSON.parse(data) : undefined },
  };
}

beforeAll(async () => {
  fleet = await startRolloutFleet();
  browser = await ConsoleBrowser.launch('celeriac-console-live-', { width: 1400, height: 1000 });
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await fleet?.close();
});

describe('rollout and health streams', () => {
  it('answer a viewer with text/event-stream and the state at once; refuse a missing token and bad parameters', async () => {
    const rollouts = await firstEvent('/v1/rollouts/stream', fleet.viewerToken);
    expect(rollouts.status).toBe(200);
    expect(rollouts.type).toMatch(/^text\/event-stream/);
    expect(rollouts.event?.name).toBe('rollouts');
    expect(rollouts.event?.data).toMatchObject({ version: expect.any(Number), driving: true, rollouts: [] });
    const health = await firstEvent('/v1/health/stream?window=600', fleet.viewerToken);
    expect(health.status).toBe(200);
    expect(health.event?.name).toBe('history');
    expect(health.event?.data).toMatchObject({ window_s: 600, scope: 'replica' });
    expect((await firstEvent('/v1/rollouts/stream')).status).toBe(401);
    expect((await firstEvent('/v1/health/stream')).status).toBe(401);
    expect((await firstEvent('/v1/health/stream?window=0', ADMIN_TOKEN)).status).toBe(400);
    expect((await firstEvent('/v1/health/stream?node=nobody', ADMIN_TOKEN)).status).toBe(404);
  });
});

describe('console live views', () => {
  it('shows a pause and a promote sent through the API without a reload or a poll, and reconnects after a drop', async () => {
    const write = await fleet.writeFlavour('calm', {
      waves: [{ nodes: 1 }, { rest: true }],
      soak: '120s',
      gates: { failure_rate: { max: 0.2 } },
    });
    expect(write.status, write.text).toBe(200);
    const id = `r${write.revision}`;
    const page = await browser.openSignedIn(fleet.center.url, fleet.operatorToken, pageErrors);
    const requests = recordRequests(page);
    await page.getByRole('button', { name: 'Rollouts', exact: true }).click();
    const status = page.locator('#rollouts-updated');
    await page.locator('#rollouts-updated[data-stream="live"]').waitFor();
    const panel = page.locator(`#rollouts-current article[data-rollout="${id}"]`);
    const soak = panel.locator('li.wave[data-wave="1"][data-state="soaking"] .soak', { hasText: /s left/ });
    await soak.waitFor();
    // The countdown ticks in the page between pushes.
    const before = await soak.textContent();
    await expect.poll(() => soak.textContent(), { timeout: 5000 }).not.toBe(before);

    // A pause through the API (not the page): it shows, and the page asked for nothing meanwhile.
    let mark = requests.length;
    let sent = Date.now();
    await command(id, 'pause');
    await panel.locator('li.wave[data-wave="1"][data-state="paused"]').waitFor();
    const pauseShownMs = Date.now() - sent;
    expect(polls(requests.slice(mark))).toEqual([]);
    expect(requests.slice(mark)).toEqual([]);

    // The center drops every connection: the page reconnects (a new stream request) and is live again.
    const streamsBefore = requests.filter((r) => r.startsWith('GET /v1/rollouts/stream')).length;
    // Every state the view shows from now on.
    const streamStates = await watchStreamStates(page, 'rollouts-updated');
    fleet.center.running.server.server.closeAllConnections();
    await until(
      () => requests.filter((r) => r.startsWith('GET /v1/rollouts/stream')).length > streamsBefore,
      15_000,
      'the page to reconnect its rollout stream',
    );
    await page.locator('#rollouts-updated[data-stream="live"]').waitFor();
    // The view said so meanwhile.
    const states = await streamStates();
    expect(states).toContain('reconnecting');
    expect(states.at(-1)).toBe('live');

    // A change after the drop arrives on the new stream, again without a poll.
    await command(id, 'resume');
    await panel.locator('li.wave[data-wave="1"][data-state="soaking"]').waitFor();
    mark = requests.length;
    sent = Date.now();
    await command(id, 'promote');
    await panel.locator('li.wave[data-wave="2"][data-state="soaking"]').waitFor();
    const promoteShownMs = Date.now() - sent;
    expect(polls(requests.slice(mark))).toEqual([]);
    expect(await status.textContent()).toMatch(/^Live, last change/);
    console.info(`console-live: pause shown after ${pauseShownMs} ms, promote after ${promoteShownMs} ms`);

    // Leaving the view closes both streams: the page holds no connection for a hidden view. The
    // health stream may still be waiting to reconnect after the drop: both are open first.
    await page.locator('#rollouts-updated[data-stream="live"][data-health-stream="live"]').waitFor();
    const failed: string[] = [];
    page.on('requestfailed', (request) => failed.push(new URL(request.url()).pathname));
    await page.getByRole('button', { name: 'Nodes', exact: true }).click();
    await until(
      () => failed.includes('/v1/rollouts/stream') && failed.includes('/v1/health/stream'),
      10_000,
      'both streams closed',
    );
    await command(id, 'abort');
    await until(async () => (await fleet.rollout(id)).state === 'rolled_back', 15_000, 'the rollout rolled back');
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 60_000);

  it('pushes new health points to the Health view without a poll', async () => {
    const page = await browser.openSignedIn(fleet.center.url, fleet.viewerToken, pageErrors);
    const requests = recordRequests(page);
    await page.getByRole('button', { name: 'Health', exact: true }).click();
    await page.locator('#health-updated[data-stream="live"]').waitFor();
    const tasks = page.locator('#health-fleet svg.chart-tasks_per_s');
    await tasks.locator('path.line').waitFor();
    const points = Number(await tasks.getAttribute('data-points'));
    // One point per node a second (healthStepS 1): the chart grows as the agents report.
    await expect
      .poll(async () => Number(await page.locator('#health-fleet svg.chart-tasks_per_s').getAttribute('data-points')), {
        timeout: 10_000,
      })
      .toBeGreaterThan(points);
    expect(polls(requests)).toEqual([]);
    expect(requests.filter((r) => r.startsWith('GET /v1/health/stream'))).toHaveLength(1);
    // Choosing a node opens a stream of its own and closes the fleet's.
    await page.getByLabel('Node', { exact: true }).selectOption('web-2');
    await page.locator('#health-node-charts [data-charts="node web-2"] svg.chart-tasks_per_s path.line').waitFor();
    expect(requests.filter((r) => r.startsWith('GET /v1/health/stream')).at(-1)).toMatch(/node=web-2/);
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 30_000);
});
