// The canvas planner lays out groups, chords, chains and chunks as Celery 5.2's canvas sends them
// (fixtures i2_chain_two, i4_group, i5_chord: ids, group, group_index, embed.chord/chain).
import { isDeepStrictEqual as isDeepEqual } from 'node:util';
import { describe, expect, it } from 'vitest';
import { CanvasError } from '../src/canvas-errors.js';
import { chunkSignatures, freezeSignature, planCanvas, signatureKind } from '../src/canvas-plan.js';
import { Chain } from '../src/chain.js';
import { chord } from '../src/chord.js';
import { Group, group } from '../src/group.js';
import { GroupResult, resultFromTuple } from '../src/group-result.js';
import { signature } from '../src/signature.js';

function ids(): () => string {
  let n = 0;
  return () => `id-${++n}`;
}

const add = (...args: unknown[]) => signature('tasks.add', args);

describe('planCanvas', () => {
  it('a group: one message per member, group = the group id, group_index null (i4_group)', () => {
    const plan = planCanvas(new Group([add(1, 1), add(2, 2)]).toSignature(), [], ids());
    expect(plan.messages.map((m) => [m.sig.task, m.args, m.id, m.groupId, m.groupIndex, m.chord])).toEqual([
      ['tasks.add', [1, 1], 'id-2', 'id-1', null, null],
      ['tasks.add', [2, 2], 'id-3', 'id-1', null, null],
    ]);
    expect(plan.chordSizes).toEqual([]);
    expect(plan.result).toEqual([
      ['id-1', null],
      [
        [['id-2', null], null],
        [['id-3', null], null],
      ],
    ]);
  });

  it('a chord: header parts carry group_index 0..n-1 and embed.chord = the body with its id; the size is stored first (i5_chord)', () => {
    const sig = chord([add(1, 1), add(2, 2)], signature('tasks.tsum')).toSignature();
    const plan = planCanvas(sig, [], ids());
    const body = plan.messages[0]?.chord;
    expect(body).toMatchObject({ task: 'tasks.tsum', options: { task_id: 'id-2' } });
    expect(plan.messages.map((m) => [m.args, m.groupId, m.groupIndex, isDeepEqual(m.chord, body)])).toEqual([
      [[1, 1], 'id-1', 0, true],
      [[2, 2], 'id-1', 1, true],
    ]);
    expect(plan.chordSizes).toEqual([{ groupId: 'id-1', size: 2 }]);
    // The body's result, with the header group as its parent (Celery's chord freeze).
    expect(plan.result).toEqual([
      [
        'id-2',
        [
          ['id-1', null],
          [
            [['id-3', null], null],
            [['id-4', null], null],
          ],
        ],
      ],
      null,
    ]);
  });

  it('a chord with an empty header sends the body at once with []', () => {
    const plan = planCanvas(chord([], signature('tasks.tsum', [5])).toSignature(), [], ids());
    expect(plan.messages.map((m) => [m.sig.task, m.args])).toEqual([['tasks.tsum', [[], 5]]]);
    expect(plan.chordSizes).toEqual([]);
  });

  it("nested groups are unrolled into one header in Celery's order (its _freeze_unroll reverses a nested group)", () => {
    // Captured from Celery 5.2: chord([a, group(b, c), d]) sends a, c, b, d with group_index 0..3.
    const plan = planCanvas(chord([add(1), group(add(2), add(3))], signature('tasks.tsum')).toSignature(), [], ids());
    expect(plan.messages.map((m) => [m.args, m.groupIndex])).toEqual([
      [[1], 0],
      [[3], 1],
      [[2], 2],
    ]);
    expect(plan.chordSizes[0]?.size).toBe(3);
  });

  it('a chain: the first step with the rest reversed in embed.chain, ids pre-assigned (i2_chain_two)', () => {
    const sig = {
      task: 'celery.chain',
      args: [],
      kwargs: { tasks: [add(1, 2), signature('tasks.mul', [10])] },
      options: {},
      subtask_type: 'chain',
      immutable: false,
    };
    const plan = planCanvas(sig, [], ids());
    expect(plan.messages).toHaveLength(1);
    // prepare_steps walks from the last step, so the last task's id is made first.
    expect(plan.messages[0]).toMatchObject({
      id: 'id-2',
      args: [1, 2],
      chain: [{ task: 'tasks.mul', options: { task_id: 'id-1' } }],
    });
    expect(plan.result).toEqual([['id-1', [['id-2', null], null]], null]);
  });

  it('partial args are prepended to mutable members only', () => {
    const immutable = signature('tasks.add', [9], {}, {}, true);
    const plan = planCanvas(new Group([add(1), immutable]).toSignature(), [100], ids());
    expect(plan.messages.map((m) => m.args)).toEqual([[100, 1], [9]]);
  });

  it('chunks: a group of celery.starmap tasks of n argument lists, routed as the mapped task', () => {
    const sigs = chunkSignatures(
      signature('tasks.add'),
      [
        [1, 1],
        [2, 2],
        [3, 3],
      ],
      2,
    );
    expect(sigs.map((s) => [s.task, s.kwargs.it])).toEqual([
      [
        'celery.starmap',
        [
          [1, 1],
          [2, 2],
        ],
      ],
      ['celery.starmap', [[3, 3]]],
    ]);
    const plan = planCanvas(new Group(sigs).toSignature(), [], ids());
    expect(plan.messages.map((m) => m.routeName)).toEqual(['tasks.add', 'tasks.add']);
    expect(() => chunkSignatures(signature('tasks.add'), [], 0)).toThrow(CanvasError);
  });

  it('reads Python signatures: subtask_type or the celery.* name decides the kind', () => {
    expect(
      signatureKind({
        task: 'celery.group',
        args: [],
        kwargs: { tasks: [] },
        options: {},
        subtask_type: 'group',
        immutable: false,
      }),
    ).toBe('group');
    expect(
      signatureKind({
        task: 'celery.chord',
        args: [],
        kwargs: { header: [], body: add() },
        options: {},
        subtask_type: 'chord',
        immutable: false,
      }),
    ).toBe('chord');
    expect(signatureKind(add(1))).toBe('task');
    expect(freezeSignature(add(1), () => 'fixed').options.task_id).toBe('fixed');
  });

  it('refuses a chain ending with a group as a chord header part, naming why (Celery 5.2 sends it, and its chord hangs)', () => {
    const chainSig = new Chain([add(1), new Group([add(2), add(3)])]).toSignature();
    expect(() => planCanvas(chord([chainSig, add(4)], signature('tasks.echo')).toSignature())).toThrow(
      /a chain that ends with a group cannot be a chord header part: Celery 5.2 accepts it, but its chord never completes/,
    );
    // In a plain group the same chain is fine (Celery runs it too).
    expect(planCanvas(new Group([chainSig, add(4)]).toSignature()).messages).toHaveLength(2);
  });
});

describe('resultFromTuple', () => {
  it('rebuilds groups, tasks and parents from Celery tuples', () => {
    const source = () => ({ get: async () => null, waitFor: async () => null });
    const r = resultFromTuple(
      [
        [
          'body',
          [
            ['gid', null],
            [
              [['a', null], null],
              [['b', null], null],
            ],
          ],
        ],
        null,
      ],
      source,
    );
    expect(r.id).toBe('body');
    expect(r.parent).toBeInstanceOf(GroupResult);
    expect((r.parent as GroupResult).results.map((x) => x.id)).toEqual(['a', 'b']);
    expect(r.asTuple()).toEqual([
      [
        'body',
        [
          ['gid', null],
          [
            [['a', null], null],
            [['b', null], null],
          ],
        ],
      ],
      null,
    ]);
  });
});
