import { describe, expect, it } from 'vitest';
import {
  CELERIAC_SETTING_NAMES,
  type CelerySettings,
  celerySettingsForProgram,
  classifyChange,
  type EffectiveConfig,
  mergeLayers,
  validateEffectiveConfig,
  validateLayer,
} from '../src/index.js';

// The delivery-guarantee settings of issue 8: typed and checked (the center refuses bad values with
// their path), restarting celeriac-worker programs only, and reported when a Python worker ignores them.
const base = {
  celery: { broker_url: 'redis://10.0.0.5:6379/0' },
  programs: {
    ts: { kind: 'celeriac-worker', app: './tasks.js', queues: ['celery'], replicas: 2 },
    py: { kind: 'celery-worker', app: 'proj.tasks', queues: ['celery'] },
    web: { kind: 'command', command: ['nginx', '-c', '{{config_file}}'], config_template: '{{celery.broker_url}}' },
  },
};

function config(patch: unknown = {}): EffectiveConfig {
  const result = validateEffectiveConfig(mergeLayers(base, patch));
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.value;
}

const GOOD: CelerySettings = {
  celeriac_eta_horizon: 30,
  celeriac_eta_max_held: 500,
  celeriac_delayed_poll_interval: 0.5,
  celeriac_redelivery_limit: 0,
  celeriac_dead_letter_max_entries: 1000,
  celeriac_dead_letter_max_raw_bytes: 4096,
  celeriac_revoked_key: 'my.revoked',
  celeriac_strict_settings: false,
  celeriac_broker_wait_replicas: 1,
  celeriac_broker_wait_timeout: 2.5,
  celeriac_fleet_limits: { queues: { emails: { rate_limit: '100/s', concurrency: 20 } } },
};

describe('celeriac_* settings', () => {
  it('lists every celeriac_* setting', () => {
    expect([...CELERIAC_SETTING_NAMES].sort()).toEqual(Object.keys(GOOD).sort());
  });

  it('accepts good values, in a layer and in an effective config', () => {
    expect(validateLayer('defaults', { celery: GOOD })).toMatchObject({ ok: true, value: { celery: GOOD } });
    expect(config({ celery: GOOD }).celery).toMatchObject(GOOD);
    expect(validateLayer('defaults', { celery: { celeriac_revoked_key: '' } }).ok).toBe(true);
    const deletions = Object.fromEntries(Object.keys(GOOD).map((k) => [k, null]));
    expect(validateLayer('groups/g', { celery: deletions }).ok).toBe(true);
  });

  it('refuses bad values with the path of each', () => {
    const bad = {
      celeriac_eta_horizon: -1,
      celeriac_eta_max_held: 1.5,
      celeriac_delayed_poll_interval: 0,
      celeriac_redelivery_limit: 'five',
      celeriac_dead_letter_max_entries: -3,
      celeriac_dead_letter_max_raw_bytes: true,
      celeriac_revoked_key: 5,
    };
    for (const result of [
      validateLayer('nodes/n1', { celery: bad }),
      validateEffectiveConfig(mergeLayers(base, { celery: bad })),
    ]) {
      expect(result.ok).toBe(false);
      if (result.ok) continue;
      expect(result.issues).toEqual([
        { path: 'celery.celeriac_eta_horizon', message: 'must be a number of at least 0' },
        { path: 'celery.celeriac_eta_max_held', message: 'must be an integer of at least 0' },
        {
          path: 'celery.celeriac_delayed_poll_interval',
          message: 'must be a number of seconds of at least 0.01, got 0',
        },
        { path: 'celery.celeriac_redelivery_limit', message: 'must be an integer of at least 0' },
        { path: 'celery.celeriac_dead_letter_max_entries', message: 'must be an integer of at least 0' },
        { path: 'celery.celeriac_dead_letter_max_raw_bytes', message: 'must be an integer of at least 0' },
        {
          path: 'celery.celeriac_revoked_key',
          message: 'must be a Redis key name (a string of at most 512 characters), "" or null for none, got 5',
        },
      ]);
    }
  });

  it('warns when a celery-worker (Python) program would ignore them, and about likely typos', () => {
    const result = validateEffectiveConfig(
      mergeLayers(base, { celery: { celeriac_redelivery_limit: 3, celeriac_eta_horizon: 10 } }),
    );
    expect(result.ok && result.warnings).toEqual([
      'celery.celeriac_eta_horizon is read by celeriac-worker programs only; the celery-worker program py (Python Celery) ignore it',
      'celery.celeriac_redelivery_limit is read by celeriac-worker programs only; the celery-worker program py (Python Celery) ignore it',
    ]);
    // Without a Python program, nothing to say; a layer is warned about for the programs it shows.
    const tsOnly = { ...base, programs: { ts: base.programs.ts } };
    const quiet = validateEffectiveConfig(mergeLayers(tsOnly, { celery: { celeriac_redelivery_limit: 3 } }));
    expect(quiet.ok && quiet.warnings).toEqual([]);
    expect(validateLayer('defaults', { celery: { celeriac_redelivery_limit: 3 } })).toMatchObject({ warnings: [] });
    const layer = validateLayer('nodes/n1', {
      celery: { celeriac_redelivery_limit: 3 },
      programs: { py: base.programs.py },
    });
    expect(layer.ok && layer.warnings).toEqual([expect.stringContaining('celery-worker program py (Python Celery)')]);
    const typo = validateLayer('defaults', { celery: { celeriac_redelivery_limt: 3, celeriac_extra: 1 } });
    expect(typo.ok && typo.warnings).toEqual([
      'celery.celeriac_redelivery_limt is not a Celeriac setting; it is kept, but no worker reads it (did you mean celeriac_redelivery_limit?)',
    ]);
  });

  // celeriac_fleet_limits is the one live setting (fleet-limit-settings.test.ts checks that it restarts nothing).
  it.each(Object.entries(GOOD).filter(([key]) => key !== 'celeriac_fleet_limits'))(
    'a change of %s restarts celeriac-worker programs only, and says so for celery-worker',
    (key, value) => {
      const result = classifyChange(config(), config({ celery: { [key]: value } }));
      expect(result.ts).toEqual({
        action: 'restart',
        reasons: [`${key} set (${key === 'celeriac_revoked_key' ? '***' : String(value)})`],
      });
      expect(result.py?.action).toBe('none');
      expect(result.py?.reasons).toEqual([
        expect.stringMatching(new RegExp(`^${key} set .*celery-worker \\(Python\\) ignores it, no restart$`)),
      ]);
      expect(result.web).toEqual({ action: 'none', reasons: [] });
    },
  );

  it('celerySettingsForProgram: a celery-worker does not read celeriac_*, a celeriac-worker does', () => {
    const celery = { broker_url: 'redis://h/0', celeriac_redelivery_limit: 2, worker_max_tasks_per_child: 5 };
    expect(celerySettingsForProgram({ kind: 'celery-worker' }, celery)).toEqual({
      broker_url: 'redis://h/0',
      worker_max_tasks_per_child: 5,
    });
    // worker_max_tasks_per_child is honoured by Celeriac too (docs/settings.md); meaningless ones are left out.
    expect(celerySettingsForProgram({ kind: 'celeriac-worker' }, { ...celery, worker_pool: 'solo' })).toEqual({
      broker_url: 'redis://h/0',
      celeriac_redelivery_limit: 2,
      worker_max_tasks_per_child: 5,
    });
  });
});
