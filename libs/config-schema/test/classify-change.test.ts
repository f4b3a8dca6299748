import { describe, expect, it } from 'vitest';
import {
  classifyChange,
  type EffectiveConfig,
  mergeLayers,
  type ProgramState,
  planProgramChanges,
  type RunningProgram,
  validateEffectiveConfig,
} from '../src/index.js';

/** A fleet with one program of each kind; `patch` is merged on top like a layer. */
function config(patch: unknown = {}): EffectiveConfig {
  const base = {
    celery: {
      broker_url: 'redis://:s3cret@10.0.0.5:6379/0',
      result_backend: 'redis://10.0.0.5:6379/1',
      task_serializer: 'json',
      accept_content: ['json', 'msgpack'],
      task_routes: { 'tasks.add': { queue: 'add_queue' } },
      task_annotations: { 'tasks.add': { rate_limit: '10/m' } },
    },
    programs: {
      ts: { kind: 'celeriac-worker', app: './tasks.js', queues: ['celery'], replicas: 2, concurrency: 8 },
      py: { kind: 'celery-worker', app: 'proj.tasks', queues: ['celery'] },
      web: {
        kind: 'command',
        command: ['nginx', '-c', '{{config_file}}'],
        config_template: 'upstream {{celery.broker_url}};',
      },
      other: { kind: 'command', command: ['sleep', '1000'] },
    },
  };
  const result = validateEffectiveConfig(mergeLayers(base, patch));
  if (!result.ok) throw new Error(JSON.stringify(result.issues));
  return result.value;
}

function actions(patch: unknown): Record<string, string> {
  const result = classifyChange(config(), config(patch));
  return Object.fromEntries(Object.entries(result).map(([name, change]) => [name, change.action]));
}

describe('classifyChange', () => {
  it('starts every program when nothing ran before', () => {
    expect(classifyChange(null, config())).toEqual({
      ts: { action: 'start', reasons: ['program added (celeriac-worker, 2 replicas)'] },
      py: { action: 'start', reasons: ['program added (celery-worker, 1 replicas)'] },
      web: { action: 'start', reasons: ['program added (command, 1 replicas)'] },
      other: { action: 'start', reasons: ['program added (command, 1 replicas)'] },
    });
  });

  it('does nothing when nothing changed', () => {
    expect(classifyChange(config(), config())).toEqual({
      ts: { action: 'none', reasons: [] },
      py: { action: 'none', reasons: [] },
      web: { action: 'none', reasons: [] },
      other: { action: 'none', reasons: [] },
    });
  });

  it('restarts both worker kinds on a rate limit change, with the detail', () => {
    const result = classifyChange(
      config(),
      config({ celery: { task_annotations: { 'tasks.add': { rate_limit: '10/s' } } } }),
    );
    expect(result.ts).toEqual({
      action: 'restart',
      reasons: ['task_annotations changed (tasks.add rate_limit 10/m → 10/s)'],
    });
    expect(result.py).toEqual({
      action: 'restart',
      reasons: ['task_annotations changed (tasks.add rate_limit 10/m → 10/s)'],
    });
    expect(result.web?.action).toBe('none');
    expect(result.other?.action).toBe('none');
  });

  it.each([
    [
      'routes',
      { celery: { task_routes: { 'tasks.mul': 'mul_queue' } } },
      'task_routes changed (tasks.mul unset → mul_queue)',
    ],
    ['the task serializer', { celery: { task_serializer: 'msgpack' } }, 'task_serializer changed (json → msgpack)'],
    [
      'accept_content',
      { celery: { accept_content: ['json'] } },
      'accept_content changed (["json","msgpack"] → ["json"])',
    ],
    [
      'the result backend',
      { celery: { result_backend: 'redis://10.0.0.6:6379/1' } },
      'result_backend changed (redis://10.0.0.5:6379/1 → redis://10.0.0.6:6379/1)',
    ],
    ['acks_late', { celery: { task_acks_late: true } }, 'task_acks_late set (true)'],
    ['prefetch', { celery: { worker_prefetch_multiplier: 1 } }, 'worker_prefetch_multiplier set (1)'],
  ])('restarts the worker programs when %s change', (_what, patch, reason) => {
    expect(actions(patch)).toEqual({ ts: 'restart', py: 'restart', web: 'none', other: 'none' });
    const result = classifyChange(config(), config(patch));
    expect(result.ts?.reasons).toEqual([reason]);
  });

  it('masks passwords in broker URL reasons and restarts the programs that use the broker', () => {
    const result = classifyChange(config(), config({ celery: { broker_url: 'redis://:n3w@10.0.0.7:6379/0' } }));
    expect(result.ts).toEqual({
      action: 'restart',
      reasons: ['broker_url changed (redis://:***@10.0.0.5:6379/0 → redis://:***@10.0.0.7:6379/0)'],
    });
    expect(result.py?.action).toBe('restart');
    expect(result.web?.action).toBe('restart');
    expect(result.other?.action).toBe('none');
    expect(JSON.stringify(result)).not.toMatch(/s3cret|n3w/);
  });

  it.each([
    ['queues', { queues: ['celery', 'add_queue'] }, 'queues changed (["celery"] → ["celery","add_queue"])'],
    ['concurrency', { concurrency: 16 }, 'concurrency changed (8 → 16)'],
    ['the app module', { app: './other.js' }, 'app changed (./tasks.js → ./other.js)'],
    ['env (names only)', { env: { API_KEY: 'hunter2' } }, 'env changed (API_KEY)'],
    ['the log level', { loglevel: 'debug' }, 'loglevel set (debug)'],
    ['the kind', { kind: 'command', command: ['x'] }, 'kind changed (celeriac-worker → command)'],
  ])('restarts only the program whose %s changed', (_what, programPatch, reason) => {
    const result = classifyChange(config(), config({ programs: { ts: programPatch } }));
    expect(result.ts?.action).toBe('restart');
    expect(result.ts?.reasons).toContain(reason);
    expect(JSON.stringify(result)).not.toContain('hunter2');
    expect([result.py?.action, result.web?.action, result.other?.action]).toEqual(['none', 'none', 'none']);
  });

  it('restarts a command program when its command or template changes', () => {
    expect(actions({ programs: { other: { command: ['sleep', '5'] } } })).toEqual({
      ts: 'none',
      py: 'none',
      web: 'none',
      other: 'restart',
    });
    expect(actions({ programs: { web: { config_template: 'x' } } })).toEqual({
      ts: 'none',
      py: 'none',
      web: 'restart',
      other: 'none',
    });
  });

  it('scales when only replicas changed, and restarts (mentioning replicas) when more changed', () => {
    expect(classifyChange(config(), config({ programs: { ts: { replicas: 4 } } })).ts).toEqual({
      action: 'scale',
      reasons: ['replicas 2 → 4'],
    });
    expect(classifyChange(config(), config({ programs: { ts: { replicas: 4, concurrency: 2 } } })).ts).toEqual({
      action: 'restart',
      reasons: ['concurrency changed (8 → 2)', 'replicas 2 → 4'],
    });
  });

  it('applies stop and ready timeouts without a restart', () => {
    const result = classifyChange(config(), config({ programs: { ts: { stop_timeout: '60s' } } }));
    expect(result.ts).toEqual({
      action: 'none',
      reasons: ['stop_timeout changed (30s → 60s); applies at the next stop or start, no restart'],
    });
  });

  it('starts added and stops removed programs, leaving the others alone', () => {
    expect(actions({ programs: { extra: { kind: 'command', command: ['true'] }, other: null } })).toEqual({
      ts: 'none',
      py: 'none',
      web: 'none',
      other: 'stop',
      extra: 'start',
    });
  });

  it('does not restart a celeriac worker for a setting only Python Celery reads', () => {
    expect(actions({ celery: { worker_pool: 'solo', beat_schedule: {}, worker_hijack_root_logger: false } })).toEqual({
      ts: 'none',
      py: 'restart',
      web: 'none',
      other: 'none',
    });
    // Honoured by both (and unsupported ones, which a celeriac worker reports at start): both restart.
    expect(actions({ celery: { worker_max_tasks_per_child: 100 } })).toMatchObject({ ts: 'restart', py: 'restart' });
    expect(actions({ celery: { imports: ['proj.x'] } })).toMatchObject({ ts: 'restart', py: 'restart' });
  });

  it('restarts a command program only for the settings its template names', () => {
    expect(actions({ celery: { task_serializer: 'msgpack' } }).web).toBe('none');
    const whole = { programs: { other: { config_template: '{{ celery }}' } } };
    const result = classifyChange(config(whole), config(mergeLayers(whole, { celery: { timezone: 'UTC' } })));
    expect(result.other).toEqual({ action: 'restart', reasons: ['timezone set (UTC)'] });
  });

  it("restarts a command program when another program's values its template names change", () => {
    const tpl = { programs: { other: { config_template: 'queues={{programs.ts.queues}} groups={{groups}}' } } };
    const result = classifyChange(config(tpl), config(mergeLayers(tpl, { programs: { ts: { queues: ['a', 'b'] } } })));
    expect(result.other).toEqual({
      action: 'restart',
      reasons: ['template value programs.ts.queues changed (["celery"] → ["a","b"])'],
    });
    expect(result.ts?.action).toBe('restart');
    expect(
      classifyChange(config(tpl), config(mergeLayers(tpl, { programs: { ts: { concurrency: 2 } } }))).other?.action,
    ).toBe('none');
  });

  it('summarises long changes', () => {
    const many = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`tasks.t${i}`, { rate_limit: '1/s' }]));
    const reason = classifyChange(config(), config({ celery: { task_annotations: many } })).ts?.reasons[0];
    expect(reason).toBe(
      'task_annotations changed (tasks.t0 rate_limit unset → 1/s, tasks.t1 rate_limit unset → 1/s, tasks.t2 rate_limit unset → 1/s, and 2 more)',
    );
  });
});

describe('planProgramChanges', () => {
  type Running = { state?: ProgramState; drift?: boolean; configHash?: string; config?: EffectiveConfig };
  /** Every program of `config()` running on it, unchanged unless `overrides` says otherwise. */
  function running(overrides: Record<string, Running | null> = {}): Record<string, RunningProgram> {
    const result: Record<string, RunningProgram> = {};
    for (const name of Object.keys(config().programs)) {
      const o = overrides[name];
      if (o === null) continue;
      result[name] = {
        config: o?.config ?? config(),
        state: o?.state ?? 'running',
        drift: o?.drift ?? false,
        configHash: o?.configHash ?? `h-${name}`,
      };
    }
    return result;
  }
  const hashes = { ts: 'h-ts', py: 'h-py', web: 'h-web', other: 'h-other', extra: 'h-extra' };

  it.each<[string, unknown, Record<string, Running | null>, Record<string, string>, Record<string, string>, string[]]>([
    ['nothing changed', {}, {}, {}, { ts: 'none', py: 'none', web: 'none', other: 'none' }, []],
    [
      'nothing runs yet',
      {},
      { ts: null, py: null, web: null, other: null },
      {},
      { ts: 'start', py: 'start', web: 'start', other: 'start' },
      ['program added (celeriac-worker, 2 replicas)'],
    ],
    [
      'a program was removed',
      { programs: { other: null } },
      {},
      {},
      { ts: 'none', py: 'none', web: 'none', other: 'stop' },
      [],
    ],
    [
      'a rate limit changed',
      { celery: { task_annotations: { 'tasks.add': { rate_limit: '1/s' } } } },
      {},
      {},
      { ts: 'restart', py: 'restart', web: 'none', other: 'none' },
      ['task_annotations changed (tasks.add rate_limit 10/m → 1/s)'],
    ],
    [
      'only replicas changed',
      { programs: { ts: { replicas: 3 } } },
      {},
      {},
      { ts: 'scale', py: 'none', web: 'none', other: 'none' },
      ['replicas 2 → 3'],
    ],
    [
      'a FATAL program and no change',
      {},
      { other: { state: 'fatal' } },
      {},
      { ts: 'none', py: 'none', web: 'none', other: 'restart' },
      ['program was FATAL; a new revision gives it another start'],
    ],
    [
      'a FATAL program whose replicas changed (scale starts its slots again)',
      { programs: { ts: { replicas: 1 } } },
      { ts: { state: 'fatal' } },
      {},
      { ts: 'scale', py: 'none', web: 'none', other: 'none' },
      ['replicas 2 → 1'],
    ],
    [
      'a hand-edited file that the center file replaces',
      {},
      { web: { drift: true, configHash: 'h-by-hand' } },
      {},
      { ts: 'none', py: 'none', web: 'restart', other: 'none' },
      ['config file had been edited on the host; the center config replaces it'],
    ],
    [
      'a hand edit that equals the center file',
      {},
      { web: { drift: true } },
      {},
      { ts: 'none', py: 'none', web: 'none', other: 'none' },
      [],
    ],
    [
      'a hand edit and a replicas change: the processes must leave the edited file',
      { programs: { ts: { replicas: 3 } } },
      { ts: { drift: true, configHash: 'h-by-hand' } },
      {},
      { ts: 'restart', py: 'none', web: 'none', other: 'none' },
      ['replicas 2 → 3', 'config file had been edited on the host; the center config replaces it'],
    ],
    [
      'a program still on an older config after a failed restart',
      {},
      { py: { config: config({ celery: { task_serializer: 'msgpack' } }) } },
      {},
      { ts: 'none', py: 'restart', web: 'none', other: 'none' },
      ['task_serializer changed (msgpack → json)'],
    ],
    [
      'a program added beside running ones',
      { programs: { extra: { kind: 'command', command: ['true'] } } },
      {},
      { extra: 'h-extra' },
      { ts: 'none', py: 'none', web: 'none', other: 'none', extra: 'start' },
      ['program added (command, 1 replicas)'],
    ],
  ])('%s', (_what, patch, overrides, extraHashes, expected, someReasons) => {
    const plan = planProgramChanges({
      after: config(patch),
      running: running(overrides),
      configHashes: { ...hashes, ...extraHashes },
    });
    expect(Object.fromEntries(Object.entries(plan).map(([name, change]) => [name, change.action]))).toEqual(expected);
    const reasons = Object.values(plan).flatMap((change) => change.reasons);
    for (const reason of someReasons) expect(reasons).toContain(reason);
  });

  it('gives the same actions as classifyChange when the supervisor knows nothing more', () => {
    const after = config({ celery: { broker_url: 'redis://10.0.0.9:6379/0' }, programs: { ts: { replicas: 5 } } });
    const plan = planProgramChanges({ after, running: running(), configHashes: hashes });
    expect(plan).toEqual(classifyChange(config(), after));
  });
});
