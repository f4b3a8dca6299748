import { describe, expect, it } from 'vitest';
import {
  buildResultDocument,
  decodeResultDocument,
  encodeResult,
  parseCeleryDate,
  ResultDecodeError,
  type ResultInput,
} from '../src/index.js';
import { type FixtureJson, fixtureNames, loadFixture } from './support/fixtures.js';

/** A JS Date holds milliseconds: compare captured microseconds at millisecond precision. */
function toMillis(raw: string): string {
  return raw.replace(/("date_done": "[^"]*\.\d{3})\d{3}"/, '$1000"');
}

function storedValue(fixture: string, taskId: string): { raw: string; decoded: FixtureJson } {
  const f = loadFixture(fixture);
  return f.result_backend[taskId];
}

/** Same keys in the same order and equal values (nested JSON spacing may differ from Python's). */
function sameDocument(ours: string, theirs: string): void {
  const a = JSON.parse(ours);
  const b = JSON.parse(theirs);
  expect(Object.keys(a)).toEqual(Object.keys(b));
  expect(a).toEqual(b);
}

function rebuild(raw: string, extra: Partial<ResultInput> = {}): string {
  const d = JSON.parse(raw);
  return encodeResult(
    buildResultDocument({
      taskId: d.task_id,
      status: d.status,
      result: d.result,
      traceback: d.traceback,
      children: d.children,
      dateDone: d.date_done ? (parseCeleryDate(d.date_done) ?? undefined) : undefined,
      parentId: d.parent_id,
      groupId: d.group_id,
      ...extra,
    }),
  );
}

describe('result documents', () => {
  it.each([
    ['h_success_int', 'SUCCESS with an int'],
    ['h2_success_dict', 'SUCCESS with a dict'],
    ['g3_fail_valueerror_multiarg', 'FAILURE ValueError'],
    ['g2_fail_custom_exception', 'FAILURE custom exception'],
    ['g_fail_nameerror', 'FAILURE NameError'],
  ])('rebuilds %s (%s) with the same keys, order and values', (fixture) => {
    const f = loadFixture(fixture);
    const { raw } = storedValue(fixture, f.task_id);
    sameDocument(rebuild(raw), toMillis(raw));
  });

  it('rebuilds a scalar SUCCESS byte for byte (h_success_int)', () => {
    const f = loadFixture('h_success_int');
    const { raw } = storedValue('h_success_int', f.task_id);
    expect(rebuild(raw)).toBe(toMillis(raw));
  });

  it('places parent_id (i2_chain_two) and group_id (i4_group) before task_id', () => {
    const chain = loadFixture('i2_chain_two');
    const child = Object.values(chain.result_backend as Record<string, { raw: string }>).find((v) =>
      v.raw.includes('"parent_id"'),
    );
    expect(child).toBeDefined();
    sameDocument(rebuild(child!.raw), toMillis(child!.raw));
    const group = loadFixture('i4_group');
    for (const v of Object.values(group.result_backend as Record<string, { raw: string }>)) {
      if (v.raw.includes('"group_id"')) sameDocument(rebuild(v.raw), toMillis(v.raw));
    }
  });

  it('writes date_done null for non-ready states (m_custom_state PROGRESS, RETRY)', () => {
    const doc = buildResultDocument({ taskId: 't1', status: 'PROGRESS', result: { current: 1, total: 3 } });
    expect(encodeResult(doc)).toBe(
      '{"status": "PROGRESS", "result": {"current":1,"total":3}, "traceback": null, "children": [], "date_done": null, "task_id": "t1"}',
    );
    expect(buildResultDocument({ taskId: 't1', status: 'RETRY', traceback: 'tb' }).date_done).toBeNull();
    expect(buildResultDocument({ taskId: 't1', status: 'REVOKED' }).date_done).toMatch(/\.\d{6}$/);
  });

  it('writes result_extended fields in Celery order (result_extended_and_started)', () => {
    const doc = buildResultDocument({
      taskId: '1ffeef31-3d23-464e-b45a-d1aceaa83d41',
      status: 'SUCCESS',
      result: 5,
      dateDone: new Date('2026-11-24T21:45:09.709Z'),
      extended: { name: 'wireapp.add', args: [2, 3], kwargs: {}, worker: 'w6@wire', retries: 0, queue: 'celery' },
    });
    const captured = JSON.stringify(loadFixture('result_extended_and_started'));
    const m = /\{\\"status\\": \\"SUCCESS\\", \\"result\\": 5, .*?1ffeef31-3d23-464e-b45a-d1aceaa83d41\\"\}/.exec(
      captured,
    );
    expect(m).not.toBeNull();
    const theirs = JSON.parse(JSON.parse(`"${m![0]}"`));
    expect(Object.keys(doc)).toEqual(Object.keys(theirs));
    expect({ ...doc, date_done: null }).toEqual({ ...theirs, date_done: null });
  });

  it('decodes every stored result value in the fixtures', () => {
    const seen: string[] = [];
    const walk = (node: unknown): void => {
      if (typeof node === 'string') {
        // MONITOR captures cut long values ("...(+N chars)"): keep the complete ones.
        if (node.startsWith('{"status"') && node.endsWith('}')) seen.push(node);
      } else if (Array.isArray(node)) node.forEach(walk);
      else if (typeof node === 'object' && node !== null) Object.values(node).forEach(walk);
    };
    for (const name of fixtureNames()) walk(loadFixture(name));
    expect(seen.length).toBeGreaterThan(30);
    for (const raw of seen) {
      const doc = decodeResultDocument(raw, 'fallback-id');
      const parsed = JSON.parse(raw);
      expect(doc.status).toBe(parsed.status);
      expect(doc.result).toEqual(parsed.result ?? null);
      expect(doc.task_id).toBe(parsed.task_id ?? 'fallback-id');
      expect(Array.isArray(doc.children)).toBe(true);
    }
  });

  it('fills what a minimal writer leaves out and refuses what is not a result', () => {
    expect(decodeResultDocument('{"status": "SUCCESS", "result": 5}', 'abc')).toEqual({
      status: 'SUCCESS',
      result: 5,
      traceback: null,
      children: [],
      date_done: null,
      task_id: 'abc',
    });
    for (const bad of ['nope', '[]', '{"result": 1}', 'null']) {
      expect(() => decodeResultDocument(bad, 'abc')).toThrow(ResultDecodeError);
    }
  });

  it('refuses results that cannot be JSON with an ProtocolEncodeError naming the task', () => {
    expect(() => encodeResult(buildResultDocument({ taskId: 'big', status: 'SUCCESS', result: 10n }))).toThrow(/big/);
  });
});
