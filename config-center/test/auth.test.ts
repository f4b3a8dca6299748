import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FileStore, startCenter } from '../src/index.js';
import {
  ADMIN_TOKEN,
  api,
  captureLogger,
  startTestCenter,
  type TestCenter,
  workerNodeLayer,
} from './support/center-harness.js';

const SECRET = 's3cretPassw0rd';
let center: TestCenter;
const tokens: Record<string, string> = { admin: ADMIN_TOKEN };

const STATUS = {
  applied_revision: 1,
  apply_result: 'ok',
  programs: {
    workers: {
      kind: 'celeriac-worker',
      state: 'running',
      pids: [123],
      restarts: 0,
      config_hash: 'abc',
      last_exit: null,
    },
  },
};

type Role = 'admin' | 'operator' | 'viewer' | 'agent';
interface Endpoint {
  method: string;
  path: string | ((role: Role) => string);
  body?: unknown;
  headers?: Record<string, string>;
  allowed: Role[] | 'public';
}

const ENDPOINTS: Endpoint[] = [
  { method: 'GET', path: '/healthz', allowed: 'public' },
  { method: 'GET', path: '/metrics', allowed: 'public' },
  { method: 'GET', path: '/v1/openapi.json', allowed: 'public' },
  { method: 'GET', path: '/v1/layers', allowed: ['admin', 'operator', 'viewer'] },
  { method: 'GET', path: '/v1/layers/defaults', allowed: ['admin', 'operator', 'viewer'] },
  { method: 'PUT', path: (role) => `/v1/layers/groups/g-${role}`, body: {}, allowed: ['admin', 'operator'] },
  {
    method: 'PATCH',
    path: '/v1/layers/defaults',
    body: {},
    headers: { 'if-match': '1' },
    allowed: ['admin', 'operator'],
  },
  { method: 'GET', path: '/v1/nodes/n1/config', allowed: ['admin', 'operator', 'viewer', 'agent'] },
  { method: 'GET', path: '/v1/nodes/n2/config', allowed: ['admin', 'operator', 'viewer'] },
  { method: 'POST', path: '/v1/nodes/n1/status', body: STATUS, allowed: ['admin', 'agent'] },
  { method: 'POST', path: '/v1/nodes/n2/status', body: STATUS, allowed: ['admin'] },
  { method: 'GET', path: '/v1/nodes', allowed: ['admin', 'operator', 'viewer'] },
  { method: 'GET', path: '/v1/nodes/n1', allowed: ['admin', 'operator', 'viewer'] },
  { method: 'GET', path: '/v1/revisions', allowed: ['admin', 'operator', 'viewer'] },
  { method: 'GET', path: '/v1/revisions?node=n1', allowed: ['admin', 'operator', 'viewer'] },
  { method: 'GET', path: '/v1/revisions/1', allowed: ['admin', 'operator', 'viewer'] },
  { method: 'GET', path: '/v1/diff?from=0&to=1', allowed: ['admin', 'operator', 'viewer'] },
  { method: 'POST', path: '/v1/rollback', body: { revision: 1, message: 'same' }, allowed: ['admin', 'operator'] },
  { method: 'POST', path: '/v1/tokens', body: { role: 'viewer', name: 'matrix' }, allowed: ['admin'] },
  { method: 'GET', path: '/v1/tokens', allowed: ['admin'] },
  { method: 'DELETE', path: '/v1/tokens/tok_doesnotexist', allowed: ['admin'] },
];

beforeAll(async () => {
  center = await startTestCenter();
  const put = await api(center.url, 'PUT', '/v1/layers/defaults', {
    token: ADMIN_TOKEN,
    body: {
      celery: {
        broker_url: `redis://:${SECRET}@10.0.0.5:6379/0`,
        result_backend: `redis://user:${SECRET}@10.0.0.6:6379/1`,
      },
      programs: { workers: { kind: 'celeriac-worker', app: './tasks.ts', env: { API_TOKEN: SECRET } } },
    },
  });
  expect(put.status).toBe(201);
  expect(
    (await api(center.url, 'PUT', '/v1/layers/nodes/n1', { token: ADMIN_TOKEN, body: workerNodeLayer([]) })).status,
  ).toBe(201);
  for (const [role, body] of [
    ['operator', { role: 'operator', name: 'ops' }],
    ['viewer', { role: 'viewer' }],
    ['agent', { role: 'agent', node: 'n1' }],
  ] as const) {
    const created = await api(center.url, 'POST', '/v1/tokens', { token: ADMIN_TOKEN, body });
    expect(created.status).toBe(201);
    tokens[role] = created.body.token;
  }
});
afterAll(async () => {
  await center.close();
});

describe('auth matrix', () => {
  const roles: Role[] = ['admin', 'operator', 'viewer', 'agent'];
  for (const endpoint of ENDPOINTS) {
    const label = `${endpoint.method} ${typeof endpoint.path === 'string' ? endpoint.path : endpoint.path('admin')}`;
    it(`${label}: ${endpoint.allowed === 'public' ? 'public' : endpoint.allowed.join(', ')}`, async () => {
      for (const role of roles) {
        const urlPath = typeof endpoint.path === 'string' ? endpoint.path : endpoint.path(role);
        const response = await api(center.url, endpoint.method, urlPath, {
          token: tokens[role] as string,
          body: endpoint.body,
          headers: endpoint.headers ?? {},
        });
        const allowed = endpoint.allowed === 'public' || endpoint.allowed.includes(role);
        if (allowed) {
          expect([401, 403], `${role} ${label} -> ${response.status} ${response.text}`).not.toContain(response.status);
          expect(response.status, `${role} ${label} -> ${response.text}`).toBeLessThan(500);
        } else {
          expect(response.status, `${role} ${label}`).toBe(403);
          expect(response.body.error.code).toBe('CENTER_FORBIDDEN');
        }
      }
      const anonymous = await api(
        center.url,
        endpoint.method,
        typeof endpoint.path === 'string' ? endpoint.path : endpoint.path('viewer'),
        {
          body: endpoint.body,
        },
      );
      const wrong = await api(
        center.url,
        endpoint.method,
        typeof endpoint.path === 'string' ? endpoint.path : endpoint.path('viewer'),
        {
          token: 'cel_not-a-real-token',
          body: endpoint.body,
        },
      );
      if (endpoint.allowed === 'public') {
        expect(anonymous.status).toBe(200);
      } else {
        for (const response of [anonymous, wrong]) {
          expect(response.status).toBe(401);
          expect(response.body.error.code).toBe('CENTER_UNAUTHORIZED');
        }
      }
    });
  }
});

describe('secrets', () => {
  it('masks passwords in configs for viewers, not for operators', async () => {
    const paths = [
      '/v1/layers/defaults',
      '/v1/nodes/n1/config',
      '/v1/revisions/1',
      '/v1/diff?from=0&to=1',
      '/v1/revisions',
    ];
    for (const urlPath of paths) {
      const viewer = await api(center.url, 'GET', urlPath, { token: tokens.viewer as string });
      expect(viewer.status).toBe(200);
      expect(viewer.text, urlPath).not.toContain(SECRET);
      const operator = await api(center.url, 'GET', urlPath, { token: tokens.operator as string });
      expect(operator.text, urlPath).toContain(SECRET);
    }
    const viewer = await api(center.url, 'GET', '/v1/layers/defaults', { token: tokens.viewer as string });
    expect(viewer.body.document.celery.broker_url).toBe('redis://:***@10.0.0.5:6379/0');
    const failed = await api(center.url, 'POST', '/v1/nodes/n1/status', {
      token: tokens.agent as string,
      body: { ...STATUS, apply_result: 'failed', message: `cannot reach redis://:${SECRET}@10.0.0.5:6379/0` },
    });
    expect(failed.status).toBe(200);
    for (const urlPath of ['/v1/nodes', '/v1/nodes/n1']) {
      expect((await api(center.url, 'GET', urlPath, { token: tokens.viewer as string })).text).not.toContain(SECRET);
      expect((await api(center.url, 'GET', urlPath, { token: tokens.operator as string })).text).toContain(SECRET);
    }
    expect(viewer.body.document.programs.workers.env.API_TOKEN).toBe('***');
  });

  it('creates, lists and revokes tokens, storing only their hashes', async () => {
    const agentWithoutNode = await api(center.url, 'POST', '/v1/tokens', {
      token: ADMIN_TOKEN,
      body: { role: 'agent' },
    });
    expect(agentWithoutNode.status).toBe(400);
    expect(agentWithoutNode.body.error.issues[0].path).toBe('node');

    const created = await api(center.url, 'POST', '/v1/tokens', {
      token: ADMIN_TOKEN,
      body: { role: 'operator', name: 'temp' },
    });
    const list = await api(center.url, 'GET', '/v1/tokens', { token: ADMIN_TOKEN });
    const entry = list.body.tokens.find((t: { id: string }) => t.id === created.body.id);
    expect(entry).toMatchObject({ name: 'temp', role: 'operator' });
    expect(entry.hash).toBeUndefined();
    expect(entry.token).toBeUndefined();
    expect(list.text).not.toContain(created.body.token);

    const stored = readFileSync(path.join(center.dataDir, 'tokens.json'), 'utf8');
    for (const secret of [created.body.token, ADMIN_TOKEN, tokens.agent, tokens.viewer])
      expect(stored).not.toContain(secret);

    expect((await api(center.url, 'GET', '/v1/layers', { token: created.body.token })).status).toBe(200);
    expect((await api(center.url, 'DELETE', `/v1/tokens/${created.body.id}`, { token: ADMIN_TOKEN })).status).toBe(200);
    const revoked = await api(center.url, 'GET', '/v1/layers', { token: created.body.token });
    expect(revoked.status).toBe(401);
  });

  it('never writes tokens or URL passwords to the log', async () => {
    await api(center.url, 'GET', '/v1/layers', { token: 'cel_wrong-token-in-a-header' });
    const log = center.logLines.join('');
    expect(log.length).toBeGreaterThan(0);
    for (const secret of [
      SECRET,
      ADMIN_TOKEN,
      tokens.operator,
      tokens.viewer,
      tokens.agent,
      'cel_wrong-token-in-a-header',
    ]) {
      expect(log).not.toContain(secret);
    }
  });

  it('generates the first admin token once when none is configured', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'celeriac-center-bootstrap-'));
    try {
      const generated: string[] = [];
      const lines: string[] = [];
      const start = () =>
        startCenter({
          listen: '127.0.0.1:0',
          store: new FileStore({ dataDir, logger: captureLogger(lines) }),
          logger: captureLogger(lines),
          onAdminTokenGenerated: (token) => generated.push(token),
        });
      const first = await start();
      expect(generated).toHaveLength(1);
      const token = generated[0] as string;
      expect((await api(first.url, 'GET', '/v1/tokens', { token })).status).toBe(200);
      await first.close();
      const second = await start();
      expect(generated).toHaveLength(1);
      expect((await api(second.url, 'GET', '/v1/tokens', { token })).status).toBe(200);
      await second.close();
      expect(lines.join('')).not.toContain(token);
    } finally {
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
