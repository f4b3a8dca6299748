// Nested canvases laid out as Celery 5.2 sends them (captured from Debian's Celery 5.2 client on
// Redis: `_chain.prepare_steps`, `group._prepared`, `chord.run`): a group followed by a task in a
// chain becomes a chord, a chain in a group or chord header joins it through its last task.

import { isDeepStrictEqual } from 'node:util';
import type { Signature } from '@celeriac/protocol';
import { describe, expect, it } from 'vitest';
import { AsyncResult } from '../src/async-result.js';
import { planCanvas } from '../src/canvas-plan.js';
import { Chain } from '../src/chain.js';
import { chord } from '../src/chord.js';
import { Group } from '../src/group.js';
import { resultFromTuple } from '../src/group-result.js';
import { signature } from '../src/signature.js';

function ids(): () => string {
  let n = 0;
  return () => `id-${++n}`;
}

const s = (name: string, ...args: unknown[]) => signature(`tasks.${name}`, args);

describe('nested canvases', () => {
  it('chain(a, group(b, c), d): one message a whose embed.chain is the chord group(b, c) -> d, ids frozen', () => {
    const sig = new Chain([s('a', 1), new Group([s('b'), s('c')]), s('d')]).toSignature();
    const plan = planCanvas(sig, [], ids());
    expect(plan.messages).toHaveLength(1);
    const [a] = plan.messages;
    expect([a?.sig.task, a?.args, a?.groupId, a?.chord]).toEqual(['tasks.a', [1], null, null]);
    const step = a?.chain?.[0];
    expect(a?.chain).toHaveLength(1);
    expect(step).toMatchObject({ task: 'celery.chord', subtask_type: 'chord' });
    const body = step?.kwargs.body as { task: string; options: { task_id: string } };
    const header = step?.kwargs.header as { options: { task_id: string }; kwargs: { tasks: (typeof step)[] } };
    expect(body.task).toBe('tasks.d');
    expect(step?.options.task_id).toBe(header.options.task_id);
    const members = header.kwargs.tasks.map((m) => [m?.task, m?.options.group_index, m?.options.chord]);
    expect(members).toEqual([
      ['tasks.b', 0, body],
      ['tasks.c', 1, body],
    ]);
    // No chord size yet: the worker that runs `a` sends the chord and stores it (Celery's chord.run).
    expect(plan.chordSizes).toEqual([]);
    // The result: d, whose parent is the header GroupResult, whose parent is a (as Celery's).
    const gid = header.options.task_id;
    const [b, c] = header.kwargs.tasks.map((m) => m?.options.task_id as string);
    expect(plan.result).toEqual([
      [
        body.options.task_id,
        [
          [gid, [[a?.id, null], null]],
          [
            [[b, null], null],
            [[c, null], null],
          ],
        ],
      ],
      null,
    ]);
  });

  it('the chord step that chain sends, planned again by the worker with the parent result: header parts keep their ids', () => {
    const sig = new Chain([s('a', 1), new Group([s('b'), s('c')]), s('d')]).toSignature();
    const step = planCanvas(sig, [], ids()).messages[0]?.chain?.[0];
    const again = planCanvas(JSON.parse(JSON.stringify(step)), [7], ids());
    const header = step?.kwargs.header as {
      options: { task_id: string };
      kwargs: { tasks: { options: { task_id: string } }[] };
    };
    expect(again.messages.map((m) => [m.sig.task, m.args, m.id, m.groupId, m.groupIndex, m.chord?.task])).toEqual([
      ['tasks.b', [7], header.kwargs.tasks[0]?.options.task_id, header.options.task_id, 0, 'tasks.d'],
      ['tasks.c', [7], header.kwargs.tasks[1]?.options.task_id, header.options.task_id, 1, 'tasks.d'],
    ]);
    expect(again.chordSizes).toEqual([{ groupId: header.options.task_id, size: 2 }]);
  });

  it('chain(a, group(b, c)): a with the group in embed.chain; the result is the GroupResult whose parent is a', () => {
    const plan = planCanvas(new Chain([s('a', 1), new Group([s('b'), s('c')])]).toSignature(), [], ids());
    const step = plan.messages[0]?.chain?.[0] as Signature;
    expect(step).toMatchObject({ task: 'celery.group', subtask_type: 'group' });
    const tasks = (step.kwargs.tasks as { options: Record<string, unknown> }[]).map((m) => m.options.group_index);
    expect(tasks).toEqual([0, 1]);
    const result = resultFromTuple(plan.result, () => ({}) as never);
    expect(result.constructor.name).toBe('GroupResult');
    expect(result.parent?.id).toBe(plan.messages[0]?.id);
  });

  it('chain(group(b, c), d): sent at once as the chord group(b, c) -> d', () => {
    const plan = planCanvas(new Chain([new Group([s('b', 1), s('c', 2)]), s('d')]).toSignature(), [], ids());
    const body = plan.messages[0]?.chord;
    expect(
      plan.messages.map((m) => [m.sig.task, m.args, m.groupIndex, isDeepStrictEqual(m.chord, body), m.chain]),
    ).toEqual([
      ['tasks.b', [1], 0, true, null],
      ['tasks.c', [2], 1, true, null],
    ]);
    expect(body?.task).toBe('tasks.d');
    const gid = plan.messages[0]?.groupId as string;
    expect(plan.chordSizes).toEqual([{ groupId: gid, size: 2 }]);
    expect(plan.result[0][0]).toBe(body?.options.task_id);
    expect(plan.result[0][1]?.[0][0]).toBe(gid);
  });

  it("chain(a, group(b, c), d, e): Celery's chain() makes d | e the body of the chord group(b, c)", () => {
    const plan = planCanvas(new Chain([s('a'), new Group([s('b'), s('c')]), s('d'), s('e')]).toSignature(), [], ids());
    const chain = plan.messages[0]?.chain ?? [];
    expect(chain.map((x) => x.task)).toEqual(['celery.chord']);
    const step = chain[0] as Signature;
    const body = step.kwargs.body as Signature;
    expect((body.kwargs.tasks as Signature[]).map((x) => x.task)).toEqual(['tasks.d', 'tasks.e']);
    // The joining worker plans the chord step, then the body chain: d first, with e in its embed.chain.
    const joined = planCanvas(step, [1], ids());
    expect(joined.messages.every((m) => m.chord?.task === 'celery.chain')).toBe(true);
    const bodyPlan = planCanvas(body, [[1, 2]], ids());
    expect(bodyPlan.messages.map((m) => [m.sig.task, m.args])).toEqual([['tasks.d', [[1, 2]]]]);
    expect(bodyPlan.messages[0]?.chain?.map((x) => x.task)).toEqual(['tasks.e']);
  });

  it('group(chain(a, b), c): a with b in embed.chain, b carrying group_id; c in the group; as Celery', () => {
    const plan = planCanvas(new Group([new Chain([s('a', 1), s('b')]), s('c', 2)]).toSignature(), [], ids());
    const [a, c] = plan.messages;
    const gid = c?.groupId as string;
    expect([a?.sig.task, a?.args, a?.groupId, a?.groupIndex]).toEqual(['tasks.a', [1], null, null]);
    expect(a?.chain?.map((x) => [x.task, x.options.group_id, x.options.group_index, x.options.chord])).toEqual([
      ['tasks.b', gid, undefined, undefined],
    ]);
    expect([c?.sig.task, c?.args, c?.groupIndex, c?.chord]).toEqual(['tasks.c', [2], null, null]);
    const b = a?.chain?.[0]?.options.task_id as string;
    expect(plan.result).toEqual([
      [gid, null],
      [
        [[b, [[a?.id, null], null]], null],
        [[c?.id, null], null],
      ],
    ]);
  });

  it('chord([chain(a, b), c])(d): b (the chain part that counts) carries group_id, group_index 0 and the chord; size 2', () => {
    const plan = planCanvas(chord([new Chain([s('a', 1), s('b')]), s('c', 2)], s('d')).toSignature(), [], ids());
    const [a, c] = plan.messages;
    const gid = c?.groupId as string;
    const body = c?.chord;
    expect(body?.task).toBe('tasks.d');
    expect([a?.groupId, a?.chord]).toEqual([null, null]);
    const b = a?.chain?.[0];
    expect([b?.task, b?.options.group_id, b?.options.group_index, b?.options.chord]).toEqual(['tasks.b', gid, 0, body]);
    expect([c?.groupIndex, c?.chord === body]).toEqual([1, true]);
    expect(plan.chordSizes).toEqual([{ groupId: gid, size: 2 }]);
    // A header part as Python sends it (b from a's embed.chain), planned by the worker that runs a.
    const part = planCanvas(JSON.parse(JSON.stringify(b)), [3], ids()).messages[0];
    expect([part?.id, part?.args, part?.groupId, part?.groupIndex, part?.chord?.task]).toEqual([
      b?.options.task_id,
      [3],
      gid,
      0,
      'tasks.d',
    ]);
  });
});

describe('get() on a result whose parent failed', () => {
  it('throws the parent error first (Celery _maybe_reraise_parent_error), root first', async () => {
    const docs = new Map<string, { status: string; result: unknown }>([
      [
        'p',
        { status: 'FAILURE', result: { exc_type: 'ValueError', exc_message: ['part broke'], exc_module: 'builtins' } },
      ],
      [
        'body',
        {
          status: 'FAILURE',
          result: { exc_type: 'ChordError', exc_message: ['Dependency p raised'], exc_module: 'celery.exceptions' },
        },
      ],
    ]);
    const doc = (id: string) => {
      const d = docs.get(id);
      return d ? { ...d, traceback: null, children: [], date_done: null, task_id: id } : null;
    };
    const source = {
      get: async (id: string) => doc(id),
      waitFor: async (id: string) => doc(id),
    };
    const body = resultFromTuple(
      [
        [
          'body',
          [
            ['g', null],
            [
              [['p', null], null],
              [['q', null], null],
            ],
          ],
        ],
        null,
      ],
      () => source as never,
    );
    expect(body).toBeInstanceOf(AsyncResult);
    await expect(body.get({ timeout: 1000 })).rejects.toMatchObject({ message: expect.stringContaining('part broke') });
    // Without propagate the body's own ChordError is returned, as Celery's.
    const own = (await body.get({ propagate: false })) as Error;
    expect(own.message).toContain('Dependency p raised');
  });
});
