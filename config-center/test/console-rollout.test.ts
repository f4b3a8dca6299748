import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, api, until } from './support/center-harness.js';
import { ConsoleBrowser } from './support/console-browser.js';
import { FAILING_FLAVOUR, FLEET_NODES, type RolloutFleet, startRolloutFleet } from './support/rollout-fleet.js';

// The console's Rollouts and Health views against a real center, with fake agents posting status
// reports and health summaries as real agents do (support/rollout-fleet.ts).

let fleet: RolloutFleet;
let browser: ConsoleBrowser;
const pageErrors: string[] = [];

async function history(query = '') {
  const answer = await api(fleet.center.url, 'GET', `/v1/health/history?window=3600${query}`, { token: ADMIN_TOKEN });
  expect(answer.status, answer.text).toBe(200);
  return answer.body;
}

async function openAs(token: string, view: 'Rollouts' | 'Health'): Promise<Page> {
  const page = await browser.openSignedIn(fleet.center.url, token, pageErrors);
  await page.getByRole('button', { name: view, exact: true }).click();
  return page;
}

beforeAll(async () => {
  fleet = await startRolloutFleet();
  browser = await ConsoleBrowser.launch('celeriac-console-rollout-', { width: 1400, height: 1000 });
  // A few seconds of health before the first change.
  await until(
    async () => {
      for (const node of FLEET_NODES) if ((await history(`&node=${node}`)).node.points.length < 3) return false;
      return true;
    },
    15_000,
    'three health points of each node',
  );
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await fleet?.close();
});

describe('health history API', () => {
  it('aggregates the fleet, serves one node with node=, selects by label, refuses bad parameters', async () => {
    const all = await history();
    expect(all.scope).toBe('replica');
    expect(all.step_s).toBe(1);
    expect(all.nodes).toEqual(FLEET_NODES);
    const last = all.fleet.at(-2);
    expect(last.tasks_per_s).toBeGreaterThan(40);
    expect(last.failure_ratio).toBeGreaterThan(0);
    expect(last.failure_ratio).toBeLessThan(0.05);
    expect(last.runtime_p95_s).toBeGreaterThan(0.05);
    const one = await history('&node=web-2');
    expect(one.node.node).toBe('web-2');
    expect(one.node.points.length).toBeGreaterThanOrEqual(3);
    expect((await history('&selector=zone=eu')).nodes).toEqual(['web-1', 'web-2']);
    const viewer = await api(fleet.center.url, 'GET', '/v1/health/history', { token: fleet.viewerToken });
    expect(viewer.status).toBe(200);
    const agent = await api(fleet.center.url, 'POST', '/v1/tokens', {
      token: ADMIN_TOKEN,
      body: { role: 'agent', node: 'web-1' },
    });
    const asAgent = await api(fleet.center.url, 'GET', '/v1/health/history', { token: agent.body.token });
    expect(asAgent.status).toBe(403);
    expect((await api(fleet.center.url, 'GET', '/v1/health/history')).status).toBe(401);
    for (const bad of ['?window=0', '?window=99999', '?window=abc', '?node=..x', '?selector=zone%3D%3D']) {
      const answer = await api(fleet.center.url, 'GET', `/v1/health/history${bad}`, { token: ADMIN_TOKEN });
      expect(answer.status, bad).toBe(400);
    }
    const unknown = await api(fleet.center.url, 'GET', '/v1/health/history?node=nobody', { token: ADMIN_TOKEN });
    expect(unknown.status).toBe(404);
    const openapi = await api(fleet.center.url, 'GET', '/v1/openapi.json');
    expect(openapi.body.paths['/v1/health/history'].get.responses['200']).toBeDefined();
    expect(openapi.body.components.schemas.HealthHistory.properties.fleet).toBeDefined();
  });
});

describe('console rollout view and health charts', () => {
  it('shows the waves and their states, and pause, resume and promote drive the API', async () => {
    const write = await fleet.writeFlavour('mild', {
      waves: [{ nodes: 1 }, { percent: 50 }, { rest: true }],
      soak: '60s',
      gates: { failure_rate: { max: 0.2 }, runtime_p95_s: { max: 1 } },
    });
    expect(write.status, write.text).toBe(200);
    const id = `r${write.revision}`;
    const page = await openAs(fleet.operatorToken, 'Rollouts');
    const panel = page.locator(`#rollouts-current article[data-rollout="${id}"]`);
    await panel.waitFor();
    const waves = panel.locator('li.wave');
    await expect.poll(() => waves.count()).toBe(3);
    expect(await waves.nth(0).locator('.node-chip').allTextContents()).toEqual(['web-1 ✓']);
    expect(await waves.nth(1).locator('.node-chip').allTextContents()).toEqual(['web-2', 'web-3']);
    expect(await waves.nth(2).locator('.node-chip').allTextContents()).toEqual(['web-4']);
    expect(await waves.nth(1).getAttribute('data-state')).toBe('pending');
    // Wave 1 soaks once web-1 applied and its gates pass: the countdown and the gate values show.
    await panel.locator('li.wave[data-wave="1"][data-state="soaking"] .soak', { hasText: /s left/ }).waitFor();
    const failureGate = panel.locator('tr[data-gate="failure_rate"]');
    await failureGate.locator('.badge', { hasText: 'pass' }).waitFor();
    expect(await failureGate.locator('td').nth(3).textContent()).toBe('0.2');

    await panel.getByRole('button', { name: 'Pause' }).click();
    await until(async () => (await fleet.rollout(id)).state === 'paused', 10_000, 'the rollout paused');
    await panel.locator('li.wave[data-wave="1"][data-state="paused"]').waitFor();
    await panel.getByRole('button', { name: 'Resume' }).click();
    await until(async () => (await fleet.rollout(id)).state === 'running', 10_000, 'the rollout resumed');

    await panel.getByRole('button', { name: 'Promote now' }).click();
    await until(async () => (await fleet.rollout(id)).wave === 1, 10_000, 'wave 2 started');
    await panel.locator('li.wave[data-wave="1"][data-state="promoted"]').waitFor();
    await panel.locator('li.wave[data-wave="2"][data-state="soaking"]').waitFor();
    await panel.getByRole('button', { name: 'Promote now' }).click();
    await until(async () => (await fleet.rollout(id)).wave === 2, 10_000, 'wave 3 started');
    await panel.getByRole('button', { name: 'Promote now' }).click();
    await until(async () => (await fleet.rollout(id)).state === 'succeeded', 10_000, 'the rollout succeeded');
    await page.locator(`#rollouts-past details[data-rollout="${id}"]`).waitFor();

    // A viewer sees the rollout but no command.
    const viewer = await openAs(fleet.viewerToken, 'Rollouts');
    await viewer.locator(`#rollouts-past details[data-rollout="${id}"]`).waitFor();
    await viewer.locator('#rollouts-read-only').waitFor();
    expect(await viewer.locator('button[data-command]').count()).toBe(0);
    await viewer.close();
    await page.close();
  }, 45_000);

  it('charts tasks/s, failure rate and p95 with revision markers, a rollback marked with its gate', async () => {
    const good = (await history()).markers.at(-1);
    const write = await fleet.writeFlavour(FAILING_FLAVOUR, {
      waves: [{ nodes: 1, soak: '60s' }, { rest: true }],
      gates: { failure_rate: { max: 0.2 } },
    });
    expect(write.status, write.text).toBe(200);
    const id = `r${write.revision}`;
    await until(async () => (await fleet.rollout(id)).state === 'rolled_back', 15_000, 'the bad change rolled back');
    const rollbackRevision = (await fleet.rollout(id)).rollback_revision as number;
    const markers = (await history()).markers;
    const rollback = markers.find((m: { revision: number }) => m.revision === rollbackRevision);
    expect(rollback.rollback.rollout).toBe(id);
    expect(rollback.rollback.gates.map((g: { gate: string }) => g.gate)).toEqual(['failure_rate']);

    const page = await openAs(fleet.operatorToken, 'Health');
    const fleetCharts = page.locator('#health-fleet [data-charts^="fleet"]');
    for (const metric of ['tasks_per_s', 'failure_ratio', 'runtime_p95_s']) {
      const chart = fleetCharts.locator(`svg.chart-${metric}`);
      await chart.locator('path.line').waitFor();
      // The live stream adds a point a second; a step with no task (workers restarting in the
      // rollback, on a loaded machine) has none for failure ratio and p95, so wait for the fifth.
      await until(
        async () => Number(await chart.getAttribute('data-points')) >= 5,
        15_000,
        `five points on the fleet ${metric} chart`,
      );
      expect(await chart.locator('text.axis-label').allTextContents()).toContain('time (UTC)');
    }
    const tasks = fleetCharts.locator('svg.chart-tasks_per_s');
    expect(await tasks.locator('title').first().textContent()).toBe('Tasks/s, fleet (4 nodes)');
    expect(await tasks.locator('.points circle title').first().textContent()).toMatch(
      /^\d\d:\d\d:\d\d UTC: [\d.]+\/s$/,
    );
    await tasks.locator(`g.marker[data-revision="${good.revision}"]:not(.rollback)`).waitFor({ state: 'attached' });
    const rollbackMarker = tasks.locator(`g.marker.rollback[data-revision="${rollbackRevision}"]`);
    await rollbackMarker.waitFor({ state: 'attached' });
    expect(await rollbackMarker.locator('text').textContent()).toBe(`r${rollbackRevision}`);
    expect(await rollbackMarker.locator('title').textContent()).toMatch(
      /rollback by r\d+: gate failure_rate measured 0\.5\d* against bound 0\.2/,
    );
    // The failure of the bad wave shows in the fleet's failure rate.
    const failure = (await history()).fleet.map((p: { failure_ratio: number }) => p.failure_ratio);
    expect(Math.max(...failure)).toBeGreaterThan(0.05);

    // One node's own charts, with the markers of the revisions that changed it.
    await page.getByLabel('Node', { exact: true }).selectOption('web-1');
    const nodeTasks = page.locator('#health-node-charts [data-charts="node web-1"] svg.chart-tasks_per_s');
    await nodeTasks.locator('path.line').waitFor();
    await nodeTasks.locator(`g.marker.rollback[data-revision="${rollbackRevision}"]`).waitFor({ state: 'attached' });

    // The rolled-back rollout among the past ones: its first wave rolled back, the second never reached.
    await page.getByRole('button', { name: 'Rollouts', exact: true }).click();
    const past = page.locator(`#rollouts-past details[data-rollout="${id}"]`);
    await past.locator(':scope > summary').click();
    await past.locator('li.wave[data-wave="1"][data-state="rolled_back"]').waitFor();
    expect(await past.locator('li.wave[data-wave="2"]').getAttribute('data-state')).toBe('skipped');
    await past.locator('tr[data-gate="failure_rate"] .badge', { hasText: 'fail' }).waitFor();
    expect(pageErrors).toEqual([]);
    await page.close();
  }, 30_000);
});
