import { describe, expect, it } from 'vitest';
import { validateLayer } from '../src/index.js';

function issues(celery: Record<string, unknown>) {
  const r = validateLayer('defaults', { celery });
  return r.ok ? [] : r.issues;
}

describe('task_queues and task_default_exchange_type in the settings schema', () => {
  it('accepts the list and the map form with exchanges, types, routing keys and queue arguments', () => {
    expect(
      issues({
        task_queues: [
          {
            name: 'video',
            exchange: 'media',
            exchange_type: 'direct',
            routing_key: 'media.video',
            queue_arguments: { 'x-max-priority': 10 },
          },
          { name: 'all_media', exchange: 'media_t', exchange_type: 'topic', routing_key: 'media.#' },
          'plain',
        ],
        task_default_exchange_type: 'topic',
      }),
    ).toEqual([]);
    expect(issues({ task_queues: { video: { exchange: 'media', routing_key: 'media.video' }, plain: {} } })).toEqual(
      [],
    );
  });

  it('reports each problem at its path', () => {
    expect(
      issues({
        task_queues: [
          { name: 'video', exchange: 'media', exchange_type: 'headers' },
          { exchange: 'x' },
          { name: 'video' },
          { name: 'q', routing_key: 5, queue_arguments: [] },
          42,
        ],
        task_default_exchange_type: 'match',
      }).map((i) => i.path),
    ).toEqual([
      'celery.task_queues[0].exchange_type',
      'celery.task_queues[1].name',
      'celery.task_queues[2].name',
      'celery.task_queues[3].routing_key',
      'celery.task_queues[3].queue_arguments',
      'celery.task_queues[4]',
      'celery.task_default_exchange_type',
    ]);
    expect(issues({ task_queues: 'video' })[0]?.message).toMatch(/must be a list such as/);
    expect(issues({ task_queues: { 'bad name!': {} } })[0]?.path).toBe('celery.task_queues["bad name!"]');
  });
});
