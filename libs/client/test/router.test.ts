import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CELERY_FIXTURES_DIR } from '../../../test/support/celery-fixtures.js';
import { annotationsFor } from '../src/annotations.js';
import { globToRegExp, routeFor, type TaskRoutes } from '../src/router.js';

const FIXTURES = CELERY_FIXTURES_DIR;
const semantics = JSON.parse(readFileSync(`${FIXTURES}/routing_and_rate_limit_semantics.json`, 'utf8')) as {
  task_routes: Record<
    string,
    { result: Record<string, { queue: string; routing_key: string; extra_options: { priority?: number } }> }
  >;
};

// The fixture's Python route tables, written the way a JS/JSON user writes them.
const TABLES: Record<string, TaskRoutes> = {
  dict_exact_and_glob: { 'wireapp.routed': { queue: 'other' }, 'wireapp.glob_*': { queue: 'globq' } },
  dict_value_is_queue_name_string: { 'wireapp.add': 'strq' },
  list_of_dicts_first_match_wins: [{ 'wireapp.*': { queue: 'first' } }, { 'wireapp.add': { queue: 'second' } }],
  regex_key_in_dict: [[[/^wireapp\.(add|mul)$/, { queue: 'rx' }]]],
  tuple_of_pair_lists_ordered: [
    [
      ['wireapp.add', { queue: 'p1' }],
      ['wireapp.*', { queue: 'p2' }],
    ],
  ],
  glob_with_routing_key_and_priority: { 'wireapp.*': { queue: 'q', routing_key: 'rk', priority: 7 } },
};

describe('routeFor against Celery 5.2 router results', () => {
  for (const [caseName, table] of Object.entries(TABLES)) {
    it(`matches Celery for ${caseName}`, () => {
      const expected = semantics.task_routes[caseName]!.result;
      expect(Object.keys(expected).length).toBeGreaterThan(0);
      for (const [taskName, want] of Object.entries(expected)) {
        const got = routeFor(taskName, table, 'celery');
        expect(got.queue, `${caseName}: ${taskName}`).toBe(want.queue);
        expect(got.routing_key, `${caseName}: ${taskName}`).toBe(want.routing_key);
        expect(got.priority, `${caseName}: ${taskName}`).toBe(want.extra_options.priority);
      }
    });
  }

  it('prefers an exact name over a glob in the same dict, whatever the order', () => {
    const routes = { 'tasks.*': { queue: 'glob' }, 'tasks.add': { queue: 'exact' } };
    expect(routeFor('tasks.add', routes, 'celery').queue).toBe('exact');
    expect(routeFor('tasks.mul', routes, 'celery').queue).toBe('glob');
  });

  it('sends unmatched tasks, and tasks without routes, to the default queue', () => {
    expect(routeFor('x.y', { 'tasks.*': 'q' }, 'dflt')).toEqual({ queue: 'dflt', routing_key: 'dflt' });
    expect(routeFor('x.y', null, 'celery').queue).toBe('celery');
    expect(routeFor('x.y', undefined, 'celery').queue).toBe('celery');
    expect(routeFor('x.y', [], 'celery').queue).toBe('celery');
  });

  it('accepts bare [pattern, route] pairs as list entries, as the config schema allows', () => {
    const routes: TaskRoutes = [['tasks.add', 'q1'], ['tasks.*', { queue: 'q2', priority: 4 }], { 'other.*': 'q3' }];
    expect(routeFor('tasks.add', routes, 'celery').queue).toBe('q1');
    expect(routeFor('tasks.mul', routes, 'celery')).toEqual({ queue: 'q2', routing_key: 'q2', priority: 4 });
    expect(routeFor('other.x', routes, 'celery').queue).toBe('q3');
    expect(routeFor('none', routes, 'celery').queue).toBe('celery');
  });

  it('accepts router functions in a list, as Celery does', () => {
    const routes: TaskRoutes = [(name) => (name.endsWith('.slow') ? { queue: 'slow' } : undefined), { '*': 'rest' }];
    expect(routeFor('a.slow', routes, 'celery').queue).toBe('slow');
    expect(routeFor('a.fast', routes, 'celery').queue).toBe('rest');
  });

  it('treats only glob characters as patterns', () => {
    expect(globToRegExp('tasks.*').test('tasks.add')).toBe(true);
    expect(globToRegExp('tasks.*').test('tasksXadd')).toBe(false);
    expect(globToRegExp('t?sks.[am]dd').test('tasks.add')).toBe(true);
    expect(globToRegExp('t?sks.[!a]dd').test('tasks.add')).toBe(false);
    expect(routeFor('tasksXadd', { 'tasks.add': 'q' }, 'celery').queue).toBe('celery');
  });
});

describe('annotationsFor', () => {
  it('merges the exact entry with the * entry on top, as Celery applies them', () => {
    const annotations = { 'tasks.add': { rate_limit: '10/m', acks_late: true }, '*': { rate_limit: '5/s' } };
    expect(annotationsFor('tasks.add', annotations)).toEqual({ rate_limit: '5/s', acks_late: true });
    expect(annotationsFor('tasks.mul', annotations)).toEqual({ rate_limit: '5/s' });
  });

  it('takes the first matching map of a list', () => {
    const annotations = [{ 'tasks.add': { rate_limit: '1/s' } }, { 'tasks.add': { rate_limit: '2/s' } }];
    expect(annotationsFor('tasks.add', annotations)).toEqual({ rate_limit: '1/s' });
    expect(annotationsFor('tasks.mul', annotations)).toEqual({});
    expect(annotationsFor('tasks.mul', null)).toEqual({});
  });
});
