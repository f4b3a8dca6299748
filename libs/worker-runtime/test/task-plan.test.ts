import { Celeriac } from '@celeriac/client';
import { describe, expect, it } from 'vitest';
import { buildTaskPlan } from '../src/task-plan.js';
import type { WorkerApp } from '../src/worker-app.js';
import { readWorkerSettings } from '../src/worker-settings.js';

// The app is never started: building a plan opens no connection.
function planOf(settings: Record<string, unknown>, options: Record<string, unknown> = {}) {
  const app = new Celeriac('plans', { broker_url: 'redis://127.0.0.1:1/0', ...settings });
  const task = app.task('t.a', () => 1, options);
  return buildTaskPlan(app, task, readWorkerSettings(app.conf.settings));
}

describe('buildTaskPlan: task_annotations in Celery 5.2 order (celery/app/annotations.py)', () => {
  it.each([
    {
      what: "'*' is applied after the task's own entry, so it wins",
      annotations: { 't.a': { rate_limit: '1/s', acks_late: true }, '*': { rate_limit: '100/s' } },
      want: { rateLimitPerSec: 100, acksLate: true },
    },
    {
      what: "list form: the first map naming the task, then the first map with '*'",
      annotations: [{ 't.a': { max_retries: 1 } }, { 't.a': { max_retries: 2 }, '*': { max_retries: 9 } }],
      want: { maxRetries: 9 },
    },
    {
      what: 'annotations override the options given to app.task()',
      annotations: { 't.a': { track_started: false, retry_backoff: 2 } },
      options: { track_started: true, retry_backoff: true, retry_jitter: false },
      want: { trackStarted: false, retryBackoff: 2, retryJitter: false },
    },
  ])('$what', ({ annotations, options, want }) => {
    expect(planOf({ task_annotations: annotations }, options)).toMatchObject(want);
  });

  it('refuses an app without taskOptions() instead of merging annotations in another order', () => {
    // Before: a fallback merged '*' first and the task's entry on top (1/s), the reverse of Celery.
    const settings = {
      broker_url: 'redis://127.0.0.1:1/0',
      task_annotations: { 't.a': { rate_limit: '1/s' }, '*': { rate_limit: '100/s' } },
    };
    const task = { name: 't.a', fn: () => 1, options: {} };
    const app = {
      tasks: new Map([[task.name, task]]),
      conf: { settings },
      routeFor: () => ({ queue: 'celery' }),
      publish: async () => undefined,
    } as unknown as WorkerApp;
    expect(() => buildTaskPlan(app, task, readWorkerSettings(settings))).toThrow(
      expect.objectContaining({ code: 'WORKER_BAD_OPTIONS', message: expect.stringContaining('taskOptions') }),
    );
  });

  it('reads every task option the worker honours', () => {
    const plan = planOf(
      {},
      {
        rate_limit: '10/m',
        acks_late: true,
        ignore_result: true,
        track_started: true,
        max_retries: null,
        default_retry_delay: 5,
        time_limit: 30,
        soft_time_limit: 20,
        params: ['a', 'b'],
        bind: true,
        autoretry_for: ['ValueError'],
        retry_backoff: 3,
        retry_backoff_max: 60,
        retry_jitter: false,
      },
    );
    expect(plan).toMatchObject({
      rateLimitPerSec: 10 / 60,
      acksLate: true,
      ignoreResult: true,
      trackStarted: true,
      maxRetries: null,
      defaultRetryDelaySec: 5,
      timeLimitSec: 30,
      softTimeLimitSec: 20,
      params: ['a', 'b'],
      bind: true,
      autoretryFor: new Set(['ValueError']),
      retryBackoff: 3,
      retryBackoffMaxSec: 60,
      retryJitter: false,
    });
  });
});
