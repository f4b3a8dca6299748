// The planner on nested shapes Celery 5.2 accepts (its messages captured from Debian's Celery 5.2;
// the wire comparison itself is test/interop/canvas-nested-shapes.test.ts): Celery's `chain()`
// reduction, chords inside chord headers and groups, groups and chains as chord bodies, and the
// rest of a chain riding on a group step's members.
import type { Signature } from '@celeriac/protocol';
import { describe, expect, it } from 'vitest';
import { chainOf, pipe } from '../src/canvas-pipe.js';
import { planCanvas } from '../src/canvas-plan.js';
import { signatureKind } from '../src/canvas-shapes.js';
import { Chain } from '../src/chain.js';
import { chord } from '../src/chord.js';
import { Group } from '../src/group.js';
import { signature } from '../src/signature.js';

function ids(): () => string {
  let n = 0;
  return () => `id-${++n}`;
}

const s = (name: string, ...args: unknown[]) => signature(`tasks.${name}`, args);
const tasksOf = (sig: Signature) =>
  (sig.kwargs.tasks as Signature[]).map((t) => (t.kwargs.body ? signatureKind(t) : t.task));

describe("Celery's chain() reduction (a | b)", () => {
  it('a group followed by a step becomes a chord; a step after a chord joins its body; chains are spliced', () => {
    const g = new Group([s('b'), s('c')]).toSignature();
    expect(tasksOf(chainOf([s('a'), g, s('d')]))).toEqual(['tasks.a', 'chord']);
    const withChord = chainOf([s('a'), chord([s('b')], s('c')).toSignature(), s('d')]);
    const body = (withChord.kwargs.tasks as Signature[])[1]?.kwargs.body as Signature;
    expect([signatureKind(body), tasksOf(body)]).toEqual(['chain', ['tasks.c', 'tasks.d']]);
    expect(tasksOf(chainOf([new Chain([s('a'), s('b')]).toSignature(), s('c')]))).toEqual([
      'tasks.a',
      'tasks.b',
      'tasks.c',
    ]);
  });

  it('chain(group, x) is a chord, not a chain; a one-member group is its member; group | group stays a chain step', () => {
    expect(signatureKind(chainOf([new Group([s('a'), s('b')]).toSignature(), s('c')]))).toBe('chord');
    expect(tasksOf(chainOf([s('a'), new Group([s('b')]).toSignature()]))).toEqual(['tasks.a', 'tasks.b']);
    const two = chainOf([s('a'), new Group([s('b'), s('c')]).toSignature(), new Group([s('d'), s('e')]).toSignature()]);
    expect((two.kwargs.tasks as Signature[]).map(signatureKind)).toEqual(['task', 'group', 'group']);
    expect(signatureKind(pipe(new Group([s('a'), s('b')]).toSignature(), new Group([s('c')]).toSignature()))).toBe(
      'chord',
    );
  });
});

describe('nested shapes Celery 5.2 accepts', () => {
  it('a chord in a chord header counts in the outer chord through its body (group_id, chord, group_index)', () => {
    const inner = chord([s('a', 1), s('b', 2)], s('c')).toSignature();
    const plan = planCanvas(chord([inner, s('d', 4)], s('e')).toSignature(), [], ids());
    const [a, b, d] = plan.messages;
    const outerGroup = d?.groupId as string;
    expect(a?.chord?.task).toBe('tasks.c');
    expect(a?.chord?.options).toMatchObject({ group_id: outerGroup, group_index: 0, chord: { task: 'tasks.e' } });
    expect([a?.groupId, b?.groupId].every((g) => g === a?.groupId && g !== outerGroup)).toBe(true);
    expect([d?.groupIndex, d?.chord?.task]).toEqual([1, 'tasks.e']);
    expect(plan.chordSizes.map((c) => c.size)).toEqual([2, 2]);
    // The result: the outer body, whose parent is the outer header [inner body (parent inner header), d].
    const header = plan.result[0][1];
    expect(header?.[0][0]).toBe(outerGroup);
    expect(header?.[1]?.[0]?.[0][0]).toBe(a?.chord?.options.task_id);
  });

  it('a chord in a group: its body joins the group (group_id), its header parts are a chord of their own', () => {
    const plan = planCanvas(
      new Group([chord([s('a', 1), s('b', 2)], s('c')).toSignature(), s('d', 4)]).toSignature(),
      [],
      ids(),
    );
    const [a, , d] = plan.messages;
    expect(a?.chord?.options.group_id).toBe(d?.groupId);
    expect(plan.result[0][0]).toBe(d?.groupId);
    expect(plan.result[1]?.map((r) => r[0][0])).toEqual([a?.chord?.options.task_id, d?.id]);
  });

  it('a group as a chord body is frozen (ids and group_index), and the chord resolves to its GroupResult', () => {
    const plan = planCanvas(chord([s('a', 1)], new Group([s('c'), s('d')]).toSignature()).toSignature(), [], ids());
    const body = plan.messages[0]?.chord as Signature;
    const members = body.kwargs.tasks as Signature[];
    expect(members.map((m) => [m.task, typeof m.options.task_id, m.options.group_index])).toEqual([
      ['tasks.c', 'string', 0],
      ['tasks.d', 'string', 1],
    ]);
    expect(plan.result[0][0]).toBe(body.options.task_id);
    expect(plan.result[1]?.map((r) => r[0][0])).toEqual(members.map((m) => m.options.task_id));
    // The joining worker sends the body group with the joined list: each member gets it.
    const sent = planCanvas(body, [[1, 2]], ids());
    expect(sent.messages.map((m) => [m.sig.task, m.args, m.groupId, m.groupIndex])).toEqual([
      ['tasks.c', [[1, 2]], body.options.task_id, 0],
      ['tasks.d', [[1, 2]], body.options.task_id, 1],
    ]);
  });

  it('chain(a, group(b, c), group(d, e)): the second group is the body of a chord on the first', () => {
    const plan = planCanvas(
      new Chain([s('a', 1), new Group([s('b'), s('c')]), new Group([s('d'), s('e')])]).toSignature(),
      [],
      ids(),
    );
    const step = plan.messages[0]?.chain?.[0] as Signature;
    expect(signatureKind(step)).toBe('chord');
    expect(signatureKind(step.kwargs.body as Signature)).toBe('group');
    expect(plan.result[1]).toHaveLength(2);
  });

  it('the next step of a chain carries the rest: a task in embed.chain, a chord in its body, a group on every member', () => {
    const rest = [s('z')];
    expect(planCanvas(s('a'), [1], ids(), { chain: rest }).messages[0]?.chain?.map((x) => x.task)).toEqual(['tasks.z']);
    const viaChord = planCanvas(chord([s('a')], s('b')).toSignature(), [1], ids(), { chain: rest });
    expect(((viaChord.messages[0]?.chord?.options.chain ?? []) as Signature[]).map((x) => x.task)).toEqual(['tasks.z']);
    const viaGroup = planCanvas(new Group([s('a'), s('b')]).toSignature(), [1], ids(), { chain: rest });
    expect(viaGroup.messages.map((m) => m.chain?.map((x) => x.task))).toEqual([['tasks.z'], ['tasks.z']]);
  });

  it('si signatures keep their own args in a chord made from a chain', () => {
    const plan = planCanvas(
      new Chain([
        s('a', 1),
        new Group([signature('tasks.b', [2], {}, {}, true)]),
        signature('tasks.d', [9], {}, {}, true),
      ]).toSignature(),
      [],
      ids(),
    );
    // A one-member group is its member: chain(a, b.si, d.si).
    expect(plan.messages[0]?.chain?.map((x) => [x.task, x.args, x.immutable])).toEqual([
      ['tasks.d', [9], true],
      ['tasks.b', [2], true],
    ]);
  });
});
