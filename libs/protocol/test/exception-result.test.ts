import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  buildResultDocument,
  decodeResultDocument,
  encodeExceptionResult,
  exceptionFromResult,
  FOREIGN_EXC_MODULE,
  RemoteTaskError,
} from '../src/index.js';
import { loadFixture } from './support/fixtures.js';

class ValueError extends Error {
  readonly args: unknown[];
  constructor(...args: unknown[]) {
    super(String(args[0]));
    this.name = 'ValueError';
    this.args = args;
  }
}

class HttpError extends Error {
  override name = 'HttpError';
}

function throwIn(fn: () => unknown): unknown {
  try {
    fn();
  } catch (err) {
    return err;
  }
  throw new Error('did not throw');
}

describe('encodeExceptionResult', () => {
  it('encodes a Python-named error with its args like g3_fail_valueerror_multiarg', () => {
    const f = loadFixture('g3_fail_valueerror_multiarg');
    const captured = f.result_backend[f.task_id].decoded;
    const { result, traceback } = encodeExceptionResult(new ValueError('bad value', 42));
    expect(result).toEqual(captured.result);
    expect(traceback.startsWith('Traceback (most recent call last):\n  File "')).toBe(true);
    expect(traceback.endsWith("ValueError: ('bad value', 42)\n")).toBe(true);
    expect(captured.traceback.endsWith("ValueError: ('bad value', 42)\n")).toBe(true);
  });

  it('maps JS built-in errors onto Python builtins', () => {
    const cases: [unknown, string, string][] = [
      [new TypeError('t'), 'TypeError', 'builtins'],
      [new RangeError('r'), 'ValueError', 'builtins'],
      [new Error('e'), 'Exception', 'builtins'],
      [new SyntaxError('s'), 'SyntaxError', 'builtins'],
      [new URIError('u'), 'ValueError', 'builtins'],
      ['a string', 'Exception', 'builtins'],
    ];
    for (const [err, type, module] of cases) {
      expect(encodeExceptionResult(err).result, type).toMatchObject({ exc_type: type, exc_module: module });
    }
    // Evaluated at run time so that the name really is undefined: a genuine JS ReferenceError.
    const ref = throwIn(() => new Function('return undefinedNameForWireCapture')());
    const { result, traceback } = encodeExceptionResult(ref);
    expect(result.exc_type).toBe('NameError');
    expect(result.exc_message).toEqual(['undefinedNameForWireCapture is not defined']);
    expect(traceback).toMatch(/NameError: undefinedNameForWireCapture is not defined\n$/);
  });

  it('sends custom JS errors under an unimportable module and Celery errors under celery.exceptions', () => {
    expect(encodeExceptionResult(new HttpError('502 from upstream')).result).toEqual({
      exc_type: 'HttpError',
      exc_message: ['502 from upstream'],
      exc_module: FOREIGN_EXC_MODULE,
    });
    const revoked = Object.assign(new Error('expired'), { name: 'TaskRevokedError' });
    expect(encodeExceptionResult(revoked).result.exc_module).toBe('celery.exceptions');
    const explicit = Object.assign(new Error('x'), { name: 'WireCustomError', excModule: 'wireapp' });
    expect(encodeExceptionResult(explicit).result.exc_module).toBe('wireapp');
  });

  it('formats the JS stack as a Python traceback, most recent call last, with causes', () => {
    function inner(): never {
      throw new Error('low level', { cause: undefined });
    }
    function outer(): never {
      try {
        inner();
      } catch (cause) {
        throw new HttpError('wrapped', { cause });
      }
    }
    const err = throwIn(outer);
    const tb = encodeExceptionResult(err).traceback;
    expect(tb).toContain('Exception: low level\n');
    expect(tb).toContain('The above exception was the direct cause of the following exception:');
    expect(tb.endsWith('HttpError: wrapped\n')).toBe(true);
    const last = tb.slice(tb.lastIndexOf('Traceback'));
    const frames = last.split('\n').filter((l) => l.startsWith('  File '));
    expect(frames.length).toBeGreaterThan(0);
    expect(frames.at(-1)).toMatch(/^ {2}File ".*exception-result\.test\.ts", line \d+, in outer$/);
    expect(tb).not.toContain('file://');
  });

  it('keeps exc_message JSON-safe', () => {
    const err = Object.assign(new Error('x'), { args: [1n, () => 1, { a: 1 }] });
    const { result } = encodeExceptionResult(err);
    expect(JSON.parse(JSON.stringify(result.exc_message))).toEqual(result.exc_message);
    expect(result.exc_message[2]).toEqual({ a: 1 });
  });

  it('is read back by Celery 5.2.6 as the expected Python exception', () => {
    const results = [
      new ValueError('bad value', 42),
      new RangeError('out of range'),
      new HttpError('502 from upstream'),
    ].map((e) => encodeExceptionResult(e).result);
    const script = [
      'import json, sys',
      'from celery import Celery',
      'from celery.backends.base import Backend',
      'b = Backend(Celery(set_as_current=False))',
      'out = []',
      'for r in json.load(sys.stdin):',
      '    e = b.exception_to_python(r)',
      '    out.append([type(e).__module__, type(e).__name__, repr(e)])',
      'print(json.dumps(out))',
    ].join('\n');
    const out = JSON.parse(
      execFileSync('/usr/bin/python3', ['-c', script], {
        input: JSON.stringify(results),
        encoding: 'utf8',
        timeout: 60_000,
      }),
    );
    expect(out).toEqual([
      ['builtins', 'ValueError', "ValueError('bad value', 42)"],
      ['builtins', 'ValueError', "ValueError('out of range')"],
      ['celery.exceptions', 'HttpError', "HttpError('502 from upstream')"],
    ]);
  });
});

describe('exceptionFromResult', () => {
  it('builds a RemoteTaskError like Python for the captured failures', () => {
    const f = loadFixture('g3_fail_valueerror_multiarg');
    const doc = decodeResultDocument(f.result_backend[f.task_id].raw);
    const err = exceptionFromResult(doc);
    expect(err).toBeInstanceOf(RemoteTaskError);
    expect(err.message).toBe("ValueError('bad value', 42)");
    expect(err).toMatchObject({
      excType: 'ValueError',
      excModule: 'builtins',
      excMessage: ['bad value', 42],
      taskId: f.task_id,
      code: 'PROTOCOL_REMOTE_TASK_FAILED',
    });
    expect(err.traceback).toContain('raise ValueError');
  });

  it('matches what a Python client raised for foreign-written failures', () => {
    const partB = loadFixture('interop_probes_foreign_messages').partB_foreign_worker_results_read_by_python_client;
    let checked = 0;
    for (const probe of Object.values(partB) as { raw: string | null; status: string; get_raised?: string }[]) {
      if (probe.raw === null || probe.status !== 'FAILURE' || !probe.get_raised) continue;
      if (probe.get_raised.startsWith('celery.exceptions.SecurityError')) continue;
      const err = exceptionFromResult(decodeResultDocument(probe.raw));
      expect(err.message).toBe(probe.get_raised.slice(probe.get_raised.indexOf(': ') + 2));
      checked++;
    }
    expect(checked).toBeGreaterThanOrEqual(4);
  });

  it('round-trips our own encoding', () => {
    const { result, traceback } = encodeExceptionResult(new HttpError('boom'));
    const doc = buildResultDocument({ taskId: 'id-1', status: 'FAILURE', result, traceback });
    const err = exceptionFromResult(doc);
    expect(err.message).toBe("HttpError('boom')");
    expect(err.excModule).toBe(FOREIGN_EXC_MODULE);
    expect(err.traceback).toBe(traceback);
  });

  it('copes with malformed failure documents', () => {
    expect(exceptionFromResult(buildResultDocument({ taskId: 'x', status: 'FAILURE', result: 'oops' })).message).toBe(
      "Exception('oops')",
    );
    expect(exceptionFromResult(buildResultDocument({ taskId: 'x', status: 'FAILURE' })).message).toBe('Exception()');
  });
});
