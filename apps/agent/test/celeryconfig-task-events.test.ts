import { classifyChange, type EffectiveConfig } from '@celeriac/config-schema';
import { describe, expect, it } from 'vitest';
import { renderProgramConfig } from '../src/index.js';
import { renderCeleryconfig } from '../src/render-celeryconfig.js';
import { TEST_LAUNCH_CONTEXT } from './support/launch-context.js';

// The agent turns task events on for its Python programs (their health comes from them) unless
// the layers say `worker_send_task_events: false`; a Python program restarts exactly when the
// rendered setting changes.

const ctx = TEST_LAUNCH_CONTEXT;
const base = { broker_url: 'redis://127.0.0.1:6379/0' };
const timeouts = { stop_timeout: '30s', ready_timeout: '30s' };

function nodeConfig(celery: Record<string, unknown>): EffectiveConfig {
  return {
    celery,
    programs: {
      py: { kind: 'celery-worker', app: 'proj', queues: ['celery'], replicas: 1, concurrency: 2, ...timeouts },
      workers: {
        kind: 'celeriac-worker',
        app: './tasks.mjs',
        queues: ['celery'],
        replicas: 1,
        concurrency: 4,
        ...timeouts,
      },
    },
  };
}

/** The settings lines of a program's rendered config (the header names the revision). */
function settingsOf(config: EffectiveConfig, program: 'py' | 'workers'): string {
  const rendered = renderProgramConfig(program, config.programs[program]!, config, ctx, 1);
  return rendered.content
    .split('\n')
    .filter((line) => !line.startsWith('#'))
    .join('\n');
}

describe("task events in a Python program's celeryconfig.py", () => {
  it('are on when the layers leave them unset, and task-sent events are not asked for', () => {
    const source = renderCeleryconfig(base, { node: 'a', program: 'py', revision: 1 });
    expect(source).toMatch(/^worker_send_task_events = True$/m);
    expect(source).not.toContain('task_send_sent_event');
  });

  it("keep a layer's false", () => {
    const source = renderCeleryconfig(
      { ...base, worker_send_task_events: false },
      { node: 'a', program: 'py', revision: 1 },
    );
    expect(source).toMatch(/^worker_send_task_events = False$/m);
  });

  it("are not added to a celeriac worker's config.json", () => {
    expect(JSON.parse(settingsOf(nodeConfig(base), 'workers'))).toEqual(base);
  });

  it.each([
    ['unset', 'true', undefined, true, 'none'],
    ['true', 'unset', true, undefined, 'none'],
    ['unset', 'false', undefined, false, 'restart'],
    ['true', 'false', true, false, 'restart'],
    ['false', 'unset', false, undefined, 'restart'],
  ] as const)('%s → %s restarts the Python program: %s', (_from, _to, before, after, action) => {
    const old = nodeConfig(before === undefined ? base : { ...base, worker_send_task_events: before });
    const now = nodeConfig(after === undefined ? base : { ...base, worker_send_task_events: after });
    const change = classifyChange(old, now).py;
    expect(change?.action).toBe(action);
    // The rendered settings change exactly when the program restarts.
    expect(settingsOf(old, 'py') !== settingsOf(now, 'py')).toBe(action === 'restart');
    if (action === 'restart') expect(change?.reasons.join('; ')).toContain('worker_send_task_events changed');
  });
});
