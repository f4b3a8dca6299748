import { describe, expect, it } from 'vitest';
import { formatNodes, formatPrograms } from '../src/commands/nodes.js';
import { exitCodeForStatus } from '../src/ops/center-client.js';
import { CliUsageError } from '../src/ops/cli-errors.js';
import { diffDocuments, formatDiff } from '../src/ops/diff-format.js';
import { stripComments } from '../src/ops/edit-document.js';
import { parseArgs } from '../src/ops/parse-args.js';
import { formatOfFile, parseDocument } from '../src/ops/read-document.js';
import { parseAssignment, parsePath, parseValue, setPath, unsetPath } from '../src/ops/set-path.js';
import { formatAgo, formatTable } from '../src/ops/table.js';

const specs = [
  { name: 'message', short: 'm', value: true },
  { name: 'file', short: 'f', value: true },
  { name: 'yes', short: 'y', value: false },
  { name: 'center', value: true },
];

describe('parseArgs', () => {
  it('reads long, short, inline and boolean options among positionals', () => {
    expect(parseArgs(['set', 'defaults', 'a=1', '-m', 'why', '--center=http://x', '-y', '-ffile.json'], specs)).toEqual(
      {
        options: { message: 'why', center: 'http://x', yes: true, file: 'file.json' },
        positionals: ['set', 'defaults', 'a=1'],
      },
    );
  });

  it('treats everything after -- and negative numbers as positionals', () => {
    expect(parseArgs(['a', '--', '-m', '--yes'], specs).positionals).toEqual(['a', '-m', '--yes']);
    expect(parseArgs(['x=-5', '-5'], specs).positionals).toEqual(['x=-5', '-5']);
  });

  it('refuses unknown options, missing values and values on flags', () => {
    expect(() => parseArgs(['--nope'], specs)).toThrow(new CliUsageError('unknown option --nope'));
    expect(() => parseArgs(['-q'], specs)).toThrow(new CliUsageError('unknown option -q'));
    expect(() => parseArgs(['-m'], specs)).toThrow(new CliUsageError('--message needs a value'));
    expect(() => parseArgs(['--yes=1'], specs)).toThrow(new CliUsageError('--yes takes no value'));
  });
});

describe('paths and values', () => {
  it('splits dotted paths and keeps quoted or bracketed keys whole', () => {
    expect(parsePath('celery.task_serializer')).toEqual(['celery', 'task_serializer']);
    expect(parsePath('celery.task_annotations."tasks.add".rate_limit')).toEqual([
      'celery',
      'task_annotations',
      'tasks.add',
      'rate_limit',
    ]);
    expect(parsePath('celery.task_annotations["tasks.add"].rate_limit')).toEqual([
      'celery',
      'task_annotations',
      'tasks.add',
      'rate_limit',
    ]);
    expect(parsePath('celery.task_annotations[tasks.add].rate_limit')).toEqual([
      'celery',
      'task_annotations',
      'tasks.add',
      'rate_limit',
    ]);
    expect(parsePath('programs["web-1"]')).toEqual(['programs', 'web-1']);
    expect(parsePath('a."say \\"hi\\"".b')).toEqual(['a', 'say "hi"', 'b']);
    expect(parsePath('a."x=y"')).toEqual(['a', 'x=y']);
  });

  it('refuses malformed paths with a usage error', () => {
    for (const bad of ['', 'a..b', 'a.', '.a', 'a."b', 'a[b', '[a]', 'a"b"', 'a["b"x]']) {
      expect(() => parsePath(bad), bad).toThrow(CliUsageError);
    }
  });

  it('reads values as JSON when they parse, else as text', () => {
    expect(parseValue('16')).toBe(16);
    expect(parseValue('true')).toBe(true);
    expect(parseValue('null')).toBe(null);
    expect(parseValue('["json","msgpack"]')).toEqual(['json', 'msgpack']);
    expect(parseValue('{"queue":"q"}')).toEqual({ queue: 'q' });
    expect(parseValue('"016"')).toBe('016');
    expect(parseValue('10/s')).toBe('10/s');
    expect(parseValue('msgpack')).toBe('msgpack');
    expect(parseValue('redis://h:6379/0')).toBe('redis://h:6379/0');
    expect(parseValue('')).toBe('');
  });

  it('parses path=value at the first unquoted "="', () => {
    expect(parseAssignment('celery.task_annotations."tasks.add".rate_limit=10/s')).toEqual({
      path: ['celery', 'task_annotations', 'tasks.add', 'rate_limit'],
      value: '10/s',
    });
    expect(parseAssignment('programs.w.env.OPTS=a=b')).toEqual({
      path: ['programs', 'w', 'env', 'OPTS'],
      value: 'a=b',
    });
    expect(parseAssignment('a."k=v"=1')).toEqual({ path: ['a', 'k=v'], value: 1 });
    expect(() => parseAssignment('celery.task_serializer')).toThrow(/is not path=value/);
    expect(() => parseAssignment('=5')).toThrow(CliUsageError);
  });

  it('sets values on a copy, creating objects on the way', () => {
    const doc = { celery: { task_serializer: 'json' } };
    const next = setPath(doc, ['celery', 'task_annotations', 'tasks.add', 'rate_limit'], '10/s');
    expect(next).toEqual({
      celery: { task_serializer: 'json', task_annotations: { 'tasks.add': { rate_limit: '10/s' } } },
    });
    expect(doc).toEqual({ celery: { task_serializer: 'json' } });
    expect(setPath({ a: null }, ['a', 'b'], 1)).toEqual({ a: { b: 1 } });
    expect(setPath({ a: { b: 1 } }, ['a'], null)).toEqual({ a: null });
  });

  it('refuses to set through a scalar or a list', () => {
    expect(() => setPath({ celery: { broker_url: 'redis://x' } }, ['celery', 'broker_url', 'x'], 1)).toThrow(
      /celery\.broker_url is the value "redis:\/\/x", not an object/,
    );
    expect(() => setPath({ q: ['a'] }, ['q', '0'], 'b')).toThrow(/q is a list, not an object/);
  });

  it('unsets keys and reports keys that are not there', () => {
    expect(unsetPath({ a: { b: 1, c: 2 } }, ['a', 'b'])).toEqual({ a: { c: 2 } });
    expect(() => unsetPath({ a: {} }, ['a', 'b'])).toThrow(new CliUsageError('a.b is not set in this layer'));
    expect(() => unsetPath({}, ['x', 'tasks.add'])).toThrow(
      new CliUsageError('x."tasks.add" is not set in this layer'),
    );
  });
});

describe('documents', () => {
  it('reads JSON and YAML, by extension or by trying JSON first', () => {
    expect(parseDocument('{"a": 1}', 'f')).toEqual({ a: 1 });
    expect(parseDocument('celery:\n  task_serializer: msgpack\n', 'f')).toEqual({
      celery: { task_serializer: 'msgpack' },
    });
    expect(() => parseDocument('a: 1', 'f.json', 'json')).toThrow(/f\.json is not valid JSON/);
    expect(() => parseDocument('a: [1', 'f', 'yaml')).toThrow(/f is neither valid JSON nor YAML/);
    expect(formatOfFile('x.yml')).toBe('yaml');
    expect(formatOfFile('x.YAML')).toBe('yaml');
    expect(formatOfFile('x.json')).toBe('json');
    expect(formatOfFile('x.txt')).toBeUndefined();
  });

  it('drops comment lines the editor flow writes', () => {
    expect(stripComments('# header\n  # indented\n{"a": 1}\n')).toBe('{"a": 1}\n');
  });

  it('diffs documents leaf by leaf and prints +, - and ~ lines', () => {
    const before = {
      celery: { task_serializer: 'json', task_annotations: { 'tasks.add': { rate_limit: '10/m' } } },
      gone: 1,
    };
    const after = {
      celery: { task_serializer: 'json', task_annotations: { 'tasks.add': { rate_limit: '10/s' } } },
      added: [1],
    };
    expect(formatDiff(diffDocuments(before, after))).toEqual([
      '+ added: [1]',
      '~ celery.task_annotations["tasks.add"].rate_limit: "10/m" → "10/s"',
      '- gone: 1',
    ]);
    expect(diffDocuments({ a: { x: 1, y: 2 } }, { a: { y: 2, x: 1 } })).toEqual([]);
  });
});

describe('exit codes and tables', () => {
  it('maps HTTP statuses to exit codes', () => {
    expect([400, 401, 403, 404, 409, 428, 500].map(exitCodeForStatus)).toEqual([4, 3, 3, 1, 5, 5, 1]);
  });

  it('aligns columns', () => {
    expect(
      formatTable(
        ['A', 'BB'],
        [
          ['long value', 'x'],
          ['y', 'z'],
        ],
      ),
    ).toBe('A           BB\nlong value  x\ny           z\n');
  });

  it('says how long ago', () => {
    const now = Date.parse('2026-01-01T00:10:00Z');
    expect(formatAgo('2026-01-01T00:09:55Z', now)).toBe('5s ago');
    expect(formatAgo('2026-01-01T00:07:00Z', now)).toBe('3m ago');
    expect(formatAgo(null, now)).toBe('never');
  });

  it('prints nodes with desired vs applied revision, drift and programs', () => {
    const now = Date.parse('2026-01-01T00:10:00Z');
    const text = formatNodes(
      [
        {
          node: 'web-1',
          state: 'in_sync',
          desired_revision: 7,
          applied_revision: 7,
          apply_result: 'ok',
          message: null,
          last_seen: '2026-01-01T00:09:58Z',
          drift: false,
          programs: {
            workers: { state: 'running', pids: [10, 11], restarts: 0 },
            py: { state: 'backoff', pids: [], restarts: 3 },
          },
        },
        {
          node: 'web-2',
          state: 'unknown',
          desired_revision: 7,
          applied_revision: null,
          apply_result: null,
          message: null,
          last_seen: null,
          drift: false,
          programs: {},
        },
      ],
      now,
    );
    expect(text.split('\n')).toEqual([
      'NODE   STATE    DESIRED  APPLIED  RESULT  LAST SEEN  DRIFT  PROGRAMS',
      'web-1  in_sync  7        7        ok      2s ago     no     py backoff (3 restarts), workers running ×2',
      'web-2  unknown  7        -        -       never      no     -',
      '',
    ]);
    expect(formatPrograms({})).toBe('-');
  });
});
