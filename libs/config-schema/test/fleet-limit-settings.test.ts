import { describe, expect, it } from 'vitest';
import {
  classifyChange,
  type EffectiveConfig,
  fleetLimitsOf,
  mergeLayers,
  validateEffectiveConfig,
  validateLayer,
  withoutFleetLimits,
} from '../src/index.js';

function config(patch: unknown = {}): EffectiveConfig {
  const base = {
    celery: {
      broker_url: 'redis://10.0.0.5:6379/0',
      task_annotations: { 'tasks.add': { rate_limit: '10/m' } },
    },
    programs: {
      ts: { kind: 'celeriac-worker', app: './tasks.js', queues: ['celery'] },
      py: { kind: 'celery-worker', app: 'proj.tasks', queues: ['celery'] },
    },
  };
  const result = validateEffectiveConfig(mergeLayers(base, patch));
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.value;
}

describe('fleet limit settings', () => {
  it('are validated in task_annotations and celeriac_fleet_limits, each problem by path', () => {
    const ok = validateLayer('defaults', {
      celery: {
        task_annotations: {
          'tasks.add': { fleet_rate_limit: '20/s', fleet_concurrency: 2, fleet_limit_key: 'tenant' },
        },
        celeriac_fleet_limits: { queues: { celery: { rate_limit: '100/s', concurrency: 4, lease: 10 } } },
      },
    });
    expect(ok.ok).toBe(true);
    const bad = validateLayer('defaults', {
      celery: {
        task_annotations: { 'tasks.add': { fleet_rate_limit: 'fast', fleet_concurrency: 0 } },
        celeriac_fleet_limits: { queues: { celery: { rate: '1/s' } }, workers: {} },
      },
    });
    expect(bad.ok).toBe(false);
    const paths = bad.ok ? [] : bad.issues.map((i) => i.path).sort();
    expect(paths).toEqual([
      'celery.celeriac_fleet_limits.queues.celery.rate',
      'celery.celeriac_fleet_limits.workers',
      'celery.task_annotations["tasks.add"].fleet_concurrency',
      'celery.task_annotations["tasks.add"].fleet_rate_limit',
    ]);
  });

  it('change live: no program restarts, and the reason says so', () => {
    const before = config({ celery: { task_annotations: { 'tasks.add': { fleet_rate_limit: '20/s' } } } });
    const after = config({
      celery: {
        task_annotations: { 'tasks.add': { fleet_rate_limit: '40/s' } },
        celeriac_fleet_limits: { queues: { celery: { concurrency: 3 } } },
      },
    });
    const plan = classifyChange(before, after);
    expect(plan.ts?.action).toBe('none');
    expect(plan.py?.action).toBe('none');
    expect(plan.ts?.reasons.join(' ')).toMatch(/fleet limits changed .*40\/s.*live, the agent writes them to Redis/);
    // Added where there were none: still live.
    expect(classifyChange(config(), before).ts?.action).toBe('none');
    // The per-worker rate_limit beside it keeps its restart.
    const perWorker = config({
      celery: { task_annotations: { 'tasks.add': { rate_limit: '5/s', fleet_rate_limit: '20/s' } } },
    });
    expect(classifyChange(before, perWorker).ts).toMatchObject({ action: 'restart' });
  });

  it('split from the other settings', () => {
    const celery = {
      task_annotations: {
        'tasks.add': { rate_limit: '1/s', fleet_rate_limit: '2/s' },
        'tasks.x': { fleet_concurrency: 1 },
      },
      celeriac_fleet_limits: { queues: { q: { rate_limit: '1/s' } } },
      broker_url: 'redis://h/0',
    };
    expect(withoutFleetLimits(celery)).toEqual({
      task_annotations: { 'tasks.add': { rate_limit: '1/s' } },
      broker_url: 'redis://h/0',
    });
    expect(fleetLimitsOf(celery)).toEqual({
      task_annotations: { 'tasks.add': { fleet_rate_limit: '2/s' }, 'tasks.x': { fleet_concurrency: 1 } },
      celeriac_fleet_limits: { queues: { q: { rate_limit: '1/s' } } },
    });
  });
});
