import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { type DecodeResult, decodeTaskEnvelope, encodeTaskEnvelope } from '../src/index.js';
import { allEnvelopes, type FixtureJson } from './support/fixtures.js';

const ACCEPT = ['json', 'msgpack'] as const;
const CODES = new Set(['not_json', 'missing_field', 'content_type_refused', 'bad_body', 'too_large', 'bad_field']);
const samples = allEnvelopes().tasks.filter((t) => {
  const r = decodeTaskEnvelope(t.raw, { accept: ACCEPT });
  return r.ok;
});

/** Decodes and checks the invariants of any result: no throw, a known code, well-typed messages. */
function decodeChecked(raw: string, maxBytes?: number): DecodeResult {
  const r = decodeTaskEnvelope(raw, maxBytes === undefined ? { accept: ACCEPT } : { accept: ACCEPT, maxBytes });
  if (r.ok) {
    const m = r.message;
    expect(typeof m.id).toBe('string');
    expect(typeof m.task).toBe('string');
    expect(Array.isArray(m.args)).toBe(true);
    expect(typeof m.kwargs === 'object' && m.kwargs !== null && !Array.isArray(m.kwargs)).toBe(true);
    expect(typeof m.deliveryTag).toBe('string');
    expect(typeof m.routingKey).toBe('string');
    expect(Number.isInteger(m.retries) && m.retries >= 0).toBe(true);
    expect(m.eta === null || !Number.isNaN(m.eta.getTime())).toBe(true);
  } else {
    expect(CODES.has(r.code), r.code).toBe(true);
    expect(r.reason.length).toBeGreaterThan(0);
  }
  return r;
}

type Path = (string | number)[];

function paths(node: unknown, prefix: Path = [], out: Path[] = []): Path[] {
  if (typeof node === 'object' && node !== null) {
    for (const [k, v] of Object.entries(node)) {
      const p = [...prefix, Array.isArray(node) ? Number(k) : k];
      out.push(p);
      paths(v, p, out);
    }
  }
  return out;
}

function mutate(envelope: FixtureJson, path: Path, action: 'drop' | 'set', value?: unknown): FixtureJson {
  const copy = structuredClone(envelope);
  let node = copy;
  for (const k of path.slice(0, -1)) node = node[k];
  const last = path[path.length - 1]!;
  if (action === 'drop') {
    if (Array.isArray(node)) node.splice(Number(last), 1);
    else delete node[last];
  } else node[last] = value;
  return copy;
}

const REQUIRED: Path[] = [
  ['properties'],
  ['properties', 'delivery_tag'],
  ['properties', 'delivery_info'],
  ['properties', 'delivery_info', 'routing_key'],
  ['properties', 'delivery_info', 'exchange'],
  ['headers', 'id'],
  ['content-type'],
  ['body'],
];

describe('decodeTaskEnvelope never throws', () => {
  it('on random strings', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'binary', maxLength: 300 }), (s) => {
        decodeChecked(s);
      }),
      { numRuns: 500 },
    );
  });

  it('on random JSON values and random envelope-like objects', () => {
    fc.assert(
      fc.property(fc.jsonValue(), (v) => {
        expect(decodeChecked(JSON.stringify(v)).ok).toBe(false);
      }),
      { numRuns: 300 },
    );
    const anything = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.constant(undefined));
    fc.assert(
      fc.property(
        fc.record({
          body: anything,
          'content-type': fc.oneof(fc.constantFrom('application/json', 'application/x-msgpack'), anything),
          headers: fc.oneof(fc.record({ task: anything, id: anything, eta: anything, retries: anything }), anything),
          properties: fc.oneof(
            fc.record({
              delivery_tag: anything,
              body_encoding: fc.oneof(fc.constant('base64'), anything),
              delivery_info: fc.oneof(fc.record({ exchange: anything, routing_key: anything }), anything),
            }),
            anything,
          ),
        }),
        (env) => {
          decodeChecked(JSON.stringify(env));
        },
      ),
      { numRuns: 500 },
    );
  });

  it('on mutations of real fixture envelopes: dropped fields, changed types', () => {
    const weird = fc.oneof(
      fc.constant(null),
      fc.integer(),
      fc.string({ maxLength: 20 }),
      fc.boolean(),
      fc.array(fc.integer(), { maxLength: 3 }),
      fc.dictionary(fc.string({ maxLength: 5 }), fc.integer(), { maxKeys: 3 }),
    );
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: samples.length - 1 }),
        fc.nat(),
        fc.boolean(),
        weird,
        (i, pick, drop, value) => {
          const envelope = samples[i]!.envelope;
          const all = paths(envelope);
          const path = all[pick % all.length]!;
          decodeChecked(JSON.stringify(mutate(envelope, path, drop ? 'drop' : 'set', value)));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('gives ok:false with a code when a required field is dropped', () => {
    for (const s of samples) {
      for (const path of REQUIRED) {
        const r = decodeChecked(JSON.stringify(mutate(s.envelope, path, 'drop')));
        expect(r.ok, `${s.fixture}${s.where} without ${path.join('.')}`).toBe(false);
      }
    }
  });

  it('on truncated entries and flipped bytes', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 0, max: samples.length - 1 }),
        fc.nat(),
        fc.integer({ min: 0, max: 0xffff }),
        (i, at, code) => {
          const raw = samples[i]!.raw;
          const cut = at % raw.length;
          expect(decodeChecked(raw.slice(0, cut)).ok).toBe(false);
          decodeChecked(raw.slice(0, cut) + String.fromCharCode(code) + raw.slice(cut + 1));
        },
      ),
      { numRuns: 1000 },
    );
  });

  it('on garbage bodies under an accepted content type', () => {
    const base = samples[0]!.envelope;
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), fc.boolean(), (bytes, msgpack) => {
        const env = {
          ...base,
          'content-type': msgpack ? 'application/x-msgpack' : 'application/json',
          body: Buffer.from(bytes).toString('base64'),
        };
        decodeChecked(JSON.stringify(env));
      }),
      { numRuns: 500 },
    );
  });

  it('on huge entries: refused by size without parsing, and still decodable without a limit', () => {
    const big = encodeTaskEnvelope({
      id: 'big-1',
      task: 't.big',
      args: ['x'.repeat(2_000_000)],
      kwargs: {},
      queue: 'q',
    });
    const refused = decodeChecked(big, 1_000_000);
    expect(refused).toMatchObject({
      ok: false,
      code: 'too_large',
      taskId: 'big-1',
      taskName: 't.big',
      routingKey: 'q',
    });
    expect(decodeChecked(big).ok).toBe(true);
    const deep = `${'['.repeat(200_000)}${']'.repeat(200_000)}`;
    expect(decodeChecked(deep).ok).toBe(false);
  });
});

describe('encode → decode round trip', () => {
  const key = fc.string({ maxLength: 10 }).filter((k) => k !== '__proto__');
  const json = fc.letrec((tie) => ({
    value: fc.oneof(
      { depthSize: 'small' },
      fc.constant(null),
      fc.boolean(),
      fc.integer(),
      fc.double({ noNaN: true, noDefaultInfinity: true }),
      fc.string({ unit: 'grapheme', maxLength: 20 }),
      fc.array(tie('value'), { maxLength: 4 }),
      fc.dictionary(key, tie('value'), { maxKeys: 4 }),
    ),
  })).value;

  it('gives back args and kwargs for json and msgpack', () => {
    fc.assert(
      fc.property(
        fc.array(json, { maxLength: 5 }),
        fc.dictionary(key, json, { maxKeys: 5 }),
        fc.constantFrom('json', 'msgpack' as const),
        fc.integer({ min: 0, max: 9 }),
        (args, kwargs, serializer, priority) => {
          const raw = encodeTaskEnvelope({
            id: 'rt',
            task: 'rt.task',
            args,
            kwargs,
            queue: 'q',
            serializer: serializer as 'json' | 'msgpack',
            priority,
          });
          const r = decodeChecked(raw);
          if (!r.ok) throw new Error(r.reason);
          // JSON has no -0; compare as the wire carries it.
          const norm = (v: unknown) => JSON.parse(JSON.stringify(v));
          expect(norm(r.message.args)).toEqual(norm(args));
          expect(norm(r.message.kwargs)).toEqual(norm(kwargs));
          expect(r.message.priority).toBe(priority);
        },
      ),
      { numRuns: 300 },
    );
  });
});
