import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ConfigRenderError } from '../src/errors.js';
import { isPythonIdentifier, pythonLiteral } from '../src/python-literal.js';
import { renderCeleryconfig } from '../src/render-celeryconfig.js';

const dir = mkdtempSync(path.join(tmpdir(), 'celeriac-celeryconfig-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Imports the rendered module with the real Python and Celery and returns what they read. */
function importWithPython(source: string, name: string): Record<string, unknown> {
  writeFileSync(path.join(dir, `${name}.py`), source);
  const script = `
import json, sys
sys.path.insert(0, ${JSON.stringify(dir)})
import ${name} as m
from celery import Celery
app = Celery('t')
app.config_from_object('${name}')
names = [n for n in dir(m) if not n.startswith('__')]
print(json.dumps({'module': {n: getattr(m, n) for n in names},
  'celery': {'broker_url': app.conf.broker_url, 'task_routes': app.conf.task_routes,
             'task_annotations': app.conf.task_annotations, 'task_serializer': app.conf.task_serializer,
             'accept_content': list(app.conf.accept_content), 'task_acks_late': app.conf.task_acks_late,
             'worker_prefetch_multiplier': app.conf.worker_prefetch_multiplier}}))
`;
  return JSON.parse(execFileSync('/usr/bin/python3', ['-c', script], { encoding: 'utf8' }));
}

describe('renderCeleryconfig', () => {
  const settings = {
    broker_url: 'redis://:s3cr3t@127.0.0.1:6379/0',
    result_backend: 'redis://127.0.0.1:6379/1',
    task_routes: { 'tasks.add': { queue: 'add_queue' }, 'tasks.*': { queue: 'celery', priority: 3 } },
    task_annotations: { 'tasks.add': { rate_limit: '10/s' } },
    task_serializer: 'msgpack',
    result_serializer: 'json',
    accept_content: ['json', 'msgpack'],
    task_default_queue: 'celery',
    task_acks_late: true,
    worker_prefetch_multiplier: 4,
    result_expires: 3600.5,
    task_default_rate_limit: null,
    timezone: 'Europe/Zürich',
    'not-an-identifier': 1,
  };

  it('renders a module that Python imports and Celery reads back unchanged', () => {
    const source = renderCeleryconfig(settings, { node: 'a', program: 'py', revision: 7 });
    expect(source).toContain('# node a, program py, revision 7.');
    const { module, celery } = importWithPython(source, 'celeryconfig_a') as {
      module: Record<string, unknown>;
      celery: Record<string, unknown>;
    };
    const { 'not-an-identifier': _skipped, ...expected } = settings;
    // Task events on, the agent's default for the program's health (celeryconfig-task-events.test.ts).
    expect(module).toEqual({ ...expected, worker_send_task_events: true });
    expect(celery).toEqual({
      broker_url: settings.broker_url,
      task_routes: settings.task_routes,
      task_annotations: settings.task_annotations,
      task_serializer: 'msgpack',
      accept_content: ['json', 'msgpack'],
      task_acks_late: true,
      worker_prefetch_multiplier: 4,
    });
  });

  it('is deterministic: key order does not change the bytes', () => {
    const a = renderCeleryconfig({ b: 1, a: [1, 2] }, { node: 'n', program: 'p', revision: 1 });
    const b = renderCeleryconfig({ a: [1, 2], b: 1 }, { node: 'n', program: 'p', revision: 1 });
    expect(a).toBe(b);
  });

  it('escapes strings so that quotes, backslashes, newlines and unicode survive', () => {
    const tricky = `it's "quoted" \\ back\nslash\ttab \u0000 nul ☃ 😀 ''' """`;
    const { module } = importWithPython(
      renderCeleryconfig({ s: tricky }, { node: 'n', program: 'p', revision: null }),
      'cc_tricky',
    ) as {
      module: Record<string, unknown>;
    };
    expect(module.s).toBe(tricky);
  });
});

describe('pythonLiteral', () => {
  it('renders each JSON type', () => {
    expect(pythonLiteral({ a: [true, false, null, 1.5, 'x'] })).toBe('{"a": [True, False, None, 1.5, "x"]}');
  });
  it('refuses values Python has no literal for, naming where', () => {
    expect(() => pythonLiteral({ x: Number.NaN }, 'settings')).toThrow(ConfigRenderError);
    expect(() => pythonLiteral({ x: Number.POSITIVE_INFINITY }, 'settings')).toThrow(/settings\.x/);
  });
  it('knows Python identifiers and keywords', () => {
    expect(isPythonIdentifier('broker_url')).toBe(true);
    expect(isPythonIdentifier('class')).toBe(false);
    expect(isPythonIdentifier('a-b')).toBe(false);
  });
});
