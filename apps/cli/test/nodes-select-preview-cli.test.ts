import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { RunningCenter } from '@celeriac/config-center';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type FileCenter, requireBuiltCli, runCli, startFileCenter } from './support/cli-center.js';

// The built CLI (`npm run build` first) against a real listening center: labels set with
// `config set`, `nodes --select`, and `--dry-run` of set, apply and edit.
const ADMIN = 'cli-select-admin-token-0123456789abcdef';

let files: FileCenter;
let center: RunningCenter;
let work: string;

function cli(args: string[], env: Record<string, string> = {}) {
  return runCli(args, { CELERIAC_CENTER: center.url, CELERIAC_TOKEN: ADMIN, ...env });
}

async function head(): Promise<number> {
  return ((await (await fetch(`${center.url}/healthz`)).json()) as { revision: number }).revision;
}

beforeAll(async () => {
  requireBuiltCli('config');
  files = await startFileCenter('celeriac-cli-select-', ADMIN);
  center = files.center;
  work = mkdtempSync(path.join(tmpdir(), 'celeriac-cli-select-work-'));
  const defaults = await cli([
    'config',
    'set',
    'defaults',
    'celery.broker_url=redis://127.0.0.1:6379/0',
    'programs.workers={"kind":"celeriac-worker","app":"./tasks.js","queues":["celery"],"replicas":2,"concurrency":3}',
  ]);
  expect(defaults.exitCode).toBe(0);
  for (const [node, zone, role] of [
    ['web-1', 'eu', 'video'],
    ['web-2', 'us', 'video'],
    ['batch-1', 'eu', 'batch'],
  ] as const) {
    const set = await cli([
      'config',
      'set',
      `nodes/${node}`,
      `labels.zone=${zone}`,
      `labels.role=${role}`,
      'groups=["fleet"]',
    ]);
    expect(set.stderr).toBe('');
    expect(set.exitCode).toBe(0);
  }
});

afterAll(async () => {
  await files?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

describe('celeriac nodes --select', () => {
  it('shows labels and selects by label, group and name', async () => {
    const all = await cli(['nodes']);
    expect(all.exitCode).toBe(0);
    const [header, ...rows] = all.stdout.trim().split('\n');
    expect(header).toMatch(/^NODE\s+LABELS\s+STATE\s+/);
    expect(rows.find((row) => row.startsWith('web-1'))).toMatch(/^web-1\s+role=video,zone=eu\s+/);

    const eu = await cli(['nodes', '--select', 'zone=eu,role=video', '--json']);
    expect(eu.exitCode).toBe(0);
    expect(JSON.parse(eu.stdout).map((n: { node: string }) => n.node)).toEqual(['web-1']);
    const group = await cli(['nodes', '--select', 'group=fleet,node=*-1', '--json']);
    expect(JSON.parse(group.stdout).map((n: { node: string }) => n.node)).toEqual(['batch-1', 'web-1']);
    const none = await cli(['nodes', '--select', 'zone=ap']);
    expect(none.stdout).toBe('no node matches the selector zone=ap');
  });

  it('refuses a bad selector as a usage error before asking the center', async () => {
    const bad = await cli(['nodes', '--select', 'zone='], { CELERIAC_CENTER: 'http://127.0.0.1:1' });
    expect(bad.exitCode).toBe(2);
    expect(bad.stderr).toContain('selector term "zone="');
  });
});

describe('celeriac config --dry-run', () => {
  it('set --dry-run says what restarts on which node and why, and writes nothing', async () => {
    const before = await head();
    const result = await cli(['config', 'set', 'defaults', 'celery.task_default_queue=fast', '--dry-run']);
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('dry run, nothing was written: defaults');
    expect(result.stdout).toContain('+ celery.task_default_queue: "fast"');
    expect(result.stdout).toMatch(
      /node web-1 \(config of revision \d+ changes\):\n {2}workers {2}restart, 2 processes \(6 worker slots\) out at once: task_default_queue set \(fast\)/,
    );
    expect(result.stdout).toContain(
      '3 nodes change, 3 with restarts, 3 programs restart; at most 6 processes (18 worker slots)',
    );
    expect(await head()).toBe(before);
  });

  it('apply --dry-run of a label-only change restarts nothing', async () => {
    const file = path.join(work, 'web-1.json');
    writeFileSync(file, JSON.stringify({ groups: ['fleet'], labels: { zone: 'ap', role: 'video' } }));
    const before = await head();
    const result = await cli(['config', 'apply', 'nodes/web-1', '-f', file, '--dry-run']);
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('~ labels.zone: "eu" → "ap"');
    expect(result.stdout).toContain("no node's merged config changes (1 other node unchanged): nothing would restart");
    expect(await head()).toBe(before);
  });

  it('edit --dry-run previews the edited document instead of asking', async () => {
    const editor = path.join(work, 'editor.mjs');
    writeFileSync(
      editor,
      "import { readFileSync, writeFileSync } from 'node:fs';\n" +
        'const file = process.argv[2];\n' +
        "writeFileSync(file, readFileSync(file, 'utf8').replace('\"replicas\": 2', '\"replicas\": 1'));\n",
    );
    const before = await head();
    const result = await cli(['config', 'edit', 'defaults', '--dry-run'], {
      EDITOR: `"${process.execPath}" "${editor}"`,
    });
    expect(result.stderr).toBe('');
    expect(result.exitCode).toBe(0);
    expect(result.stdout).toContain('~ programs.workers.replicas: 2 → 1');
    expect(result.stdout).toContain(
      'workers  scale, 1 process (3 worker slots) out at once, 3 worker slots removed: replicas 2 → 1',
    );
    expect(await head()).toBe(before);
  });

  it('a dry run that the center would refuse fails like the write, with the same exit code', async () => {
    const result = await cli(['config', 'set', 'defaults', 'celery.task_serializer=pickle', '--dry-run']);
    expect(result.exitCode).toBe(4);
    expect(result.stderr).toContain('CENTER_VALIDATION_FAILED');
  });
});
