#!/usr/bin/env node
// Makes docs/console-rollout.png, the README's picture of the console's Rollouts view: starts a
// center with four fake agents reporting health (the setup of test/console-rollout.test.ts), rolls
// out a good change, then a failing one that its gate rolls back, starts a third rollout and
// shoots the view with its waves, gates and the fleet's charts in Debian's Chromium.
//
//   node config-center/scripts/console-screenshot.mjs [out.png]     (about a minute)
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { chromium } from 'playwright-core';
import { register } from 'tsx/esm/api';

register();
const here = path.dirname(fileURLToPath(import.meta.url));
const out = path.resolve(process.argv[2] ?? path.join(here, '../../docs/console-rollout.png'));
const { FAILING_FLAVOUR, startRolloutFleet } = await import('../test/support/rollout-fleet.ts');
const { until } = await import('../test/support/center-harness.ts');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const fleet = await startRolloutFleet({ reportMs: 500 });
const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM ?? '/usr/bin/chromium',
  args: ['--headless', '--no-sandbox', '--disable-gpu'],
});
try {
  const settled = async (id, states) =>
    until(async () => states.includes((await fleet.rollout(id)).state), 60_000, `rollout ${id} ${states}`);
  const write = async (flavour, rollout) => {
    const answer = await fleet.writeFlavour(flavour, rollout);
    if (answer.status !== 200) throw new Error(`write ${flavour}: ${answer.status} ${answer.text}`);
    return `r${answer.revision}`;
  };
  await sleep(15_000);
  const good = await write('mild', {
    waves: [{ nodes: 1 }, { rest: true }],
    soak: '4s',
    gates: { failure_rate: { max: 0.2 } },
  });
  await settled(good, ['succeeded']);
  await sleep(12_000);
  const bad = await write(FAILING_FLAVOUR, {
    waves: [{ nodes: 1, soak: '60s' }, { rest: true }],
    gates: { failure_rate: { max: 0.2 } },
  });
  await settled(bad, ['rolled_back']);
  await sleep(12_000);
  const current = await write('spicy', {
    waves: [{ nodes: 1, soak: '5s' }, { percent: 50 }, { rest: true }],
    soak: '5m',
    gates: {
      failure_rate: { max: 0.2, max_increase: 0.05 },
      runtime_p95_s: { max_ratio: 1.5 },
      throughput: { min_ratio: 0.5 },
    },
  });
  await until(async () => (await fleet.rollout(current)).wave === 1, 60_000, 'wave 2 started');
  await until(async () => (await fleet.rollout(current)).passing_since !== null, 60_000, 'wave 2 soaking');
  await sleep(4_000);

  const page = await browser.newPage({ viewport: { width: 1360, height: 900 }, deviceScaleFactor: 1 });
  await page.goto(`${fleet.center.url}/`);
  await page.getByLabel('Token').fill(fleet.operatorToken);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.getByRole('button', { name: 'Rollouts', exact: true }).click();
  await page.locator(`#rollouts-current article[data-rollout="${current}"] .soak`).waitFor();
  await page.locator('#rollout-charts svg.chart path.line').first().waitFor();
  await page.screenshot({ path: out, fullPage: true });
  console.log(`wrote ${out}`);
} finally {
  await browser.close();
  await fleet.close();
}
