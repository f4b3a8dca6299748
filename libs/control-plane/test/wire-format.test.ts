import { describe, expect, it } from 'vitest';
import { signalName } from '../src/control-commands.js';
import { checkRateLimit, registeredList } from '../src/control-replies.js';
import { decodeEnvelope, encodeEnvelope } from '../src/kombu-envelope.js';
import { LamportClock } from '../src/lamport-clock.js';
import { fnmatchTranslate, pidboxMatch } from '../src/pidbox-match.js';
import { pyFloat, pyJsonDumps } from '../src/py-json.js';
import { fanoutChannel, priorityLists, redisDbFromUrl } from '../src/wire-names.js';

/** Pure wire-format rules, each checked against what Python 3.11 / Celery 5.2 / kombu 5.2 produce. */

describe('pyJsonDumps writes what json.dumps writes', () => {
  it('matches Python byte for byte (separators, ASCII escapes, floats)', () => {
    const value = {
      a: 'héllo \u2028 \u{1F600} \x7f "q" \\ \n\t\x01',
      f: pyFloat(2),
      g: 1e-7,
      h: 1.5e22,
      i: 5,
      l: [0.06, null, true, false],
      e: {},
      skipped: undefined,
    };
    // Output of python3 -c 'import json; print(json.dumps({...}))' on the same value.
    expect(pyJsonDumps(value)).toBe(
      '{"a": "h\\u00e9llo \\u2028 \\ud83d\\ude00 \\u007f \\"q\\" \\\\ \\n\\t\\u0001", "f": 2.0, "g": 1e-07, ' +
        '"h": 1.5e+22, "i": 5, "l": [0.06, null, true, false], "e": {}}',
    );
  });
});

describe('kombu envelopes', () => {
  it('round-trip json and msgpack bodies and keep the header order', () => {
    for (const serializer of ['json', 'msgpack'] as const) {
      const raw = encodeEnvelope(
        { 'w@h': { ok: 'pong', t: pyFloat(1.5) } },
        {
          exchange: 'reply.celery.pidbox',
          routingKey: 'oid',
          headers: { ticket: 't', clock: 3 },
          deliveryMode: 1,
          serializer,
        },
      );
      const decoded = decodeEnvelope(raw);
      expect(decoded).toEqual({
        ok: true,
        value: { headers: { ticket: 't', clock: 3 }, serializer, body: { 'w@h': { ok: 'pong', t: 1.5 } } },
      });
    }
  });

  it('reports what is wrong with a message it cannot decode', () => {
    expect(decodeEnvelope('nope')).toMatchObject({ ok: false, reason: 'not_json' });
    expect(decodeEnvelope('[1]')).toMatchObject({ ok: false, reason: 'not_envelope' });
    expect(decodeEnvelope('{"body": "", "content-type": "application/x-yaml"}')).toMatchObject({
      ok: false,
      reason: 'content_type',
    });
    expect(decodeEnvelope('{"body": "e30=", "properties": {"body_encoding": "base64"}}')).toEqual({
      ok: true,
      value: { headers: {}, serializer: 'json', body: {} },
    });
  });
});

describe('kombu names', () => {
  it('spells channels and lists as the Redis transport does', () => {
    expect(fanoutChannel(0, 'celery.pidbox')).toBe('/0.celery.pidbox');
    expect(fanoutChannel(3, 'celeryev', 'worker.heartbeat', 'pfx:')).toBe('pfx:/3.celeryev/worker.heartbeat');
    expect(priorityLists('oid.reply.celery.pidbox')).toEqual([
      'oid.reply.celery.pidbox',
      'oid.reply.celery.pidbox\x06\x163',
      'oid.reply.celery.pidbox\x06\x166',
      'oid.reply.celery.pidbox\x06\x169',
    ]);
    expect(redisDbFromUrl('redis://:pw@h:1/5')).toBe(5);
    expect(redisDbFromUrl('redis://h:1')).toBe(0);
    expect(redisDbFromUrl('redis://h:1?db=2')).toBe(2);
  });
});

describe('destination, pattern and matcher (kombu Node.handle_message)', () => {
  it.each([
    [{ destination: ['a@h'] }, true],
    [{ destination: ['b@h'] }, false],
    [{ destination: [] }, true],
    [{ pattern: 'a@*', matcher: 'glob' }, true],
    [{ pattern: '[!a]@h', matcher: 'glob' }, false],
    [{ pattern: 'a@', matcher: 'pcre' }, true],
    [{ pattern: '@h', matcher: 'pcre' }, false],
    [{ pattern: 'a*', matcher: 'nope' }, 'bad_matcher'],
    [{}, true],
  ])('%j → %s for a@h', (request, expected) => {
    expect(pidboxMatch('a@h', request)).toBe(expected);
  });

  it('translates globs like fnmatch', () => {
    expect(fnmatchTranslate('w?.[ab]*')).toBe('w.\\.[ab].*');
    expect(fnmatchTranslate('[!x]')).toBe('[^x]');
  });
});

describe('Celery rules inside command handlers', () => {
  it.each([
    ['10/m', { ok: true, rate: '10/m' }],
    [' 10 ', { ok: true, rate: ' 10 ' }],
    ['1_0/m', { ok: true, rate: '1_0/m' }],
    ['', { ok: true, rate: null }],
    [0, { ok: true, rate: null }],
    // The replies celery.utils.time.rate() leads to (checked against Celery 5.2).
    ['1/x', { ok: false, reply: { error: "KeyError('x')" } }],
    ['abc/x', { ok: false, reply: { error: "KeyError('x')" } }],
    ['10/m/s', { ok: false, reply: { error: "KeyError('m/s')" } }],
    [
      'abc',
      {
        ok: false,
        reply: { error: 'Invalid rate limit string: ValueError("could not convert string to float: \'abc\'")' },
      },
    ],
  ])('rate limit %j', (value, expected) => {
    expect(checkRateLimit(value)).toEqual(expected);
  });

  it('formats registered tasks like Celery, builtins left out', () => {
    const tasks = [
      { name: 'b.two', attributes: { rate_limit: '10/m', acks_late: true } },
      { name: 'a.one' },
      { name: 'celery.chord_unlock' },
    ];
    expect(registeredList(tasks, [], false)).toEqual(['a.one', 'b.two [rate_limit=10/m]']);
    expect(registeredList(tasks, ['acks_late'], true)).toEqual([
      'a.one',
      'b.two [acks_late=True]',
      'celery.chord_unlock',
    ]);
  });

  it('names signals as Celery signum() accepts them', () => {
    expect(signalName('KILL')).toBe('SIGKILL');
    expect(signalName('SIGTERM')).toBe('SIGTERM');
    expect(signalName(9)).toBe('SIGKILL');
    expect(signalName(undefined)).toBe('SIGTERM');
    expect(signalName('NOPE')).toBeUndefined();
  });

  it('keeps a Lamport clock like kombu', () => {
    const clock = new LamportClock();
    expect(clock.forward()).toBe(1);
    expect(clock.adjust(10)).toBe(11);
    expect(clock.adjust(3)).toBe(12);
    expect(clock.adjust('20')).toBe(21);
  });
});
