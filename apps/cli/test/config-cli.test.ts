import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { FileStore, type RunningCenter, startCenter } from '@celeriac/config-center';
import { createLogger } from '@celeriac/logger';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type CliResult, type FileCenter, requireBuiltCli, runCli, startFileCenter } from './support/cli-center.js';

// Spawns the built CLI (`npx tsc -b tsconfig.build.json` first) against a real listening center
// with the file store in a temp dir.
const ADMIN = 'cli-test-admin-token-0123456789abcdef';

let files: FileCenter;
let center: RunningCenter;
let work: string;
let operator: string;
let viewer: string;
let agent: string;

async function cli(
  args: string[],
  options: { token?: string | null; env?: Record<string, string>; input?: string } = {},
): Promise<CliResult> {
  const env: Record<string, string> = { CELERIAC_CENTER: center.url, ...options.env };
  if (options.token !== null) env.CELERIAC_TOKEN = options.token ?? operator;
  return runCli(args, env, options.input);
}

// biome-ignore lint/suspicious/noExplicitAny: tests read arbitrary JSON answers
type Json = any;

async function api(
  method: string,
  urlPath: string,
  token: string,
  body?: unknown,
): Promise<{ status: number; body: Json }> {
  const response = await fetch(center.url + urlPath, {
    method,
    headers: {
      authorization: `Bearer ${token}`,
      ...(body === undefined ? {} : { 'content-type': 'application/json' }),
    },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : undefined };
}

async function createToken(role: string, node?: string): Promise<string> {
  const { status, body } = await api('POST', '/v1/tokens', ADMIN, { role, node, name: `cli-test-${role}` });
  expect(status).toBe(201);
  return body.token;
}

async function layerRevision(layer: string): Promise<number> {
  const { body } = await api('GET', `/v1/layers/${layer}`, ADMIN);
  return body.revision;
}

beforeAll(async () => {
  requireBuiltCli('config');
  files = await startFileCenter('celeriac-cli-center-', ADMIN);
  center = files.center;
  work = mkdtempSync(path.join(tmpdir(), 'celeriac-cli-work-'));
  operator = await createToken('operator');
  viewer = await createToken('viewer');
  agent = await createToken('agent', 'web-1');
});

afterAll(async () => {
  await files?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('celeriac config', () => {
  it('creates a layer with set, reads it back with get (JSON and YAML)', async () => {
    const set = await cli([
      'config',
      'set',
      'defaults',
      'celery.broker_url=redis://127.0.0.1:6379/0',
      'celery.task_serializer=json',
      'programs.workers={"kind":"celeriac-worker","app":"./tasks.js","queues":["celery"]}',
      '-m',
      'first defaults',
    ]);
    expect(set.stderr).toBe('');
    expect(set.exitCode).toBe(0);
    expect(set.stdout).toMatch(/^defaults: revision \d+, 5 changes/);
    expect(set.stdout).toContain('+ celery.task_serializer: "json"');

    const get = await cli(['config', 'get', 'defaults'], { token: viewer });
    expect(get.exitCode).toBe(0);
    expect(JSON.parse(get.stdout)).toEqual({
      celery: { broker_url: 'redis://127.0.0.1:6379/0', task_serializer: 'json' },
      programs: { workers: { kind: 'celeriac-worker', app: './tasks.js', queues: ['celery'] } },
    });
    expect(get.stderr).toMatch(/^# defaults at revision \d+/);

    const yaml = await cli(['config', 'get', 'defaults', '-o', 'yaml'], { token: viewer });
    expect(yaml.stdout).toContain('task_serializer: json');
  });

  it('sets a key holding dots through a quoted path and numbers as JSON', async () => {
    const quoted = await cli([
      'config',
      'set',
      'nodes/web-1',
      'celery.task_annotations."tasks.add".rate_limit=10/m',
      '-m',
      'slow down add',
    ]);
    expect(quoted.exitCode).toBe(0);
    const bracket = await cli([
      'config',
      'set',
      'nodes/web-1',
      'celery.task_annotations["tasks.add"].rate_limit=10/s',
      'programs.workers.replicas=2',
      '-m',
      'faster add, two workers',
    ]);
    expect(bracket.exitCode).toBe(0);
    expect(bracket.stdout).toContain('~ celery.task_annotations["tasks.add"].rate_limit: "10/m" → "10/s"');
    const { body } = await api('GET', '/v1/layers/nodes/web-1', ADMIN);
    expect(body.document).toEqual({
      celery: { task_annotations: { 'tasks.add': { rate_limit: '10/s' } } },
      programs: { workers: { replicas: 2 } },
    });
  });

  it('prints the server field messages for a refused change and exits 4', async () => {
    const before = await layerRevision('nodes/web-1');
    const result = await cli([
      'config',
      'set',
      'nodes/web-1',
      'celery.task_annotations."tasks.add".rate_limit=10/x',
      'programs.workers.replicas=100',
    ]);
    expect(result.exitCode).toBe(4);
    expect(result.stderr).toContain(
      'celery.task_annotations["tasks.add"].rate_limit: "10/x" is not a rate limit; use a number per second or "<n>/s", "<n>/m", "<n>/h"',
    );
    expect(result.stderr).toContain('programs.workers.replicas: must be an integer from 0 to 64');
    expect(await layerRevision('nodes/web-1')).toBe(before);
  });

  it('applies JSON and YAML files, and reports a stale base revision as a conflict (exit 5)', async () => {
    const yamlFile = path.join(work, 'web.yaml');
    writeFileSync(yamlFile, 'celery:\n  task_default_queue: web\n  CELERY_ACKS_LATE: true\n');
    const first = await cli(['config', 'apply', 'groups/web', '-f', yamlFile, '-m', 'web group']);
    expect(first.exitCode).toBe(0);
    expect(first.stdout).toMatch(/^groups\/web: revision \d+, 2 changes/);
    const stale = await layerRevision('groups/web');

    const jsonFile = path.join(work, 'web.json');
    writeFileSync(jsonFile, JSON.stringify({ celery: { task_default_queue: 'web2' } }));
    expect((await cli(['config', 'apply', 'groups/web', '-f', jsonFile, '-m', 'rename queue'])).exitCode).toBe(0);
    const now = await layerRevision('groups/web');

    writeFileSync(jsonFile, JSON.stringify({ celery: { task_default_queue: 'web3' } }));
    const conflict = await cli(['config', 'apply', 'groups/web', '-f', jsonFile, '--revision', String(stale)]);
    expect(conflict.exitCode).toBe(5);
    expect(conflict.stderr).toContain(`it is now at revision ${now}`);
    expect(conflict.stderr).toContain('run the command again');
    const { body } = await api('GET', '/v1/layers/groups/web', ADMIN);
    expect(body.document).toEqual({ celery: { task_default_queue: 'web2' } });

    writeFileSync(jsonFile, JSON.stringify({ celery: { task_default_queue: 'web2' } }));
    const unchanged = await cli(['config', 'apply', 'groups/web', '-f', jsonFile]);
    expect(unchanged.stdout).toContain('no change');
  });

  it('shows history by layer and by node, diffs revisions, and rolls back', async () => {
    const history = await cli(['config', 'history', 'nodes/web-1'], { token: viewer });
    expect(history.exitCode).toBe(0);
    const lines = history.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^REV\s+TIME\s+LAYER\s+KIND\s+AUTHOR\s+CHANGES\s+MESSAGE$/);
    expect(lines[1]).toContain('faster add, two workers');
    expect(lines[2]).toContain('slow down add');
    expect(lines).toHaveLength(3);

    const byNode = await cli(['config', 'history', '--node', 'web-1'], { token: viewer });
    expect(byNode.stdout).toContain('first defaults');
    expect(byNode.stdout).toContain('faster add, two workers');

    const revs = await api('GET', '/v1/revisions?layer=nodes/web-1', ADMIN);
    const [newer, older] = revs.body.revisions.map((r: { revision: number }) => r.revision);
    const diff = await cli(['config', 'diff', String(older), String(newer)], { token: viewer });
    expect(diff.exitCode).toBe(0);
    expect(diff.stdout).toContain('layer nodes/web-1:');
    expect(diff.stdout).toContain('~ celery.task_annotations["tasks.add"].rate_limit: "10/m" → "10/s"');
    expect(diff.stdout).toContain('node web-1 (merged config):');

    const rollback = await cli(['config', 'rollback', String(older), '-m', 'back to 10/m']);
    expect(rollback.exitCode).toBe(0);
    expect(rollback.stdout).toContain(`restores revision ${older}`);
    const { body } = await api('GET', '/v1/layers/nodes/web-1', ADMIN);
    expect(body.document).toEqual({ celery: { task_annotations: { 'tasks.add': { rate_limit: '10/m' } } } });
    const after = await cli(['config', 'history', 'nodes/web-1', '--limit', '1'], { token: viewer });
    expect(after.stdout).toContain(`rollback of ${older}`);
    expect(after.stdout).toContain('back to 10/m');
  });

  it('warns about a likely typo in a setting name, and unsets it again', async () => {
    const typo = await cli(['config', 'set', 'groups/web', 'celery.task_serialiser=json', '-m', 'typo']);
    expect(typo.exitCode).toBe(0);
    expect(typo.stderr).toContain(
      'warning: celery.task_serialiser is not a Celery setting; it is kept, but no worker reads it (did you mean task_serializer?)',
    );
    const fixed = await cli(['config', 'unset', 'groups/web', 'celery.task_serialiser', '-m', 'fix typo']);
    expect(fixed.exitCode).toBe(0);
    expect(fixed.stderr).toBe('');
  });

  it('unsets keys', async () => {
    const result = await cli(['config', 'unset', 'groups/web', 'celery.task_default_queue', '-m', 'drop queue']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('- celery.task_default_queue: "web2"');
    expect((await cli(['config', 'unset', 'groups/web', 'celery.nothing'])).exitCode).toBe(2);
  });

  it('applies a document from stdin', async () => {
    const result = await cli(['config', 'apply', 'groups/batch', '-f', '-', '-m', 'from stdin'], {
      input: 'celery:\n  worker_prefetch_multiplier: 1\n',
    });
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toMatch(
      /^groups\/batch: revision \d+, 1 change\n {2}\+ celery.worker_prefetch_multiplier: 1$/,
    );
  });

  it('lists layers', async () => {
    const result = await cli(['config', 'layers'], { token: viewer });
    expect(result.stdout).toMatch(/^LAYER\s+REVISION\n/);
    expect(result.stdout).toContain('nodes/web-1');
    expect(result.stdout).toContain('groups/web');
  });

  it('exits 3 on auth errors without printing the token', async () => {
    const none = await cli(['config', 'get', 'defaults'], { token: null });
    expect(none.exitCode).toBe(3);
    expect(none.stderr).toContain('--token or CELERIAC_TOKEN');
    const wrong = await cli(['config', 'get', 'defaults'], { token: 'not-a-real-token-abcdef' });
    expect(wrong.exitCode).toBe(3);
    expect(wrong.stderr).not.toContain('not-a-real-token-abcdef');
    const readOnly = await cli(['config', 'set', 'defaults', 'celery.timezone=UTC'], { token: viewer });
    expect(readOnly.exitCode).toBe(3);
  });

  it('exits 2 on usage errors (the rest are tested in-process)', async () => {
    const result = await cli(['config', 'set', 'nodes/../etc', 'a=1']);
    expect(result.exitCode).toBe(2);
    expect(result.stderr).toContain('is not a layer');
    expect((await cli(['config'])).exitCode).toBe(2);
  });

  it('exits 1 naming the URL, never the token, when the center is unreachable', async () => {
    const probe = await startCenter({
      listen: '127.0.0.1:0',
      store: new FileStore({
        dataDir: mkdtempSync(path.join(work, 'gone-')),
        logger: createLogger({ level: 'silent' }),
      }),
      adminToken: ADMIN,
      logger: createLogger({ level: 'silent' }),
    });
    const deadUrl = probe.url;
    await probe.close();
    const result = await cli(['nodes', '--center', deadUrl, '--token', 'secret-token-value-xyz']);
    expect(result.exitCode).toBe(1);
    expect(result.stderr).toContain(`cannot reach the config center at ${deadUrl} (connection refused)`);
    expect(result.stderr + result.stdout).not.toContain('secret-token-value-xyz');
  });
});

describe('celeriac config edit', () => {
  let editor: string;

  beforeAll(() => {
    editor = path.join(work, 'fake-editor.mjs');
    // A scripted editor: EDIT_STEPS is a JSON list of file contents, one per opening; it records each opening.
    writeFileSync(
      editor,
      [
        "import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';",
        'const file = process.argv[2];',
        'const log = process.env.EDIT_LOG;',
        "const count = (() => { try { return readFileSync(log, 'utf8').split('\\n').filter(Boolean).length; } catch { return 0; } })();",
        "appendFileSync(log, JSON.stringify(readFileSync(file, 'utf8')) + '\\n');",
        'const steps = JSON.parse(process.env.EDIT_STEPS);',
        'writeFileSync(file, steps[Math.min(count, steps.length - 1)]);',
      ].join('\n'),
    );
  });

  function editEnv(steps: string[], name: string): Record<string, string> {
    return {
      EDITOR: `"${process.execPath}" "${editor}"`,
      EDIT_STEPS: JSON.stringify(steps),
      EDIT_LOG: path.join(work, `${name}.log`),
    };
  }

  function openings(name: string): string[] {
    return readFileSync(path.join(work, `${name}.log`), 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((line) => JSON.parse(line));
  }

  it('re-opens on invalid input with the problems listed, then shows the diff and sends with --yes', async () => {
    const before = await layerRevision('nodes/web-1');
    const invalid = JSON.stringify({ celery: { task_serializer: 'pickle' } });
    const valid = JSON.stringify({ celery: { task_annotations: { 'tasks.add': { rate_limit: '5/s' } } } });
    const env = editEnv([invalid, valid], 'edit-ok');
    const result = await cli(['config', 'edit', 'nodes/web-1', '--yes', '-m', 'edited'], { env });
    expect(result.exitCode).toBe(0);
    const seen = openings('edit-ok');
    expect(seen).toHaveLength(2);
    expect(seen[0]).toContain(`# Editing nodes/web-1 at revision ${before}`);
    expect(seen[0]).toContain('"rate_limit": "10/m"');
    expect(seen[1]).toContain('# The last edit was refused:');
    expect(seen[1]).toContain('celery.task_serializer: "pickle" is not supported');
    expect(result.stdout).toContain('~ celery.task_annotations["tasks.add"].rate_limit: "10/m" → "5/s"');
    expect(result.stdout).toMatch(/nodes\/web-1: revision \d+, 1 change/);
    const { body } = await api('GET', '/v1/layers/nodes/web-1', ADMIN);
    expect(body.document.celery.task_annotations['tasks.add'].rate_limit).toBe('5/s');
  });

  it('asks before sending: "n" sends nothing, "y" sends', async () => {
    const before = await layerRevision('nodes/web-1');
    const doc = JSON.stringify({ celery: { task_annotations: { 'tasks.add': { rate_limit: '7/s' } } } });
    const no = await cli(['config', 'edit', 'nodes/web-1'], { env: editEnv([doc], 'edit-no'), input: 'n\n' });
    expect(no.exitCode).toBe(0);
    expect(no.stderr).toContain('Send this change to');
    expect(no.stderr).toContain('not sent');
    expect(await layerRevision('nodes/web-1')).toBe(before);
    const yes = await cli(['config', 'edit', 'nodes/web-1'], { env: editEnv([doc], 'edit-yes'), input: 'y\n' });
    expect(yes.exitCode).toBe(0);
    expect(await layerRevision('nodes/web-1')).toBeGreaterThan(before);
  });

  it('aborts on an emptied file, and gives up (exit 4) when an invalid edit is saved again unchanged', async () => {
    const before = await layerRevision('nodes/web-1');
    const empty = await cli(['config', 'edit', 'nodes/web-1', '--yes'], {
      env: editEnv(['# only a comment\n'], 'edit-empty'),
    });
    expect(empty.exitCode).toBe(0);
    expect(empty.stderr).toContain('edit cancelled, nothing was sent');
    const bad = JSON.stringify({ programs: { workers: { replicas: -1 } } });
    const stuck = await cli(['config', 'edit', 'nodes/web-1', '--yes'], { env: editEnv([bad], 'edit-stuck') });
    expect(stuck.exitCode).toBe(4);
    expect(stuck.stderr).toContain('programs.workers.replicas: must be an integer from 0 to 64');
    expect(openings('edit-stuck')).toHaveLength(2);
    expect(await layerRevision('nodes/web-1')).toBe(before);
  });
});

describe('celeriac nodes', () => {
  it('shows desired vs applied revision, result, last seen, drift and programs', async () => {
    const config = await api('GET', '/v1/nodes/web-1/config', agent);
    expect(config.status).toBe(200);
    const status = await api('POST', '/v1/nodes/web-1/status', agent, {
      applied_revision: config.body.revision,
      apply_result: 'ok',
      programs: {
        workers: {
          kind: 'celeriac-worker',
          state: 'running',
          pids: [4242, 4243],
          restarts: 1,
          config_hash: 'h',
          last_exit: null,
        },
      },
    });
    expect(status.status).toBe(200);
    const result = await cli(['nodes'], { token: viewer });
    expect(result.exitCode).toBe(0);
    const [header, ...rows] = result.stdout.trim().split('\n');
    expect(header).toMatch(/^NODE\s+STATE\s+DESIRED\s+APPLIED\s+RESULT\s+LAST SEEN\s+DRIFT\s+PROGRAMS$/);
    const row = rows.find((line) => line.startsWith('web-1 '));
    expect(row).toBeDefined();
    expect(row?.split(/\s{2,}/)).toEqual([
      'web-1',
      'in_sync',
      String(config.body.revision),
      String(config.body.revision),
      'ok',
      expect.stringMatching(/^\d+s ago$/),
      'no',
      'workers running ×2 (1 restart)',
    ]);
    const json = await cli(['nodes', '--json'], { token: viewer });
    expect(JSON.parse(json.stdout).find((n: { node: string }) => n.node === 'web-1').applied_revision).toBe(
      config.body.revision,
    );
  });
});
