import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  DOCUMENT_SERIALIZER,
  decodeResultBytes,
  encodeResult,
  encodeResultDocument,
  ResultDecodeError,
  type ResultDocument,
  resultSerializerOf,
  SerializerUnsupportedError,
  serializerAccepted,
  sniffResultSerializer,
} from '../src/index.js';

/** Runs `script` under Debian's Python with Celery 5.2; stdin is `input`, stdout is parsed as JSON. */
function python(script: string, input: string): unknown {
  const out = execFileSync('/usr/bin/python3', ['-c', script], { input, encoding: 'utf8', timeout: 60_000 });
  return JSON.parse(out);
}

/** Celery's own result backend code (BaseBackend.encode / decode_result) with result_serializer=msgpack. */
const CELERY_BACKEND = `
import json, sys
from celery import Celery
from celery.backends.base import BaseBackend
app = Celery('serializer', set_as_current=False)
app.conf.result_serializer = 'msgpack'
app.conf.result_accept_content = ['msgpack']
backend = BaseBackend(app)
`;

function doc(extra: Partial<ResultDocument> = {}): ResultDocument {
  return {
    status: 'SUCCESS',
    result: { sum: 5, items: [1, 'two', null, true], text: 'héllo ✓', nested: { deep: [{ x: -3 }] } },
    traceback: null,
    children: [],
    date_done: '2026-11-24T21:32:13.245331',
    task_id: 'a5f1c7de-0f0c-4a57-9b6f-0d9c3b9b1e11',
    ...extra,
  };
}

describe('result_serializer values', () => {
  it('takes json (also when unset) and msgpack', () => {
    expect(resultSerializerOf(undefined)).toBe('json');
    expect(resultSerializerOf(null)).toBe('json');
    expect(resultSerializerOf('json')).toBe('json');
    expect(resultSerializerOf('msgpack')).toBe('msgpack');
  });

  it.each([['pickle'], ['yaml'], ['application/json'], ['JSON'], [5]])('refuses %j with a clear message', (value) => {
    const error = (() => {
      try {
        resultSerializerOf(value);
      } catch (e) {
        return e;
      }
      return undefined;
    })() as SerializerUnsupportedError;
    expect(error).toBeInstanceOf(SerializerUnsupportedError);
    expect(error.code).toBe('PROTOCOL_SERIALIZER_UNSUPPORTED');
    expect(error.message).toContain(`result_serializer ${JSON.stringify(value)} is not supported`);
    expect(error.message).toContain('"json" or "msgpack"');
    if (value === 'pickle') expect(error.message).toContain('can run code');
  });
});

describe('stored result bytes', () => {
  it('json is the unchanged encodeResult text', () => {
    const d = doc();
    expect(encodeResultDocument(d, 'json')).toBe(encodeResult(d));
  });

  it('tells json from msgpack by their first bytes', () => {
    expect(sniffResultSerializer(Buffer.from(encodeResult(doc())))).toBe('json');
    expect(sniffResultSerializer(Buffer.from(' \n{"status": "SUCCESS"}'))).toBe('json');
    expect(sniffResultSerializer(encodeResultDocument(doc(), 'msgpack') as Buffer)).toBe('msgpack');
    expect(sniffResultSerializer(Buffer.from('"just a string"'))).toBeUndefined();
    expect(sniffResultSerializer(Buffer.from([0x93, 1, 2, 3]))).toBeUndefined();
    expect(sniffResultSerializer(Buffer.alloc(0))).toBeUndefined();
  });

  it('never stores the DOCUMENT_SERIALIZER mark', () => {
    const d = doc();
    d[DOCUMENT_SERIALIZER] = 'msgpack';
    expect(encodeResult(d)).toBe(encodeResult(doc()));
    expect(encodeResultDocument(d, 'msgpack')).toEqual(encodeResultDocument(doc(), 'msgpack'));
  });

  it('decodes both, and refuses what is not a result', () => {
    const d = doc({
      status: 'FAILURE',
      result: { exc_type: 'ValueError', exc_message: ['x'], exc_module: 'builtins' },
    });
    expect(decodeResultBytes(Buffer.from(encodeResult(d)), 'json', d.task_id)).toEqual(d);
    expect(decodeResultBytes(encodeResultDocument(d, 'msgpack') as Buffer, 'msgpack', d.task_id)).toEqual(d);
    const extra = Buffer.concat([encodeResultDocument(d, 'msgpack') as Buffer, Buffer.from([1])]);
    expect(() => decodeResultBytes(extra, 'msgpack', 't1')).toThrow(ResultDecodeError);
    expect(() => decodeResultBytes(Buffer.from([0x81, 0xa1, 0x61, 0x01]), 'msgpack', 't1')).toThrow(
      'stored result of task t1 has no string "status"',
    );
  });

  it('checks a serializer against accept_content-like lists of names or content types', () => {
    expect(serializerAccepted('json', ['json'])).toBe(true);
    expect(serializerAccepted('msgpack', ['json'])).toBe(false);
    expect(serializerAccepted('msgpack', ['application/x-msgpack'])).toBe(true);
    expect(serializerAccepted('msgpack', ['msgpack'])).toBe(true);
    expect(serializerAccepted('json', ['application/json'])).toBe(true);
  });
});

describe('msgpack results and Celery 5.2', () => {
  it('are the bytes Celery writes for the same document, and Celery decodes ours', () => {
    const success = doc();
    const failure = doc({
      status: 'FAILURE',
      result: { exc_type: 'ValueError', exc_message: ['bad value', 42], exc_module: 'builtins' },
      traceback: 'Traceback (most recent call last):\n  ...\nValueError: bad value',
    });
    const extended = {
      ...doc(),
      parent_id: 'p1',
      name: 'tasks.add',
      args: [2, 3],
      kwargs: {},
      worker: 'w@h',
      retries: 0,
      queue: 'celery',
    } as ResultDocument;
    const ours = [success, failure, extended].map((d) =>
      (encodeResultDocument(d, 'msgpack') as Buffer).toString('hex'),
    );
    const out = python(
      `${CELERY_BACKEND}
docs = json.loads(sys.stdin.read())
res = []
for hex_doc in docs['ours']:
    meta = backend.decode_result(bytes.fromhex(hex_doc))
    r = meta['result']
    res.append({'status': meta['status'], 'date_done': meta['date_done'], 'task_id': meta['task_id'],
                'result': r if not isinstance(r, BaseException) else {'type': type(r).__name__, 'args': list(r.args)},
                'keys': list(meta.keys())})
theirs = [backend.encode(d).hex() for d in docs['plain']]
print(json.dumps({'decoded': res, 'theirs': theirs}))
`,
      JSON.stringify({ ours, plain: [success, failure, extended] }),
    ) as { decoded: Record<string, unknown>[]; theirs: string[] };
    expect(out.decoded[0]).toMatchObject({ status: 'SUCCESS', result: success.result, task_id: success.task_id });
    expect(out.decoded[1]).toMatchObject({
      status: 'FAILURE',
      result: { type: 'ValueError', args: ['bad value', 42] },
    });
    expect(out.decoded[2]?.keys).toEqual(Object.keys(extended));
    // Celery packs the same document to the same bytes (msgpack.packb(meta, use_bin_type=True)).
    expect(out.theirs).toEqual(ours);
    for (const hex of out.theirs) {
      expect(decodeResultBytes(Buffer.from(hex, 'hex'), 'msgpack')).toMatchObject({ status: expect.any(String) });
    }
  });

  it('decodes what Celery stores for a task it ran (bytes results included)', () => {
    const out = python(
      `${CELERY_BACKEND}
meta = backend._get_result_meta(result={'n': 2**40, 'f': 1.5, 'b': b'\\x00\\x01', 'u': 'ü'}, state='SUCCESS',
                                traceback=None, request=None)
meta['task_id'] = 'py-1'
print(json.dumps({'hex': backend.encode(meta).hex()}))
`,
      '',
    ) as { hex: string };
    const decoded = decodeResultBytes(Buffer.from(out.hex, 'hex'), 'msgpack', 'py-1');
    expect(decoded.status).toBe('SUCCESS');
    expect(decoded.task_id).toBe('py-1');
    expect(decoded.date_done).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}$/);
    const result = decoded.result as Record<string, unknown>;
    expect(result.n).toBe(2 ** 40);
    expect(result.f).toBe(1.5);
    expect(Buffer.from(result.b as Uint8Array)).toEqual(Buffer.from([0, 1]));
    expect(result.u).toBe('ü');
  });
});
