import { describe, expect, it } from 'vitest';
import { decodeTaskEnvelope, parseCeleryDate } from '../src/index.js';
import { allEnvelopes, loadFixture } from './support/fixtures.js';

const ACCEPT = ['json', 'msgpack'] as const;
const { tasks, others } = allEnvelopes();

describe('decodeTaskEnvelope on every captured task message', () => {
  it('finds the captured task messages', () => {
    expect(tasks.length).toBeGreaterThan(40);
  });

  // The interop probes deliberately include entries a Python worker refused.
  const refusedProbes = new Set(['no_delivery_info', 'no_delivery_tag', 'content_type_unlisted']);
  const valid = tasks.filter((t) => !refusedProbes.has(t.where.split('.').pop() ?? ''));

  it.each(valid.map((t) => [`${t.fixture}${t.where}`, t] as const))('%s', (_label, t) => {
    const r = decodeTaskEnvelope(t.raw, { accept: ACCEPT });
    if (!r.ok) throw new Error(`${r.code}: ${r.reason}`);
    const m = r.message;
    const h = t.envelope.headers;
    const p = t.envelope.properties;
    expect(m.protocolVersion).toBe(2);
    expect(m.id).toBe(h.id);
    expect(m.task).toBe(h.task);
    expect(m.headers).toEqual(h);
    expect(m.deliveryTag).toBe(p.delivery_tag);
    expect(m.exchange).toBe(p.delivery_info.exchange);
    expect(m.routingKey).toBe(p.delivery_info.routing_key);
    expect(m.priority).toBe(p.priority ?? 0);
    expect(m.replyTo).toBe(p.reply_to ?? null);
    expect(m.retries).toBe(h.retries ?? 0);
    expect(m.timelimit).toEqual(h.timelimit ?? [null, null]);
    expect(m.rootId).toBe(h.root_id ?? null);
    expect(m.parentId).toBe(h.parent_id ?? null);
    expect(m.groupId).toBe(h.group ?? null);
    expect(m.groupIndex).toBe(h.group_index ?? null);
    expect(m.ignoreResult).toBe(h.ignore_result === true);
    expect(m.redelivered).toBe(h.redelivered === true);
    expect(m.contentType).toBe(t.envelope['content-type']);
    expect(m.eta?.getTime() ?? null).toBe(h.eta ? parseCeleryDate(h.eta)!.getTime() : null);
    expect(m.expires?.getTime() ?? null).toBe(h.expires ? parseCeleryDate(h.expires)!.getTime() : null);
    if (t.bodyDecoded !== undefined) {
      const [args, kwargs, embed] = t.bodyDecoded as [unknown[], object, Record<string, unknown>];
      expect(m.args).toEqual(args);
      expect(m.kwargs).toEqual(kwargs);
      expect(m.embed).toEqual({
        callbacks: embed.callbacks ?? null,
        errbacks: embed.errbacks ?? null,
        chain: embed.chain ?? null,
        chord: embed.chord ?? null,
      });
    }
  });

  it('decodes msgpack bodies with non-ASCII strings into plain JS values', () => {
    const f = loadFixture('f2_msgpack_kwargs_unicode');
    const r = decodeTaskEnvelope(f.broker.message.raw, { accept: ACCEPT });
    if (!r.ok) throw new Error(r.reason);
    expect(r.message.serializer).toBe('msgpack');
    expect(r.message.args).toEqual(['wörld']);
    expect(Object.getPrototypeOf(r.message.kwargs)).toBe(Object.prototype);
    expect(r.message.kwargs).toEqual({ greeting: 'hej' });
    expect(r.message.headers.argsrepr).toBe("('wörld',)");
  });

  it('reads chain, chord and link signatures from the embed', () => {
    const chain = decodeTaskEnvelope(loadFixture('i3_chain_three').broker.message.raw, { accept: ACCEPT });
    if (!chain.ok) throw new Error(chain.reason);
    expect(chain.message.embed.chain).toHaveLength(2);
    expect(chain.message.embed.chain?.[1]?.task).toBeTypeOf('string');
    const chord = decodeTaskEnvelope(loadFixture('i5_chord').broker.messages[0].raw, { accept: ACCEPT });
    if (!chord.ok) throw new Error(chord.reason);
    expect(chord.message.embed.chord?.options.task_id).toBeTypeOf('string');
    expect(chord.message.groupIndex).toBe(0);
  });
});

describe('decodeTaskEnvelope refusals', () => {
  const probes = loadFixture('interop_probes_foreign_messages').partA_foreign_client_to_python_worker;

  it('refuses a content type outside accept_content without decoding it', () => {
    const r = decodeTaskEnvelope(probes.content_type_unlisted.raw, { accept: ACCEPT });
    expect(r).toMatchObject({ ok: false, code: 'content_type_refused', taskId: probes.content_type_unlisted.task_id });
    expect(r.ok === false && r.taskName).toBe('wireapp.add');
    const json = decodeTaskEnvelope(loadFixture('a_add_json').broker.message.raw, { accept: ['msgpack'] });
    expect(json).toMatchObject({ ok: false, code: 'content_type_refused', routingKey: 'celery' });
  });

  it('accepts content types named by MIME type in accept', () => {
    const r = decodeTaskEnvelope(loadFixture('a_add_json').broker.message.raw, { accept: ['application/json'] });
    expect(r.ok).toBe(true);
  });

  it('refuses pickle and yaml even when listed in accept', () => {
    const base = JSON.parse(loadFixture('a_add_json').broker.message.raw);
    for (const [name, ct] of [
      ['pickle', 'application/x-python-serialize'],
      ['yaml', 'application/x-yaml'],
    ]) {
      const r = decodeTaskEnvelope(JSON.stringify({ ...base, 'content-type': ct }), { accept: [name!] });
      expect(r).toMatchObject({ ok: false, code: 'content_type_refused' });
    }
  });

  it('reports missing delivery_info / delivery_tag with what it could learn', () => {
    const a = decodeTaskEnvelope(probes.no_delivery_info.raw, { accept: ACCEPT });
    expect(a).toMatchObject({ ok: false, code: 'missing_field', taskId: probes.no_delivery_info.task_id });
    expect(a.ok === false && a.deliveryTag).toBe(JSON.parse(probes.no_delivery_info.raw).properties.delivery_tag);
    const b = decodeTaskEnvelope(probes.no_delivery_tag.raw, { accept: ACCEPT });
    expect(b).toMatchObject({ ok: false, code: 'missing_field', taskName: 'wireapp.add', routingKey: 'celery' });
  });

  it('reports entries that are not JSON', () => {
    expect(decodeTaskEnvelope(probes.not_json_at_all.raw, { accept: ACCEPT })).toMatchObject({
      ok: false,
      code: 'not_json',
    });
    expect(decodeTaskEnvelope('[1,2]', { accept: ACCEPT })).toMatchObject({ ok: false, code: 'not_json' });
  });

  it('takes the body as-is when body_encoding is absent', () => {
    const r = decodeTaskEnvelope(probes.body_not_base64.raw, { accept: ACCEPT });
    if (!r.ok) throw new Error(r.reason);
    expect(r.message.args).toEqual([2, 3]);
    expect(r.message.embed).toEqual({ callbacks: null, errbacks: null, chain: null, chord: null });
  });

  it('refuses a body that is not base64 or not [args, kwargs, embed]', () => {
    const base = JSON.parse(loadFixture('a_add_json').broker.message.raw);
    const notB64 = decodeTaskEnvelope(JSON.stringify({ ...base, body: '[[2, 3], {}, {}]' }), { accept: ACCEPT });
    expect(notB64).toMatchObject({ ok: false, code: 'bad_body', taskId: base.headers.id });
    for (const body of ['{"a": 1}', '[[1], {}]', '[1, {}, {}]', '[[1], [], {}]', '[[1], {}, 3]', 'nope']) {
      const r = decodeTaskEnvelope(JSON.stringify({ ...base, body: Buffer.from(body).toString('base64') }), {
        accept: ACCEPT,
      });
      expect(r, body).toMatchObject({ ok: false, code: 'bad_body', deliveryTag: base.properties.delivery_tag });
    }
  });

  it('refuses entries above maxBytes but still names the task', () => {
    const raw = loadFixture('a_add_json').broker.message.raw as string;
    const r = decodeTaskEnvelope(raw, { accept: ACCEPT, maxBytes: 100 });
    expect(r).toMatchObject({
      ok: false,
      code: 'too_large',
      taskId: 'c3a6c083-8a77-4b49-ab02-48beb314f8aa',
      taskName: 'wireapp.add',
      deliveryTag: '1bb36390-4a57-405b-b9e7-3a96712b6d9c',
      routingKey: 'celery',
    });
    expect(decodeTaskEnvelope(raw, { accept: ACCEPT, maxBytes: raw.length }).ok).toBe(true);
  });

  it('refuses bad header values with bad_field', () => {
    const base = JSON.parse(loadFixture('a_add_json').broker.message.raw);
    for (const patch of [{ eta: 'tomorrow' }, { expires: 5 }, { retries: -1 }, { timelimit: [1] }, { parent_id: 3 }]) {
      const r = decodeTaskEnvelope(JSON.stringify({ ...base, headers: { ...base.headers, ...patch } }), {
        accept: ACCEPT,
      });
      expect(r, JSON.stringify(patch)).toMatchObject({ ok: false, code: 'bad_field', taskId: base.headers.id });
    }
  });

  it('gives missing_field for the non-task envelopes in the fixtures (events, pidbox)', () => {
    expect(others.length).toBeGreaterThan(10);
    for (const o of others) {
      const r = decodeTaskEnvelope(o.raw, { accept: ACCEPT });
      expect(r.ok, `${o.fixture}${o.where}`).toBe(false);
    }
  });
});

describe('protocol v1', () => {
  const v1Body = {
    task: 'wireapp.add',
    id: 'v1-6f1e2d4c',
    args: [2, 3],
    kwargs: { z: 1 },
    retries: 2,
    eta: '2026-11-24T21:32:01.881766+00:00',
    expires: null,
    utc: true,
    callbacks: [{ task: 'wireapp.mul', args: [5], kwargs: {}, options: {}, subtask_type: null, immutable: false }],
    errbacks: null,
    timelimit: [30, 20],
    taskset: 'group-1',
    chord: null,
  };
  const raw = JSON.stringify({
    body: Buffer.from(JSON.stringify(v1Body)).toString('base64'),
    'content-type': 'application/json',
    'content-encoding': 'utf-8',
    headers: {},
    properties: {
      delivery_tag: 'tag-v1',
      body_encoding: 'base64',
      delivery_info: { exchange: '', routing_key: 'celery' },
    },
  });

  it('decodes a v1 body dict into a TaskMessage with v2-style headers', () => {
    const r = decodeTaskEnvelope(raw, { accept: ACCEPT });
    if (!r.ok) throw new Error(r.reason);
    const m = r.message;
    expect(m.protocolVersion).toBe(1);
    expect(m).toMatchObject({
      id: 'v1-6f1e2d4c',
      task: 'wireapp.add',
      args: [2, 3],
      kwargs: { z: 1 },
      retries: 2,
      timelimit: [30, 20],
      groupId: 'group-1',
      deliveryTag: 'tag-v1',
    });
    expect(m.eta?.toISOString()).toBe('2026-11-24T21:32:01.881Z');
    expect(m.embed.callbacks?.[0]?.task).toBe('wireapp.mul');
    expect(m.embed.chain).toBeNull();
    expect(m.headers).toMatchObject({ task: 'wireapp.add', id: 'v1-6f1e2d4c', group: 'group-1' });
  });
});
