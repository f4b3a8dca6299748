import { describe, expect, it } from 'vitest';
import { decodeTaskEnvelope, encodeTaskEnvelope, type OutgoingTask, ProtocolEncodeError } from '../src/index.js';
import { type FixtureJson, loadFixture } from './support/fixtures.js';

const ACCEPT = ['json', 'msgpack'] as const;

function keysDeep(o: FixtureJson): unknown {
  return {
    top: Object.keys(o),
    headers: Object.keys(o.headers),
    properties: Object.keys(o.properties),
    delivery_info: Object.keys(o.properties.delivery_info),
  };
}

const base: OutgoingTask = {
  id: 'c3a6c083-8a77-4b49-ab02-48beb314f8aa',
  task: 'wireapp.add',
  args: [2, 3],
  kwargs: {},
  queue: 'celery',
  replyTo: '5db2c0d7-a70b-37bb-983d-3c3bf6be4a92',
  origin: 'gen6334@vm',
};

describe('encodeTaskEnvelope', () => {
  it('produces the key set and order of a Python client (a_add_json)', () => {
    const fixture = JSON.parse(loadFixture('a_add_json').broker.message.raw);
    const ours = JSON.parse(encodeTaskEnvelope(base));
    expect(keysDeep(ours)).toEqual(keysDeep(fixture));
    const { delivery_tag: theirTag, ...theirProps } = fixture.properties;
    const { delivery_tag: ourTag, ...ourProps } = ours.properties;
    expect(ourProps).toEqual(theirProps);
    expect(ourTag).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    expect(ourTag).not.toBe(theirTag);
    expect(ours.headers).toEqual({ ...fixture.headers, lang: 'js' });
    expect(ours['content-type']).toBe('application/json');
    expect(ours['content-encoding']).toBe('utf-8');
    expect(JSON.parse(Buffer.from(ours.body, 'base64').toString())).toEqual(
      JSON.parse(Buffer.from(fixture.body, 'base64').toString()),
    );
  });

  it('writes Python-style separators like kombu (so plain-string scans behave the same)', () => {
    const raw = encodeTaskEnvelope(base);
    expect(raw).toContain('"delivery_tag": "');
    expect(raw.startsWith('{"body": "')).toBe(true);
  });

  it('writes a fresh delivery tag per call', () => {
    const a = JSON.parse(encodeTaskEnvelope(base)).properties.delivery_tag;
    const b = JSON.parse(encodeTaskEnvelope(base)).properties.delivery_tag;
    expect(a).not.toBe(b);
  });

  it('adds expiration (ms as a string) only when expires is set, in kombu position (d_expires)', () => {
    const fixture = JSON.parse(loadFixture('d_expires').broker.message.raw);
    const ours = JSON.parse(encodeTaskEnvelope({ ...base, expires: new Date(Date.now() + 60_000) }));
    expect(keysDeep(ours)).toEqual(keysDeep(fixture));
    expect(Number(ours.properties.expiration)).toBeGreaterThan(59_000);
    expect(Number(ours.properties.expiration)).toBeLessThanOrEqual(60_000);
    expect(ours.headers.expires).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}\+00:00$/);
    const past = JSON.parse(encodeTaskEnvelope({ ...base, expires: new Date(Date.now() - 5000) }));
    expect(past.properties.expiration).toBe('0');
    expect('expiration' in JSON.parse(encodeTaskEnvelope(base)).properties).toBe(false);
  });

  it('puts retry properties where the Python worker does (k_retry)', () => {
    const fixture = JSON.parse(loadFixture('k_retry').worker_published_messages[0].raw);
    const ours = JSON.parse(
      encodeTaskEnvelope({
        ...base,
        retries: 1,
        parentId: base.id,
        eta: new Date(),
        extraProperties: { replaced_task_nesting: 0, origin: 'gen6334@vm' },
      }),
    );
    expect(keysDeep(ours)).toEqual(keysDeep(fixture));
    expect(ours.properties.replaced_task_nesting).toBe(0);
    expect(ours.headers.retries).toBe(1);
  });

  it('writes msgpack bodies byte-identical to Python msgpack (f2_msgpack_kwargs_unicode)', () => {
    const f = loadFixture('f2_msgpack_kwargs_unicode');
    const ours = JSON.parse(
      encodeTaskEnvelope({ ...base, args: ['wörld'], kwargs: { greeting: 'hej' }, serializer: 'msgpack' }),
    );
    expect(ours['content-type']).toBe('application/x-msgpack');
    expect(ours['content-encoding']).toBe('binary');
    expect(Buffer.from(ours.body, 'base64').toString('hex')).toBe(f.broker.message.body_bytes_hex);
    expect(ours.headers.argsrepr).toBe("('wörld',)");
    expect(ours.headers.kwargsrepr).toBe("{'greeting': 'hej'}");
  });

  it('writes options like n_misc_options (shadow, timelimit, ignore_result)', () => {
    const fixture = JSON.parse(loadFixture('n_misc_options').broker.message.raw);
    const ours = JSON.parse(
      encodeTaskEnvelope({
        ...base,
        id: fixture.headers.id,
        args: [1, 1],
        shadow: 'add-shadow-name',
        timelimit: [30, 20],
        ignoreResult: true,
      }),
    );
    expect(ours.headers).toEqual({ ...fixture.headers, lang: 'js' });
  });

  it('round-trips through the decoder with every field', () => {
    const eta = new Date('2026-11-24T21:32:01.881Z');
    const expires = new Date(Date.now() + 3_600_000);
    const link = { task: 'wireapp.mul', args: [5], kwargs: {}, options: {}, subtask_type: null, immutable: false };
    for (const serializer of ['json', 'msgpack'] as const) {
      const raw = encodeTaskEnvelope({
        ...base,
        args: [1, 'two', { three: [3] }, null, true, 1.5],
        kwargs: { a: 'ö', b: [1, 2] },
        embed: { callbacks: [link] },
        eta,
        expires,
        retries: 3,
        timelimit: [10, null],
        rootId: 'root-1',
        parentId: 'parent-1',
        groupId: 'group-1',
        groupIndex: 2,
        priority: 5,
        queue: 'other',
        serializer,
        extraHeaders: { custom: 'x', task: 'ignored-duplicate' },
      });
      const r = decodeTaskEnvelope(raw, { accept: ACCEPT });
      if (!r.ok) throw new Error(r.reason);
      expect(r.message).toMatchObject({
        id: base.id,
        task: 'wireapp.add',
        args: [1, 'two', { three: [3] }, null, true, 1.5],
        kwargs: { a: 'ö', b: [1, 2] },
        embed: { callbacks: [link], errbacks: null, chain: null, chord: null },
        eta,
        retries: 3,
        timelimit: [10, null],
        rootId: 'root-1',
        parentId: 'parent-1',
        groupId: 'group-1',
        groupIndex: 2,
        priority: 5,
        routingKey: 'other',
        exchange: '',
        serializer,
        protocolVersion: 2,
        redelivered: false,
      });
      expect(r.message.expires?.getTime()).toBe(expires.getTime());
      expect(r.message.headers.custom).toBe('x');
      expect(r.message.headers.argsrepr).toBe("(1, 'two', {'three': [3]}, None, True, 1.5)");
    }
  });

  it('refuses values it cannot send with a clear ProtocolEncodeError', () => {
    expect(() => encodeTaskEnvelope({ ...base, id: '' })).toThrow(/task id/);
    expect(() => encodeTaskEnvelope({ ...base, eta: new Date(Number.NaN) })).toThrow(/invalid Date/);
    expect(() => encodeTaskEnvelope({ ...base, args: [10n] })).toThrow(ProtocolEncodeError);
    expect(() => encodeTaskEnvelope({ ...base, retries: -1 })).toThrow(/retries/);
  });
});
