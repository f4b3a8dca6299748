import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Locator, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  ADMIN_TOKEN,
  api,
  startTestCenter,
  type TestCenter,
  until,
  workerNodeLayer,
} from './support/center-harness.js';
import { ConsoleBrowser, signIn } from './support/console-browser.js';

const CONSOLE_DIR = path.resolve(import.meta.dirname, '../console');

const ROOT = path.resolve(import.meta.dirname, '../..');
/** On top of the common flags (support/console-browser.ts): nothing reaches out on its own. */
const EXTRA_CHROMIUM_ARGS = ['--disable-quic', '--disable-component-update', '--disable-sync'];
const RATE_PATH = 'celery.task_annotations["tasks.add"].rate_limit';

let center: TestCenter;
let browser: ConsoleBrowser;
let operatorToken: string;
let viewerToken: string;
const pageErrors: string[] = [];

async function createToken(role: string, name: string): Promise<string> {
  const created = await api(center.url, 'POST', '/v1/tokens', { token: ADMIN_TOKEN, body: { role, name } });
  expect(created.status).toBe(201);
  return created.body.token as string;
}

async function reportStatus(body: Record<string, unknown>): Promise<void> {
  const reported = await api(center.url, 'POST', '/v1/nodes/web-1/status', { token: ADMIN_TOKEN, body });
  expect(reported.status).toBe(200);
}

const workers = (state: string, restarts: number) => ({
  kind: 'celeriac-worker',
  state,
  pids: [4242, 4243],
  restarts,
  config_hash: 'c0ffee1234567890',
  last_exit: { code: 1, signal: null, at: '2026-11-24T22:00:00.000Z' },
});

/** The text as a person sees it: rendered, table cells separated by tabs. */
function shown(locator: Locator): Promise<string> {
  // biome-ignore lint/performance/useDomNodeTextContent: Playwright's Locator.innerText, the rendered text with cell separators
  return locator.innerText();
}

async function openPage(): Promise<Page> {
  const page = await browser.newPage(pageErrors);
  page.on('console', (message) => {
    if (message.type() === 'error' && !/Failed to load resource/.test(message.text())) pageErrors.push(message.text());
  });
  await page.goto(`${center.url}/`);
  return page;
}

async function openDefaults(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Layers', exact: true }).click();
  await page.locator('#layer-list button', { hasText: 'defaults' }).click();
  await page.locator('#editor-title', { hasText: 'defaults' }).waitFor();
  // The title may still be the last open layer's: wait until the layer has loaded.
  await page.locator('#editor[aria-busy="false"]').waitFor({ state: 'attached' });
}

/** Edits the rate limit of tasks.add in the editor's JSON text and saves with a message. */
async function saveRateLimit(page: Page, rate: string, message: string): Promise<void> {
  const area = page.getByLabel('Layer document (JSON)');
  const doc = JSON.parse(await area.inputValue());
  doc.celery.task_annotations['tasks.add'].rate_limit = rate;
  await area.fill(JSON.stringify(doc, null, 2));
  await page.getByLabel('Change message').fill(message);
  await page.getByRole('button', { name: 'Save' }).click();
}

/** Confirms the impact preview that Save shows first. */
async function confirmSave(page: Page): Promise<void> {
  await page.getByRole('button', { name: 'Confirm save' }).click();
}

async function layerDocument(layer: string) {
  return (await api(center.url, 'GET', `/v1/layers/${layer}`, { token: ADMIN_TOKEN })).body;
}

beforeAll(async () => {
  center = await startTestCenter({ heartbeatMs: 60_000 });
  operatorToken = await createToken('operator', 'ops-alice');
  viewerToken = await createToken('viewer', 'viewer-bob');
  const defaults = await api(center.url, 'PUT', '/v1/layers/defaults', {
    token: ADMIN_TOKEN,
    headers: { 'x-change-message': 'seed defaults' },
    body: {
      celery: {
        broker_url: 'redis://:s3cret-pw@10.0.0.5:6379/0',
        task_annotations: { 'tasks.add': { rate_limit: '10/m' } },
      },
    },
  });
  expect(defaults.status).toBe(201);
  const node = await api(center.url, 'PUT', '/v1/layers/nodes/web-1', {
    token: ADMIN_TOKEN,
    body: workerNodeLayer(['web']),
  });
  expect(node.status).toBe(201);
  await reportStatus({
    applied_revision: node.body.revision,
    apply_result: 'ok',
    programs: { workers: workers('running', 1) },
    agent: { pid: 777, started_at: '2026-11-24T21:00:00.000Z', version: '0.1.0' },
  });

  browser = await ConsoleBrowser.launch(
    'celeriac-console-chromium-',
    { width: 1400, height: 900 },
    EXTRA_CHROMIUM_ARGS,
  );
}, 120_000);

afterAll(async () => {
  await browser?.close();
  await center?.close();
});

describe('web console in chromium', () => {
  it('is served without a token, its scripts and stylesheet as the files they are, under a strict policy', async () => {
    const assets = new Set<string>();
    for (const route of ['/', '/console']) {
      const page = await api(center.url, 'GET', route);
      expect(page.status).toBe(200);
      expect(page.headers.get('content-type')).toMatch(/^text\/html/);
      const policy = page.headers.get('content-security-policy') ?? '';
      expect(policy).toContain("default-src 'none'");
      expect(policy).toContain("script-src 'self'");
      expect(page.text).toBe(readFileSync(path.join(CONSOLE_DIR, 'index.html'), 'utf8'));
      expect(page.text).toContain('<title>Celeriac config center</title>');
      // Nothing inline runs, and nothing comes from another origin.
      expect(page.text).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
      expect(page.text).not.toMatch(/<style/);
      for (const match of page.text.matchAll(/<(?:script|link)[^>]+(?:src|href)="([^"]+)"/g)) {
        const url = match[1] as string;
        if (url.startsWith('data:')) continue;
        expect(url).toMatch(/^\/console\/assets\/[a-z-]+\.(?:js|css)$/);
        assets.add(url);
      }
    }
    // main.js imports the other modules; every file is served byte for byte as it is on disk.
    const files = readdirSync(CONSOLE_DIR).filter((name) => /\.(?:js|css)$/.test(name));
    expect(files).toEqual(expect.arrayContaining(['main.js', 'api.js', 'console.css']));
    for (const name of files) {
      const asset = await api(center.url, 'GET', `/console/assets/${name}`);
      expect(asset.status, name).toBe(200);
      expect(asset.headers.get('content-type')).toMatch(name.endsWith('.js') ? /^text\/javascript/ : /^text\/css/);
      expect(asset.text).toBe(readFileSync(path.join(CONSOLE_DIR, name), 'utf8'));
      expect(readFileSync(path.join(CONSOLE_DIR, name), 'utf8').split('\n').length).toBeLessThan(450);
    }
    expect([...assets].sort()).toEqual(['/console/assets/console.css', '/console/assets/main.js']);
    expect((await api(center.url, 'GET', '/console/assets/..%2Fpackage.json')).status).toBe(404);
    expect((await api(center.url, 'GET', '/console/assets/index.html')).status).toBe(404);
    expect((await api(center.url, 'GET', '/v1/whoami')).status).toBe(401);
    const me = await api(center.url, 'GET', '/v1/whoami', { token: viewerToken });
    expect(me.body).toMatchObject({ name: 'viewer-bob', role: 'viewer', secrets_masked: true });
    expect(me.body.may).toEqual({ read_config: true, write_config: false, read_nodes: true, manage_tokens: false });
  });

  it('signs in an operator, shows nodes live, edits a layer, shows history, issues, conflicts and rolls back', {
    timeout: 120_000,
  }, async () => {
    const page = await openPage();

    // A wrong token is refused in plain words, and nothing is stored.
    await page.getByLabel('Token').fill('cel_not-a-real-token');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#sign-in-error', { hasText: 'CENTER_UNAUTHORIZED' }).waitFor();
    expect(
      await page.evaluate(
        () => (globalThis as unknown as { sessionStorage: { length: number } }).sessionStorage.length,
      ),
    ).toBe(0);

    await signIn(page, operatorToken);
    expect(await shown(page.locator('#who'))).toContain('ops-alice (operator)');

    // Nodes: the node, its revisions and its programs.
    const row = page.locator('#nodes-table tr[data-node="web-1"]');
    await row.waitFor();
    const nodes = (await api(center.url, 'GET', '/v1/nodes', { token: ADMIN_TOKEN })).body.nodes;
    const desired = nodes.find((n: { node: string }) => n.node === 'web-1').desired_revision as number;
    const program = row.locator('tr[data-program="workers"]');
    expect(await shown(row)).toContain('in sync');
    expect(await shown(row)).toContain(`r${desired}`);
    expect(await shown(row)).toContain('groups: web');
    expect(await shown(row)).toContain('agent 0.1.0, pid 777');
    expect(await shown(page.locator('#nodes-table caption'))).toBe('1 node(s): 1 in sync');
    expect(await shown(program)).toMatch(
      /celeriac-worker\s+running\s+4242, 4243\s+1\s+code 1 at 2026-11-24 22:00:00 UTC/,
    );

    // Auto-refresh: a new status shows up without touching the page.
    await reportStatus({
      applied_revision: desired,
      apply_result: 'failed',
      message: 'workers not ready in 30s',
      programs: { workers: workers('backoff', 3) },
    });
    await row.locator('td', { hasText: 'workers not ready in 30s' }).waitFor({ timeout: 15_000 });
    expect(await shown(program)).toMatch(/backoff\s+4242, 4243\s+3/);
    expect(await shown(row)).toContain('failed');

    // Layers: open defaults, change the rate limit, send with If-Match and a message.
    await openDefaults(page);
    expect(await page.getByLabel('Layer document (JSON)').inputValue()).toContain('s3cret-pw');
    await saveRateLimit(page, '20/m', 'raise the add rate');
    // Save shows the impact preview first, and writes nothing before Confirm.
    const preview = page.locator('#preview');
    await preview.waitFor();
    expect(await shown(page.locator('#preview-summary'))).toBe(
      '1 node change, 1 program restart; at most 1 process (4 worker slots) out of service at once (rolling: replacements are ready before the old processes drain).',
    );
    expect(await shown(preview.locator('tr[data-node="web-1"][data-program="workers"]'))).toMatch(
      /web-1\s+workers\s+restart\s+1 process \(4 worker slots\)\s+task_annotations changed \(tasks.add rate_limit 10\/m → 20\/m\)/,
    );
    await page.screenshot({ path: '/tmp/celeriac-console-preview.png', fullPage: true });
    expect((await layerDocument('defaults')).document.celery.task_annotations['tasks.add'].rate_limit).toBe('10/m');
    // Cancel sends nothing; Save again and Confirm writes.
    await page.getByRole('button', { name: 'Cancel' }).click();
    expect(await preview.count()).toBe(0);
    await page.getByRole('button', { name: 'Save' }).click();
    await confirmSave(page);
    const saved = page.locator('#editor-feedback');
    await saved.getByText(/Saved as revision \d+/).waitFor();
    expect(await shown(saved)).toContain(RATE_PATH);
    const afterSave = await layerDocument('defaults');
    expect(afterSave.document.celery.task_annotations['tasks.add'].rate_limit).toBe('20/m');
    expect(await shown(page.locator('#editor-revision'))).toContain(`Revision ${afterSave.revision}`);

    // History: the new revision with author, message and diff.
    await page.getByRole('button', { name: 'History', exact: true }).click();
    const newest = page.locator(`#history-list li[data-revision="${afterSave.revision}"]`);
    await newest.waitFor();
    const newestText = await shown(newest);
    expect(newestText).toContain('raise the add rate');
    expect(newestText).toContain('by ops-alice (operator)');
    expect(newestText).toContain(RATE_PATH);
    expect(newestText).toMatch(/"10\/m"\s+"20\/m"/);
    // Rolling back to a layer's current content would change nothing: no button there.
    expect(newestText).toContain('current');
    expect(await newest.getByRole('button', { name: /Roll back/ }).count()).toBe(0);

    // An invalid value: the server's issue is shown with its path, and nothing is stored.
    await openDefaults(page);
    await saveRateLimit(page, 'very fast', 'try a bad value');
    const issue = page.locator('#issue-list li', { hasText: RATE_PATH });
    await issue.waitFor();
    expect(await shown(issue)).toContain('is not a rate limit');
    await page.screenshot({ path: '/tmp/celeriac-console-layers.png', fullPage: true });
    expect((await layerDocument('defaults')).revision).toBe(afterSave.revision);

    // A change made meanwhile: 409 with the current revision, and a reload button that loads it.
    const meanwhile = await api(center.url, 'PATCH', '/v1/layers/defaults', {
      token: ADMIN_TOKEN,
      headers: { 'if-match': String(afterSave.revision), 'x-change-message': 'someone else' },
      body: { celery: { task_default_queue: 'jobs' } },
    });
    expect(meanwhile.status).toBe(200);
    await saveRateLimit(page, '30/m', 'race');
    const conflict = page.locator('#editor-feedback .conflict');
    await conflict.waitFor();
    expect(await shown(conflict)).toContain(
      `changed since you opened revision ${afterSave.revision}; it is now at revision ${meanwhile.body.revision}`,
    );
    await page.getByRole('button', { name: `Reload revision ${meanwhile.body.revision}` }).click();
    await page.locator('#editor-revision', { hasText: `Revision ${meanwhile.body.revision}` }).waitFor();
    expect(await page.getByLabel('Layer document (JSON)').inputValue()).toContain('"task_default_queue": "jobs"');

    // Rollback to the seed revision, with a message.
    await page.getByRole('button', { name: 'History', exact: true }).click();
    const seed = (
      await api(center.url, 'GET', '/v1/revisions?layer=defaults', { token: ADMIN_TOKEN })
    ).body.revisions.at(-1);
    expect(seed.message).toBe('seed defaults');
    await page.getByRole('button', { name: `Roll back defaults to revision ${seed.revision}` }).click();
    await page.getByLabel(`Why roll back defaults to revision ${seed.revision}?`).fill('back to the seed limits');
    await page
      .locator(`#history-list li[data-revision="${seed.revision}"]`)
      .getByRole('button', { name: 'Confirm rollback' })
      .click();
    await page
      .locator('#history-status', { hasText: `restored to its content of revision ${seed.revision}` })
      .waitFor();
    const restored = await layerDocument('defaults');
    expect(restored.document).toEqual(await layerDocumentAt(seed.revision));
    expect(restored.document.celery.task_annotations['tasks.add'].rate_limit).toBe('10/m');
    const rollbackItem = page.locator(`#history-list li[data-revision="${restored.revision}"]`);
    await rollbackItem.waitFor();
    expect(await shown(rollbackItem)).toContain(`rollback to r${seed.revision}`);
    expect(await shown(rollbackItem)).toContain('back to the seed limits');
    await page.screenshot({ path: '/tmp/celeriac-console-history.png', fullPage: true });

    await page.getByRole('button', { name: 'Nodes', exact: true }).click();
    await row.waitFor();
    await page.screenshot({ path: '/tmp/celeriac-console-nodes.png', fullPage: true });

    // The token survives a reload of the tab, and signing out forgets it.
    await page.reload();
    await page.locator('#who', { hasText: 'ops-alice' }).waitFor();
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Token').waitFor();
    expect(
      await page.evaluate(
        () => (globalThis as unknown as { sessionStorage: { length: number } }).sessionStorage.length,
      ),
    ).toBe(0);
    expect(await page.locator('#nodes-list').innerHTML()).toBe('');
    await page.close();
    expect(pageErrors).toEqual([]);
  });

  it('creates a missing layer without If-Match and refuses an agent token', { timeout: 60_000 }, async () => {
    const page = await openPage();
    const agent = await api(center.url, 'POST', '/v1/tokens', {
      token: ADMIN_TOKEN,
      body: { role: 'agent', node: 'web-1' },
    });
    expect(agent.status).toBe(201);
    await page.getByLabel('Token').fill(agent.body.token);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.locator('#sign-in-error', { hasText: 'cannot use the console' }).waitFor();
    expect(await page.locator('#app').isHidden()).toBe(true);

    await signIn(page, operatorToken);
    await page.getByRole('button', { name: 'Layers', exact: true }).click();
    await page.getByLabel('Open or create a layer').fill('groups/web');
    await page.getByRole('button', { name: 'Open', exact: true }).click();
    await page.locator('#editor-revision', { hasText: 'New layer' }).waitFor();
    await page.getByLabel('Layer document (JSON)').fill('{"celery": {"task_default_queue": "web"}}');
    await page.getByLabel('Change message').fill('queue of the web group – naïve café');
    await page.getByRole('button', { name: 'Save' }).click();
    // web-1 is in group web, and celeriac workers read task_default_queue.
    await page.locator('#preview-summary', { hasText: '1 node change, 1 program restart' }).waitFor();
    await confirmSave(page);
    await page.locator('#editor-feedback', { hasText: /Saved as revision \d+/ }).waitFor();
    await page.locator('#layer-list button', { hasText: 'groups/web' }).waitFor();
    const created = await layerDocument('groups/web');
    expect(created.document).toEqual({ celery: { task_default_queue: 'web' } });
    const revision = (await api(center.url, 'GET', `/v1/revisions/${created.revision}`, { token: ADMIN_TOKEN })).body;
    // A message that a header cannot carry goes in the body and arrives intact.
    expect(revision.message).toBe('queue of the web group – naïve café');

    // Text that is not JSON is caught before anything is sent.
    await page.getByLabel('Layer document (JSON)').fill('{"celery": ');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.locator('#issue-list', { hasText: '(document)' }).waitFor();
    expect(await shown(page.locator('#editor-feedback'))).toContain('not valid JSON; nothing was sent');
    expect((await layerDocument('groups/web')).revision).toBe(created.revision);
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.close();
    expect(pageErrors).toEqual([]);
  });

  it('gives a viewer a read-only editor with secrets masked and no rollback', { timeout: 60_000 }, async () => {
    const page = await openPage();
    await signIn(page, viewerToken);
    expect(await shown(page.locator('#who'))).toContain('viewer-bob (viewer) · secrets masked');
    await openDefaults(page);
    const area = page.getByLabel('Layer document (JSON)');
    const text = await area.inputValue();
    expect(text).toContain('redis://:***@10.0.0.5:6379/0');
    expect(text).not.toContain('s3cret-pw');
    expect(await area.getAttribute('readonly')).not.toBeNull();
    expect(await page.getByRole('button', { name: 'Save' }).isDisabled()).toBe(true);
    await page.getByRole('button', { name: 'History', exact: true }).click();
    await page.locator('#history-list li').first().waitFor();
    expect(await shown(page.locator('#history-list'))).not.toContain('s3cret-pw');
    expect(await page.getByRole('button', { name: /Roll back/ }).count()).toBe(0);

    // A revoked token ends the session on the next refresh with the reason shown.
    const tokens = (await api(center.url, 'GET', '/v1/tokens', { token: ADMIN_TOKEN })).body.tokens;
    const id = tokens.find((t: { name: string }) => t.name === 'viewer-bob').id;
    expect((await api(center.url, 'DELETE', `/v1/tokens/${id}`, { token: ADMIN_TOKEN })).status).toBe(200);
    await page.getByRole('button', { name: 'Nodes', exact: true }).click();
    await page.locator('#sign-in-error', { hasText: 'unknown or was revoked' }).waitFor();
    expect(await page.locator('#app').isHidden()).toBe(true);
    await page.close();
    expect(pageErrors).toEqual([]);
  });
});

async function layerDocumentAt(revision: number) {
  return (await api(center.url, 'GET', `/v1/revisions/${revision}`, { token: ADMIN_TOKEN })).body.document;
}

describe('web console from the built package', () => {
  let child: ChildProcess | undefined;
  let dataDir: string;
  afterAll(() => {
    if (child && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('is served by `celeriac center` running from dist', { timeout: 300_000 }, async () => {
    execFileSync('npx', ['tsc', '-b', 'apps/cli'], { cwd: ROOT, stdio: 'ignore', timeout: 240_000 });
    dataDir = mkdtempSync(path.join(tmpdir(), 'celeriac-console-dist-'));
    const env: NodeJS.ProcessEnv = { ...process.env, CELERIAC_ADMIN_TOKEN: ADMIN_TOKEN };
    child = spawn(
      process.execPath,
      [path.join(ROOT, 'apps/cli/bin/celeriac.js'), 'center', '--data', dataDir, '--listen', '127.0.0.1:0'],
      { env, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stdout = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    await until(() => /listening on http:\/\/[^\s"]+/.test(stdout), 30_000, 'the center to listen');
    const url = (/listening on (http:\/\/[^\s"]+)/.exec(stdout) as RegExpExecArray)[1] as string;
    const served = await api(url, 'GET', '/console');
    expect(served.status).toBe(200);
    expect(served.text).toContain('id="sign-in-form"');
    expect((await api(url, 'GET', '/console/assets/main.js')).status).toBe(200);
    expect((await api(url, 'GET', '/v1/whoami', { token: ADMIN_TOKEN })).body.role).toBe('admin');
    const exited = new Promise((resolve) => child?.once('exit', resolve));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
  });
});
