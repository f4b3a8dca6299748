import { describe, expect, it } from 'vitest';
import { mergeLayers } from '../src/index.js';

describe('mergeLayers', () => {
  it('merges objects key by key, later layers winning', () => {
    const defaults = {
      celery: { broker_url: 'redis://a', task_serializer: 'json' },
      programs: { w: { kind: 'celeriac-worker', replicas: 1 } },
    };
    const group = { celery: { task_serializer: 'msgpack' } };
    const node = { groups: ['web'], programs: { w: { replicas: 3 }, x: { kind: 'command', command: ['true'] } } };
    expect(mergeLayers(defaults, group, node)).toEqual({
      groups: ['web'],
      celery: { broker_url: 'redis://a', task_serializer: 'msgpack' },
      programs: { w: { kind: 'celeriac-worker', replicas: 3 }, x: { kind: 'command', command: ['true'] } },
    });
  });

  it('replaces arrays and scalars instead of merging them', () => {
    expect(mergeLayers({ a: [1, 2, 3], b: { c: 1 } }, { a: [4], b: 'scalar' })).toEqual({ a: [4], b: 'scalar' });
    expect(mergeLayers({ b: 'scalar' }, { b: { c: 1 } })).toEqual({ b: { c: 1 } });
  });

  it('deletes keys set to null, at any depth and in the first layer too', () => {
    expect(
      mergeLayers(
        { celery: { task_annotations: { 'tasks.add': { rate_limit: '1/s', acks_late: true } }, x: null } },
        { celery: { task_annotations: { 'tasks.add': { rate_limit: null } } } },
        { programs: null },
      ),
    ).toEqual({ celery: { task_annotations: { 'tasks.add': { acks_late: true } } } });
    expect(mergeLayers({ programs: { w: { kind: 'command' } } }, { programs: { w: null } })).toEqual({ programs: {} });
  });

  it('keeps nulls inside arrays, which replace whole', () => {
    expect(mergeLayers({ a: [1] }, { a: [null, 2] })).toEqual({ a: [null, 2] });
  });

  it('never modifies or shares its inputs', () => {
    const a = { x: { y: [1], z: { w: 1 } } };
    const b = { x: { z: { v: 2 } } };
    const copyA = structuredClone(a);
    const merged = mergeLayers(a, b) as { x: { y: number[] } };
    merged.x.y.push(2);
    expect(a).toEqual(copyA);
    expect(b).toEqual({ x: { z: { v: 2 } } });
  });

  it('skips undefined and null layers and normalises old Celery names so they merge with new ones', () => {
    expect(
      mergeLayers(undefined, { celery: { BROKER_URL: 'redis://old' } }, null, {
        celery: { broker_url: 'redis://new' },
      }),
    ).toEqual({
      celery: { broker_url: 'redis://new' },
    });
    expect(mergeLayers({ celery: { broker_url: 'redis://a' } }, { celery: { CELERY_ROUTES: { t: 'q' } } })).toEqual({
      celery: { broker_url: 'redis://a', task_routes: { t: 'q' } },
    });
  });
});
