import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { CELERIAC_SETTING_NAMES } from '../src/celeriac-settings.js';
import {
  CELERY_SETTING_NAMES,
  LATER_CELERY_SETTING_NAMES,
  OLD_CELERY_SETTING_NAMES,
} from '../src/celery-setting-names.js';
import { SETTING_STATUS } from '../src/setting-status.js';
import { renderSettingsDoc } from '../src/settings-doc.js';
import { reportCelerySettings } from '../src/settings-report.js';
import { validateLayer } from '../src/validate.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** Celery 5.2's own lists, from the installed Debian package. */
function celeryLists(): { names: string[]; old: Record<string, string> } {
  const script =
    'import json; from celery.app import defaults as d; ' +
    'print(json.dumps({"names": sorted(d.SETTING_KEYS), "old": d._TO_NEW_KEY}))';
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', script], { encoding: 'utf8' }));
}

describe('the settings status table', () => {
  it('has exactly one entry per Celery 5.2, later Celery and Celeriac setting name', () => {
    const expected = [...CELERY_SETTING_NAMES, ...LATER_CELERY_SETTING_NAMES, ...CELERIAC_SETTING_NAMES].sort();
    expect(Object.keys(SETTING_STATUS).sort()).toEqual(expected);
    for (const [name, entry] of Object.entries(SETTING_STATUS)) {
      expect(['honoured', 'meaningless', 'unsupported'], name).toContain(entry.status);
      expect(entry.reason.length, name).toBeGreaterThan(10);
    }
  });

  it("matches Celery's own list of names and old upper-case names (celery/app/defaults.py)", () => {
    const celery = celeryLists();
    expect([...CELERY_SETTING_NAMES].sort()).toEqual(celery.names);
    // Celery's docs also list CELERY_ENABLE_UTC for enable_utc; its code knows ENABLE_UTC.
    const { CELERY_ENABLE_UTC, ...ours } = OLD_CELERY_SETTING_NAMES;
    expect(CELERY_ENABLE_UTC).toBe('enable_utc');
    expect(ours).toEqual(celery.old);
  }, 30_000);

  it('docs/settings.md is the table rendered (regenerate: npx tsx libs/config-schema/scripts/settings-doc.ts)', () => {
    const doc = readFileSync(path.join(root, 'docs', 'settings.md'), 'utf8');
    expect(doc).toBe(renderSettingsDoc());
    for (const name of Object.keys(SETTING_STATUS)) expect(doc).toContain(`| \`${name}\` |`);
  });

  it('the settings issue 10 found ignored are each honoured or reported', () => {
    for (const name of [
      'task_default_rate_limit',
      'worker_max_tasks_per_child',
      'worker_max_memory_per_child',
      'task_queues',
      'task_create_missing_queues',
      'worker_send_task_events',
      'task_default_exchange',
      'task_default_routing_key',
      'task_default_priority',
      'task_compression',
      'result_compression',
      'result_accept_content',
    ]) {
      expect(SETTING_STATUS[name]?.status, name).toBe('honoured');
    }
    expect(SETTING_STATUS.task_reject_on_worker_lost?.status).toBe('honoured');
    expect(reportCelerySettings({ task_reject_on_worker_lost: false }).notices).toEqual([]);
  });
});

describe('reportCelerySettings', () => {
  it('one notice per unsupported or unknown name, with a did-you-mean hint; honoured and meaningless ones are quiet', () => {
    const report = reportCelerySettings({
      task_store_eager_result: true,
      CELERY_ALWAYS_EAGER: true,
      worker_pool: 'solo',
      task_acks_late: true,
      task_serialiser: 'json',
      worker_max_task_per_child: 3,
      broker_url: 'redis://127.0.0.1:6379/0',
    });
    expect(report.issues).toEqual([]);
    expect(report.strict).toBe(false);
    expect(report.notices).toEqual([
      {
        setting: 'task_serialiser',
        kind: 'unknown',
        reason: 'not a Celery setting; nothing reads it (did you mean task_serializer?)',
        hint: 'task_serializer',
      },
      {
        setting: 'task_store_eager_result',
        kind: 'unsupported',
        reason: expect.stringContaining('not stored in the result backend'),
      },
      {
        setting: 'worker_max_task_per_child',
        kind: 'unknown',
        reason: expect.stringContaining('did you mean worker_max_tasks_per_child?'),
        hint: 'worker_max_tasks_per_child',
      },
    ]);
  });

  it('is quiet about an unsupported setting given the value Celeriac behaves like (its Celery default)', () => {
    expect(
      reportCelerySettings({ task_always_eager: false, task_protocol: 2, worker_direct: false, imports: [] }).notices,
    ).toEqual([]);
    expect(reportCelerySettings({ task_protocol: 1 }).notices).toMatchObject([{ setting: 'task_protocol' }]);
  });

  it('checks values with the checks the center runs, and reads celeriac_strict_settings', () => {
    const report = reportCelerySettings({
      task_default_rate_limit: 'fast',
      worker_max_tasks_per_child: 0,
      task_compression: 'bzip2',
      result_compression: 'zstd',
      celeriac_strict_settings: true,
    });
    expect(report.strict).toBe(true);
    expect(report.issues.map((i) => i.path)).toEqual([
      'result_compression',
      'task_compression',
      'task_default_rate_limit',
      'worker_max_tasks_per_child',
    ]);
    expect(report.issues[1]?.message).toContain('bzip2 is not supported');
    expect(reportCelerySettings({ task_compression: 'gzip', result_compression: 'zlib' }).issues).toEqual([]);
  });

  it('the center warns about unsupported settings too, naming them', () => {
    const result = validateLayer('defaults', { celery: { task_store_eager_result: true, worker_pool: 'solo' } });
    expect(result.ok && result.warnings).toEqual([
      expect.stringMatching(/^celery\.task_store_eager_result is not supported by Celeriac workers and clients: /),
    ]);
  });
});
