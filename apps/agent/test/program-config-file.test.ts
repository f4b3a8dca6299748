import { classifyChange, type EffectiveConfig } from '@celeriac/config-schema';
import { describe, expect, it } from 'vitest';
import { renderProgramConfig } from '../src/index.js';
import { TEST_LAUNCH_CONTEXT } from './support/launch-context.js';

const ctx = TEST_LAUNCH_CONTEXT;

function nodeConfig(celery: Record<string, unknown>): EffectiveConfig {
  return {
    celery,
    programs: {
      workers: {
        kind: 'celeriac-worker',
        app: './tasks.mjs',
        queues: ['celery'],
        replicas: 1,
        concurrency: 4,
        stop_timeout: '30s',
        ready_timeout: '30s',
      },
    },
  };
}

describe("a celeriac worker's config.json", () => {
  const base = { broker_url: 'redis://127.0.0.1:6379/0', task_serializer: 'json', accept_content: ['json'] };

  it('holds the settings the worker reads', () => {
    const config = nodeConfig({ ...base, task_annotations: { 'tasks.add': { rate_limit: '10/s' } } });
    const rendered = renderProgramConfig('workers', config.programs.workers!, config, ctx, 1);
    expect(JSON.parse(rendered.content)).toEqual({
      ...base,
      task_annotations: { 'tasks.add': { rate_limit: '10/s' } },
    });
  });

  it('does not change for a setting only Python Celery reads, exactly when no restart is due', () => {
    const before = nodeConfig(base);
    // worker_pool means nothing to a celeriac worker (docs/settings.md: meaningless).
    const after = nodeConfig({ ...base, worker_pool: 'solo' });
    const changes = classifyChange(before, after);
    expect(changes.workers?.action).toBe('none');
    const a = renderProgramConfig('workers', before.programs.workers!, before, ctx, 1);
    const b = renderProgramConfig('workers', after.programs.workers!, after, ctx, 2);
    expect(b.hash).toBe(a.hash);
  });
});
