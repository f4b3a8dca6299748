import type { OutgoingTask, Signature } from '@celeriac/protocol';
import { describe, expect, it } from 'vitest';
import type { ApplyOptions } from '../src/apply-options.js';
import { buildOutgoing, NO_TASK_OPTIONS, type OutgoingContext } from '../src/build-outgoing.js';
import { CELERY_DEFAULTS } from '../src/defaults.js';
import { compileRoutes, type TaskRoutes } from '../src/router.js';
import type { TaskOptions } from '../src/task-options.js';

const NOW = Date.UTC(2026, 0, 2, 3, 4, 5);

function context(settings: Record<string, unknown> = {}): OutgoingContext {
  const all = { ...CELERY_DEFAULTS, ...settings };
  return {
    settings: all,
    routes: compileRoutes(all.task_routes as TaskRoutes),
    origin: 'gen1@host',
    replyTo: 'oid-1',
    now: () => NOW,
    newId: () => 'id-1',
  };
}

const sig: Signature = { task: 't.cb', args: [], kwargs: {}, options: {}, subtask_type: null, immutable: false };

interface Case {
  what: string;
  settings?: Record<string, unknown>;
  options?: ApplyOptions;
  own?: TaskOptions;
  want: Partial<OutgoingTask>;
}

const CASES: Case[] = [
  {
    what: 'defaults: a fresh id as root, the default queue, json, no limits',
    want: {
      id: 'id-1',
      task: 't.a',
      rootId: 'id-1',
      parentId: null,
      queue: 'celery',
      serializer: 'json',
      priority: 0,
      eta: null,
      expires: null,
      retries: 0,
      timelimit: [null, null],
      ignoreResult: false,
      origin: 'gen1@host',
      replyTo: 'oid-1',
      embed: { callbacks: null, errbacks: null, chain: null, chord: null },
    },
  },
  {
    what: 'countdown counts from the context clock',
    options: { countdown: 10 },
    want: { eta: new Date(NOW + 10_000) },
  },
  { what: 'eta is taken as given', options: { eta: new Date(NOW + 5) }, want: { eta: new Date(NOW + 5) } },
  { what: 'numeric expires is seconds from now', options: { expires: 60 }, want: { expires: new Date(NOW + 60_000) } },
  {
    what: 'call queue beats the task option, which beats task_routes',
    settings: { task_routes: { 't.a': 'routed' } },
    options: { queue: 'call' },
    own: { queue: 'own' },
    want: { queue: 'call' },
  },
  {
    what: 'the task queue option beats task_routes',
    settings: { task_routes: { 't.a': 'routed' } },
    own: { queue: 'own' },
    want: { queue: 'own' },
  },
  {
    what: 'task_routes beats task_default_queue, and its priority applies',
    settings: { task_routes: { 't.*': { queue: 'routed', priority: 4 } }, task_default_queue: 'dflt' },
    want: { queue: 'routed', priority: 4 },
  },
  { what: 'task_default_queue', settings: { task_default_queue: 'dflt' }, want: { queue: 'dflt' } },
  {
    what: 'serializer: call, then task option, then task_serializer',
    settings: { task_serializer: 'json' },
    own: { serializer: 'msgpack' },
    want: { serializer: 'msgpack' },
  },
  {
    what: 'time limits: call, then task option, then settings',
    settings: { task_time_limit: 100, task_soft_time_limit: 90 },
    options: { soft_time_limit: 5 },
    own: { time_limit: 50 },
    want: { timelimit: [50, 5] },
  },
  {
    what: 'ignore_result: task option over task_ignore_result',
    settings: { task_ignore_result: true },
    own: { ignore_result: false },
    want: { ignoreResult: false },
  },
  {
    what: 'ids, links, shadow and headers pass through',
    options: {
      task_id: 'given',
      root_id: 'r',
      parent_id: 'p',
      shadow: 'nick',
      link: sig,
      link_error: [sig],
      headers: { tenant: 'x' },
    },
    want: {
      id: 'given',
      rootId: 'r',
      parentId: 'p',
      shadow: 'nick',
      embed: { callbacks: [sig], errbacks: [sig], chain: null, chord: null },
      extraHeaders: { tenant: 'x' },
    },
  },
];

describe('buildOutgoing', () => {
  it.each(CASES)('$what', ({ settings, options, own, want }) => {
    const out = buildOutgoing(context(settings), 't.a', [1], {}, options ?? {}, own ?? NO_TASK_OPTIONS);
    expect(out).toMatchObject(want);
    expect(out.args).toEqual([1]);
  });

  it.each([
    { what: 'args not an array', args: 'x', message: 'args of task t.a must be an array' },
    { what: 'kwargs an array', kwargs: [], message: 'kwargs of task t.a must be an object' },
    { what: 'countdown NaN', options: { countdown: Number.NaN }, message: 'countdown must be a number' },
    { what: 'invalid eta', options: { eta: new Date(Number.NaN) }, message: 'eta must be a valid Date' },
    {
      what: 'expires a string',
      options: { expires: 'soon' },
      message: 'expires must be a number of seconds or a Date',
    },
    { what: 'unknown serializer', options: { serializer: 'pickle' }, message: 'serializer "pickle" is not supported' },
    { what: 'priority out of range', options: { priority: 256 }, message: 'priority must be an integer from 0 to 9' },
  ])('refuses $what with CLIENT_APPLY_OPTIONS_INVALID', ({ args, kwargs, options, message }) => {
    const build = () =>
      buildOutgoing(
        context(),
        't.a',
        (args ?? []) as unknown[],
        (kwargs ?? {}) as Record<string, unknown>,
        (options ?? {}) as ApplyOptions,
        NO_TASK_OPTIONS,
      );
    expect(build).toThrow(
      expect.objectContaining({ code: 'CLIENT_APPLY_OPTIONS_INVALID', message: expect.stringContaining(message) }),
    );
  });

  it('is pure: the same inputs give the same message', () => {
    const ctx = context({ task_routes: { 't.a': 'q' } });
    expect(buildOutgoing(ctx, 't.a', [1], { k: 2 }, { countdown: 1 }, NO_TASK_OPTIONS)).toEqual(
      buildOutgoing(ctx, 't.a', [1], { k: 2 }, { countdown: 1 }, NO_TASK_OPTIONS),
    );
  });
});
