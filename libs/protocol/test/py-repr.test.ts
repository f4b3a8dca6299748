import { execFileSync } from 'node:child_process';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { pyRepr, pyReprTuple } from '../src/index.js';
import { allEnvelopes } from './support/fixtures.js';

/**
 * Python's own repr() of each JSON value, in one interpreter run; null where the value holds a
 * character Python 3.11 (Unicode 14) does not know yet but Node's newer ICU does.
 */
function pythonReprs(values: unknown[]): (string | null)[] {
  const script = [
    'import json, sys, unicodedata',
    'def strs(v):',
    '    if isinstance(v, str): yield v',
    '    elif isinstance(v, list):',
    '        for x in v: yield from strs(x)',
    '    elif isinstance(v, dict):',
    '        for k, x in v.items(): yield k; yield from strs(x)',
    'def unknown(v):',
    "    return any(unicodedata.category(c) == 'Cn' and not 0xd800 <= ord(c) < 0xe000 for s in strs(v) for c in s)",
    'print(json.dumps([None if unknown(v) else repr(v) for v in json.load(sys.stdin)]))',
  ].join('\n');
  const out = execFileSync('/usr/bin/python3', ['-c', script], {
    input: JSON.stringify(values),
    encoding: 'utf8',
    timeout: 30_000,
  });
  return JSON.parse(out);
}

describe('pyRepr', () => {
  it('matches argsrepr/kwargsrepr of every captured Python task message', () => {
    let checked = 0;
    for (const t of allEnvelopes().tasks) {
      const body = t.bodyDecoded as [unknown[], Record<string, unknown>] | undefined;
      const h = t.envelope.headers;
      if (body === undefined || typeof h.argsrepr !== 'string' || h.lang !== 'py') continue;
      // A Python float like 4.0 arrives in JS as the number 4: its repr cannot be told apart.
      if (/\d\.0\b/.test(h.argsrepr)) continue;
      // delay() sends a tuple, send_task() with a list sends a list.
      expect([pyReprTuple(body[0]), pyRepr(body[0])], `${t.fixture}${t.where}`).toContain(h.argsrepr);
      expect(pyRepr(body[1]), `${t.fixture}${t.where}`).toBe(h.kwargsrepr);
      checked++;
    }
    expect(checked).toBeGreaterThan(20);
  });

  it('formats the basic Python literals', () => {
    expect(pyRepr(null)).toBe('None');
    expect(pyRepr(true)).toBe('True');
    expect(pyRepr([1, 'a', false])).toBe("[1, 'a', False]");
    expect(pyRepr({ a: [1.5, null] })).toBe("{'a': [1.5, None]}");
    expect(pyRepr("it's")).toBe('"it\'s"');
    expect(pyReprTuple([])).toBe('()');
    expect(pyReprTuple([5])).toBe('(5,)');
    expect(pyRepr(Buffer.from('a\x00'))).toBe("b'a\\x00'");
    const cyclic: unknown[] = [1];
    cyclic.push(cyclic);
    expect(pyRepr(cyclic)).toBe('[1, [...]]');
  });

  it('cuts long reprs like Celery saferepr', () => {
    const r = pyRepr('x'.repeat(5000));
    expect(r.length).toBe(1024);
    expect(r.endsWith('...')).toBe(true);
  });

  it("agrees with Python's repr() on tricky strings and random JSON values", () => {
    const tricky = [
      'plain',
      "single ' quote",
      'double " quote',
      `both ' and "`,
      'back\\slash',
      'tab\tnew\nline\rcr',
      '\x00\x07\x1b\x7f',
      'nbsp\xa0 soft\xad hyphen',
      'wörld ünïcödé 日本語',
      'emoji 😀 and \u2028 line sep \u200b zwsp',
      '\ud800 lone surrogate',
      '\ue000 private use',
      -0,
      1e-7,
      1.5e-7,
      1e21,
      1e20,
      123456789.123,
      5e-324,
      -1.25,
    ];
    const random = [
      ...fc.sample(fc.jsonValue({ maxDepth: 3 }), { numRuns: 300, seed: 42 }),
      ...fc.sample(fc.jsonValue({ maxDepth: 2, stringUnit: 'grapheme' }), { numRuns: 300, seed: 7 }),
    ];
    const values = [...tricky, ...random];
    const expected = pythonReprs(values);
    // Send the values through JSON exactly as Python received them.
    const received = JSON.parse(JSON.stringify(values)) as unknown[];
    let compared = 0;
    received.forEach((v, i) => {
      if (expected[i] === null) return;
      expect(pyRepr(v, 1_000_000), JSON.stringify(v)).toBe(expected[i]);
      compared++;
    });
    expect(compared).toBeGreaterThan(400);
  });
});
