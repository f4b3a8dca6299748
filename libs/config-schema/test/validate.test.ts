import { describe, expect, it } from 'vitest';
import {
  formatIssues,
  formatPath,
  type ValidationIssue,
  validateEffectiveConfig,
  validateLayer,
} from '../src/index.js';

function issuesOf(result: { ok: true } | { ok: false; issues: ValidationIssue[] }): ValidationIssue[] {
  if (result.ok) throw new Error('expected the document to be refused');
  return result.issues;
}

const worker = { kind: 'celeriac-worker', app: './tasks.js', queues: ['celery'] };

describe('validateLayer', () => {
  it('accepts the design example and returns it normalised', () => {
    const doc = {
      groups: ['web'],
      celery: {
        BROKER_URL: 'redis://10.0.0.5:6379/0',
        task_routes: { 'tasks.add': { queue: 'add_queue' } },
        task_annotations: { 'tasks.add': { rate_limit: '10/m' } },
        task_serializer: 'json',
      },
      programs: {
        workers: {
          kind: 'celeriac-worker',
          app: './tasks.ts',
          queues: ['celery'],
          replicas: 2,
          concurrency: 16,
          stop_timeout: '30s',
        },
      },
    };
    const result = validateLayer('nodes/web-1', doc);
    expect(result).toEqual({
      ok: true,
      warnings: [],
      value: { ...doc, celery: { ...doc.celery, BROKER_URL: undefined, broker_url: 'redis://10.0.0.5:6379/0' } },
    });
    if (result.ok) expect(Object.keys(result.value.celery ?? {})).not.toContain('BROKER_URL');
  });

  it('accepts partial programs and nulls (deletions) in layers', () => {
    expect(
      validateLayer('groups/web', { programs: { workers: { replicas: 4, env: { A: null } }, old: null } }).ok,
    ).toBe(true);
    expect(
      validateLayer('defaults', { celery: { task_annotations: { 'tasks.add': null }, broker_url: null } }).ok,
    ).toBe(true);
    expect(validateLayer('defaults', {}).ok).toBe(true);
  });

  it('warns when an old and a new name are both set', () => {
    const result = validateLayer('defaults', { celery: { CELERY_ROUTES: { a: 'x' }, task_routes: { b: 'y' } } });
    expect(result).toMatchObject({ ok: true, value: { celery: { task_routes: { b: 'y' } } } });
    if (result.ok)
      expect(result.warnings).toEqual([expect.stringContaining('CELERY_ROUTES and task_routes are both set')]);
  });

  it('warns about settings Celery does not know, suggesting the likely one', () => {
    const result = validateLayer('defaults', {
      celery: { task_serialiser: 'json', CELERY_FOO: 1, celeriac_extra: true, totally_unrelated_name: 1 },
    });
    expect(result.ok && result.warnings).toEqual([
      'celery.task_serialiser is not a Celery setting; it is kept, but no worker reads it (did you mean task_serializer?)',
      'celery.CELERY_FOO is not a Celery setting; it is kept, but no worker reads it',
      'celery.totally_unrelated_name is not a Celery setting; it is kept, but no worker reads it',
    ]);
  });

  it.each([
    ['nodes/../etc'],
    ['nodes/'],
    ['nodes/UPPER'],
    ['groups/a/b'],
    ['defaults/x'],
    ['other'],
    [`nodes/${'a'.repeat(64)}`],
    ['nodes/a..b'],
  ])('refuses the layer name %s', (layer) => {
    expect(issuesOf(validateLayer(layer, {}))).toEqual([
      {
        path: layer,
        message: expect.stringMatching(/^layer names are "defaults", "groups\/<group>" or "nodes\/<node>"/),
      },
    ]);
  });

  it('accepts good layer names', () => {
    for (const layer of ['defaults', 'groups/web', 'nodes/web-1', 'nodes/a.b_c', `nodes/${'a'.repeat(63)}`]) {
      expect(validateLayer(layer, {}).ok).toBe(true);
    }
  });

  const cases: [string, unknown, ValidationIssue[]][] = [
    ['a non-object document', [1], [{ path: '', message: expect.stringContaining('must be a JSON object') }]],
    [
      'an unknown top-level field',
      { celerey: {} },
      [{ path: 'celerey', message: expect.stringContaining('is not a layer field') }],
    ],
    [
      'a bad rate limit in an annotation',
      { celery: { task_annotations: { 'tasks.add': { rate_limit: '10/x' } } } },
      [
        {
          path: 'celery.task_annotations["tasks.add"].rate_limit',
          message: '"10/x" is not a rate limit; use a number per second or "<n>/s", "<n>/m", "<n>/h"',
        },
      ],
    ],
    [
      'a bad rate limit in the list form of annotations',
      { celery: { CELERY_ANNOTATIONS: [{ '*': { rate_limit: 'fast' } }] } },
      [
        {
          path: 'celery.task_annotations[0]["*"].rate_limit',
          message: expect.stringContaining('"fast" is not a rate limit'),
        },
      ],
    ],
    [
      'a bad task_default_rate_limit',
      { celery: { task_default_rate_limit: -3 } },
      [{ path: 'celery.task_default_rate_limit', message: expect.stringContaining('-3 is not a rate limit') }],
    ],
    [
      'annotation option types',
      {
        celery: {
          task_annotations: { t: { time_limit: 0, acks_late: 'yes', max_retries: 1.5, serializer: 'xml' }, u: 3 },
        },
      },
      [
        { path: 'celery.task_annotations.t.time_limit', message: 'must be a number greater than 0' },
        { path: 'celery.task_annotations.t.acks_late', message: 'must be true or false' },
        { path: 'celery.task_annotations.t.max_retries', message: 'must be an integer of at least 0' },
        { path: 'celery.task_annotations.t.serializer', message: '"xml" is not a serializer; use "json" or "msgpack"' },
        { path: 'celery.task_annotations.u', message: 'must be an object' },
      ],
    ],
    [
      'pickle and yaml serializers',
      { celery: { task_serializer: 'pickle', result_serializer: 'yaml' } },
      [
        {
          path: 'celery.task_serializer',
          message: '"pickle" is not supported: Celeriac workers speak only "json" and "msgpack"',
        },
        {
          path: 'celery.result_serializer',
          message: '"yaml" is not supported: Celeriac workers speak only "json" and "msgpack"',
        },
      ],
    ],
    [
      'accept_content missing the task serializer',
      { celery: { task_serializer: 'msgpack', accept_content: ['json'] } },
      [{ path: 'celery.accept_content', message: 'must include the task serializer "msgpack"' }],
    ],
    [
      'accept_content missing the result serializer',
      { celery: { result_serializer: 'msgpack', accept_content: ['application/json'] } },
      [{ path: 'celery.accept_content', message: 'must include the result serializer "msgpack"' }],
    ],
    [
      'accept_content with pickle, unknown types, or empty',
      { celery: { accept_content: ['json', 'pickle', 'application/x-python-serialize', 'text/xml'] } },
      [
        { path: 'celery.accept_content[1]', message: expect.stringContaining('"pickle" is not supported') },
        { path: 'celery.accept_content[2]', message: expect.stringContaining('is not supported') },
        { path: 'celery.accept_content[3]', message: expect.stringContaining('"text/xml" is not a serializer') },
      ],
    ],
    [
      'an empty accept_content',
      { celery: { accept_content: [] } },
      [{ path: 'celery.accept_content', message: expect.stringContaining('at least one') }],
    ],
    [
      'a bad URL, without repeating it',
      { celery: { broker_url: 'localhost:6379 password=hunter2', result_backend: 5 } },
      [
        {
          path: 'celery.broker_url',
          message: expect.stringMatching(
            /^broker_url: must be a Redis URL without spaces, e\.g\. "redis:\/\/host:6379\/0"/,
          ),
        },
        {
          path: 'celery.result_backend',
          message: expect.stringMatching(/^result_backend: must be a Redis URL, e\.g\. "redis:\/\/host:6379\/0"/),
        },
      ],
    ],
    [
      'bad routes in dict form',
      { celery: { task_routes: { 'tasks.add': { queue: 'bad queue', priority: 300 }, 'tasks.mul': 7 } } },
      [
        {
          path: 'celery.task_routes["tasks.add"].queue',
          message: expect.stringContaining('"bad queue" is not a queue name'),
        },
        { path: 'celery.task_routes["tasks.add"].priority', message: 'must be an integer from 0 to 255' },
        {
          path: 'celery.task_routes["tasks.mul"]',
          message: expect.stringContaining('must be a queue name or an object'),
        },
      ],
    ],
    [
      'bad routes in list form',
      { celery: { task_routes: [{ 'tasks.*': 'ok' }, ['tasks.x', { queue: '' }], 'my.Router', 5] } },
      [
        { path: 'celery.task_routes[1][1].queue', message: expect.stringContaining('"" is not a queue name') },
        {
          path: 'celery.task_routes[2]',
          message: expect.stringContaining('router classes given by import path are not supported'),
        },
        { path: 'celery.task_routes[3]', message: expect.stringContaining('or a ["pattern", route] pair') },
      ],
    ],
    [
      'routes of the wrong type',
      { celery: { CELERY_ROUTES: 'x' } },
      [{ path: 'celery.task_routes', message: expect.stringContaining('must be an object') }],
    ],
    [
      'queue names and integers',
      {
        celery: {
          task_default_queue: 'a b',
          worker_concurrency: 0,
          worker_prefetch_multiplier: -1,
          task_acks_late: 'true',
          result_expires: -1,
        },
      },
      [
        { path: 'celery.task_default_queue', message: expect.stringContaining('"a b" is not a queue name') },
        { path: 'celery.worker_concurrency', message: 'must be an integer from 1 to 1024' },
        { path: 'celery.worker_prefetch_multiplier', message: 'must be an integer from 0 to 65536' },
        { path: 'celery.task_acks_late', message: 'must be true or false' },
        { path: 'celery.result_expires', message: 'must be a number of at least 0' },
      ],
    ],
    [
      'broker transport options',
      { celery: { BROKER_TRANSPORT_OPTIONS: { visibility_timeout: 'long' } } },
      [
        {
          path: 'celery.broker_transport_options.visibility_timeout',
          message: 'must be a number greater than 0 (set as BROKER_TRANSPORT_OPTIONS)',
        },
      ],
    ],
    ['celery of the wrong type', { celery: [] }, [{ path: 'celery', message: 'must be an object of Celery settings' }]],
    [
      'program fields',
      {
        programs: {
          workers: {
            kind: 'daemon',
            replicas: 100,
            concurrency: 0,
            queues: [],
            env: { '1BAD': 'x', PORT: 8080 },
            stop_timeout: 'soon',
            ready_timeout: -1,
            command: [],
            config_file: '../etc/passwd',
            loglevel: 'loud',
            replica: 2,
          },
        },
      },
      [
        {
          path: 'programs.workers.kind',
          message: '"daemon" is not a program kind; use "celeriac-worker", "celery-worker" or "command"',
        },
        { path: 'programs.workers.replicas', message: 'must be an integer from 0 to 64' },
        { path: 'programs.workers.concurrency', message: 'must be an integer from 1 to 1024' },
        { path: 'programs.workers.queues', message: 'must list at least one entry' },
        {
          path: 'programs.workers.env["1BAD"]',
          message: expect.stringContaining('is not an environment variable name'),
        },
        { path: 'programs.workers.env.PORT', message: 'must be a string (quote numbers and booleans)' },
        { path: 'programs.workers.stop_timeout', message: expect.stringContaining('"soon" is not a duration') },
        { path: 'programs.workers.ready_timeout', message: expect.stringContaining('-1 is not a duration') },
        { path: 'programs.workers.command', message: expect.stringContaining('must be a non-empty list of strings') },
        { path: 'programs.workers.config_file', message: expect.stringContaining('must be a plain file name') },
        { path: 'programs.workers.loglevel', message: expect.stringContaining('"loud" is not a log level') },
        { path: 'programs.workers.replica', message: expect.stringContaining('is not a program field') },
      ],
    ],
    [
      'program names and shapes',
      { programs: { 'Bad Name': { kind: 'command', command: ['x'] }, ok: 5, q: { queues: ['fine', 'not fine'] } } },
      [
        { path: 'programs["Bad Name"]', message: expect.stringContaining('is not a valid program name') },
        { path: 'programs.ok', message: 'must be an object describing the program, or null to remove it' },
        { path: 'programs.q.queues[1]', message: expect.stringContaining('"not fine" is not a queue name') },
      ],
    ],
    [
      'programs of the wrong type',
      { programs: [] },
      [{ path: 'programs', message: expect.stringContaining('must be an object of program name') }],
    ],
    [
      'bad group names',
      { groups: ['web', '../x', 7] },
      [
        { path: 'groups[1]', message: expect.stringContaining('"../x" is not a valid group name') },
        { path: 'groups[2]', message: expect.stringContaining('7 is not a valid group name') },
      ],
    ],
  ];

  it.each(cases)('reports %s with its path', (_what, doc, expected) => {
    expect(issuesOf(validateLayer('nodes/n1', doc))).toEqual(expected);
  });

  it('refuses groups outside node layers', () => {
    expect(issuesOf(validateLayer('defaults', { groups: ['web'] }))).toEqual([
      { path: 'groups', message: 'only a node layer lists groups; set "groups" in nodes/<node>' },
    ]);
    expect(issuesOf(validateLayer('groups/web', { groups: ['x'] }))[0]?.path).toBe('groups');
  });

  it('reports every problem at once, the layer name included', () => {
    const issues = issuesOf(
      validateLayer('nodes/../etc', {
        celery: {
          task_serializer: 'msgpack',
          accept_content: ['json'],
          task_annotations: { 'tasks.add': { rate_limit: '10/x' } },
        },
        programs: { workers: { replicas: 65 } },
      }),
    );
    expect(formatIssues(issues).split('\n')).toEqual([
      expect.stringMatching(/^nodes\/\.\.\/etc: layer names are/),
      'celery.task_annotations["tasks.add"].rate_limit: "10/x" is not a rate limit; use a number per second or "<n>/s", "<n>/m", "<n>/h"',
      'celery.accept_content: must include the task serializer "msgpack"',
      'programs.workers.replicas: must be an integer from 0 to 64',
    ]);
  });
});

describe('validateEffectiveConfig', () => {
  it('fills program defaults and normalises Celery names', () => {
    expect(validateEffectiveConfig({ celery: { BROKER_URL: 'redis://h/0' }, programs: { w: worker } })).toEqual({
      ok: true,
      warnings: [],
      value: {
        celery: { broker_url: 'redis://h/0' },
        programs: { w: { ...worker, replicas: 1, stop_timeout: '30s', ready_timeout: '30s' } },
      },
    });
    expect(validateEffectiveConfig({})).toEqual({ ok: true, warnings: [], value: { celery: {}, programs: {} } });
  });

  it('requires what each program kind needs', () => {
    expect(
      issuesOf(
        validateEffectiveConfig({
          programs: {
            a: { kind: 'celeriac-worker' },
            b: { kind: 'celery-worker' },
            c: { kind: 'celery-worker', app: './tasks.py' },
            d: { kind: 'command' },
            e: { replicas: 1 },
          },
        }),
      ),
    ).toEqual([
      { path: 'programs.a.app', message: expect.stringContaining('is required for a celeriac-worker') },
      { path: 'programs.b.app', message: expect.stringContaining('is required for a celery-worker') },
      { path: 'programs.c.app', message: expect.stringContaining('"./tasks.py" is not a Python module name') },
      { path: 'programs.d.command', message: expect.stringContaining('is required for a command program') },
      { path: 'programs.e.kind', message: expect.stringContaining('is required') },
    ]);
  });

  it("fills Celery's defaults for the serializer cross-check", () => {
    expect(issuesOf(validateEffectiveConfig({ celery: { task_serializer: 'msgpack' } }))).toEqual([
      {
        path: 'celery.accept_content',
        message:
          'must include the task serializer "msgpack" (Celery accepts only ["json"] when accept_content is not set)',
      },
    ]);
    expect(
      validateEffectiveConfig({ celery: { task_serializer: 'msgpack', accept_content: ['msgpack', 'json'] } }).ok,
    ).toBe(true);
  });

  it('does not allow nulls or unknown fields in a merged config', () => {
    expect(issuesOf(validateEffectiveConfig({ programs: { w: null }, extra: 1 }))).toEqual([
      { path: 'programs.w', message: 'must be an object describing the program' },
      { path: 'extra', message: expect.stringContaining('is not a config field') },
    ]);
  });
});

describe('formatPath', () => {
  it('writes identifiers with dots and other keys quoted', () => {
    expect(formatPath(['celery', 'task_annotations', 'tasks.add', 'rate_limit'])).toBe(
      'celery.task_annotations["tasks.add"].rate_limit',
    );
    expect(formatPath(['groups', 2])).toBe('groups[2]');
    expect(formatPath(['programs', 'web-1'])).toBe('programs["web-1"]');
    expect(formatPath([])).toBe('');
  });
});
