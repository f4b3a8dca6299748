import type { Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ADMIN_TOKEN, api, startTestCenter, type TestCenter } from './support/center-harness.js';
import { ConsoleBrowser } from './support/console-browser.js';

// Token management in the console (admins only), in Debian's chromium like console.test.ts.

let center: TestCenter;
let browser: ConsoleBrowser;
const pageErrors: string[] = [];

function openSignedIn(token: string): Promise<Page> {
  return browser.openSignedIn(center.url, token, pageErrors);
}

beforeAll(async () => {
  center = await startTestCenter();
  browser = await ConsoleBrowser.launch('celeriac-console-tokens-', { width: 1300, height: 900 });
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await center?.close();
});

describe('console tokens view', () => {
  it('lets an admin create a token (secret shown once), list tokens and revoke one', { timeout: 90_000 }, async () => {
    const page = await openSignedIn(ADMIN_TOKEN);
    await page.getByRole('button', { name: 'Tokens', exact: true }).click();
    await page.locator('#tokens-table caption', { hasText: '1 token(s)' }).waitFor();

    await page.getByLabel('Name', { exact: true }).fill('agent of web-7');
    await page.getByLabel('Role', { exact: true }).selectOption('agent');
    await page.getByLabel('Bound node (agent role)').fill('web-7');
    await page.getByRole('button', { name: 'Create token' }).click();
    const secret = await page.locator('#new-token').textContent();
    expect(secret).toMatch(/^cel_/);
    await page.locator('#tokens-table caption', { hasText: '2 token(s)' }).waitFor();
    const row = page.locator('#tokens-table tbody tr', { hasText: 'agent of web-7' });
    expect(await row.textContent()).toContain('web-7');
    // The secret works as an agent token for its node, and is not shown in the list.
    expect((await api(center.url, 'GET', '/v1/nodes/web-7/config', { token: secret as string })).status).toBe(200);
    expect(await page.locator('#tokens-list').textContent()).not.toContain(secret as string);

    // An agent token without a node is refused with the center's reason.
    await page.getByLabel('Role', { exact: true }).selectOption('agent');
    await page.getByRole('button', { name: 'Create token' }).click();
    await page.locator('#error', { hasText: 'CENTER_VALIDATION_FAILED' }).waitFor();

    // Revoke asks for a confirmation; then the token is refused.
    await page.getByRole('button', { name: 'Revoke agent of web-7' }).click();
    await page.getByRole('button', { name: 'Confirm revoking agent of web-7' }).click();
    await page.locator('#tokens-status', { hasText: 'Revoked agent of web-7 (agent)' }).waitFor();
    await page.locator('#tokens-table caption', { hasText: '1 token(s)' }).waitFor();
    expect((await api(center.url, 'GET', '/v1/nodes/web-7/config', { token: secret as string })).status).toBe(401);
    // The admin's own token cannot be revoked from its session.
    expect(await page.locator('#tokens-table tbody tr').textContent()).toContain('this session');
    await page.screenshot({ path: '/tmp/celeriac-console-tokens.png', fullPage: true });
    await page.close();
    expect(pageErrors).toEqual([]);
  });

  it('shows no Tokens tab to an operator', { timeout: 60_000 }, async () => {
    const created = await api(center.url, 'POST', '/v1/tokens', {
      token: ADMIN_TOKEN,
      body: { role: 'operator', name: 'ops' },
    });
    const page = await openSignedIn(created.body.token);
    expect(await page.getByRole('button', { name: 'Tokens', exact: true }).isHidden()).toBe(true);
    await page.close();
  });
});
