import { describe, expect, it } from 'vitest';
import {
  normalizeCelerySettings,
  normalizeCelerySettingsWithWarnings,
  OLD_CELERY_SETTING_NAMES,
} from '../src/index.js';

describe('normalizeCelerySettings', () => {
  it('renames the old upper-case names to Celery lowercase names', () => {
    const old = {
      BROKER_URL: 'redis://localhost:6379/0',
      CELERY_RESULT_BACKEND: 'redis://localhost:6379/1',
      CELERY_ROUTES: { 'tasks.add': { queue: 'add_queue' } },
      CELERY_ANNOTATIONS: { 'tasks.add': { rate_limit: '10/m' } },
      CELERY_TASK_SERIALIZER: 'json',
      CELERY_RESULT_SERIALIZER: 'json',
      CELERY_ACCEPT_CONTENT: ['json'],
      CELERY_DEFAULT_QUEUE: 'celery',
      CELERY_ACKS_LATE: true,
      CELERYD_CONCURRENCY: 4,
      CELERYD_PREFETCH_MULTIPLIER: 1,
      CELERY_TASK_RESULT_EXPIRES: 3600,
      CELERY_IGNORE_RESULT: false,
      CELERYD_TASK_TIME_LIMIT: 60,
      CELERYD_TASK_SOFT_TIME_LIMIT: 50,
      CELERY_TRACK_STARTED: true,
      BROKER_TRANSPORT_OPTIONS: { visibility_timeout: 3600 },
      CELERY_TIMEZONE: 'UTC',
      CELERY_ENABLE_UTC: true,
    };
    expect(normalizeCelerySettings(old)).toEqual({
      broker_url: 'redis://localhost:6379/0',
      result_backend: 'redis://localhost:6379/1',
      task_routes: { 'tasks.add': { queue: 'add_queue' } },
      task_annotations: { 'tasks.add': { rate_limit: '10/m' } },
      task_serializer: 'json',
      result_serializer: 'json',
      accept_content: ['json'],
      task_default_queue: 'celery',
      task_acks_late: true,
      worker_concurrency: 4,
      worker_prefetch_multiplier: 1,
      result_expires: 3600,
      task_ignore_result: false,
      task_time_limit: 60,
      task_soft_time_limit: 50,
      task_track_started: true,
      broker_transport_options: { visibility_timeout: 3600 },
      timezone: 'UTC',
      enable_utc: true,
    });
  });

  it("covers Celery's whole table, including ENABLE_UTC", () => {
    expect(Object.keys(OLD_CELERY_SETTING_NAMES).length).toBeGreaterThan(150);
    expect(OLD_CELERY_SETTING_NAMES.ENABLE_UTC).toBe('enable_utc');
    expect(OLD_CELERY_SETTING_NAMES.CELERY_RESULT_DBURI).toBe('database_url');
  });

  it('keeps lowercase and unknown keys and does not modify its input', () => {
    const input = { broker_url: 'redis://x', MY_OWN_SETTING: 1, CELERY_ROUTES: {} };
    const copy = structuredClone(input);
    expect(normalizeCelerySettings(input)).toEqual({ broker_url: 'redis://x', MY_OWN_SETTING: 1, task_routes: {} });
    expect(input).toEqual(copy);
  });

  it('lets the lowercase name win when both are given, with a warning', () => {
    for (const input of [
      { BROKER_URL: 'redis://old', broker_url: 'redis://new' },
      { broker_url: 'redis://new', BROKER_URL: 'redis://old' },
    ]) {
      const { settings, warnings } = normalizeCelerySettingsWithWarnings(input);
      expect(settings).toEqual({ broker_url: 'redis://new' });
      expect(warnings).toEqual([
        'BROKER_URL and broker_url are both set; using broker_url and ignoring the old name BROKER_URL',
      ]);
    }
  });

  it('gives no warning when only one name is used', () => {
    expect(normalizeCelerySettingsWithWarnings({ CELERY_ROUTES: {} }).warnings).toEqual([]);
  });
});
