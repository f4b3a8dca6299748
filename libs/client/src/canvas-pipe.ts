import type { Signature } from '@celeriac/protocol';
import { chainSignature, chordSignature, groupTasks, signatureKind } from './canvas-shapes.js';

/** A one-member group is that member (Celery's `maybe_unroll_group`). */
function unrollOne(sig: Signature): Signature {
  if (signatureKind(sig) !== 'group') return sig;
  const tasks = groupTasks(sig);
  return tasks.length === 1 ? (tasks[0] as Signature) : sig;
}

function chainTasks(sig: Signature): Signature[] {
  return groupTasks((sig.kwargs.tasks as unknown[]) ?? []);
}

function withBody(chord: Signature, body: Signature): Signature {
  return { ...chord, kwargs: { ...chord.kwargs, body } };
}

/**
 * Celery 5.2's `a | b` on signatures: chain | group appends the group (one member: the member);
 * chain | chain joins them; chain | task turns a last group into a chord with that task as body,
 * or adds the task to a last chord's body; group | anything is a chord; chord | task adds the task
 * to its body; task | x is a chain.
 */
export function pipe(a: Signature, b: Signature): Signature {
  const kindA = signatureKind(a);
  const kindB = signatureKind(b);
  if (kindA === 'chain') {
    const tasks = chainTasks(a);
    if (kindB === 'group') {
      const member = unrollOne(b);
      return tasks.length === 0 ? member : chainSignature([...tasks, member]);
    }
    if (kindB === 'chain') return chainSignature([...tasks, ...chainTasks(b)]);
    const last = tasks[tasks.length - 1];
    const init = tasks.slice(0, -1);
    if (last !== undefined && signatureKind(last) === 'group')
      return chainSignature([...init, chordSignature(last, b)]);
    if (last !== undefined && signatureKind(last) === 'chord') {
      return chainSignature([...init, withBody(last, pipe(last.kwargs.body as Signature, b))]);
    }
    return chainSignature([...tasks, b]);
  }
  if (kindA === 'group') return chordSignature(a, b);
  if (kindA === 'chord' && kindB !== 'group' && kindB !== 'chain')
    return withBody(a, pipe(a.kwargs.body as Signature, b));
  if (kindB === 'chain') return chainSignature([a, ...chainTasks(b)]);
  if (kindB === 'group') return chainSignature([a, unrollOne(b)]);
  return chainSignature([a, b]);
}

/**
 * What Celery's `chain(*tasks)` builds from several steps: `reduce(operator.or_, tasks, chain())`,
 * so `chain(a, group(b, c), d)` holds a chord and `chain(a, chord(h, b), c)` a chord whose body
 * is `b | c`. The result may be a group or a chord rather than a chain (`chain(group(a, b), c)`).
 * One step is kept as it is, as Celery does.
 */
export function chainOf(steps: readonly Signature[]): Signature {
  if (steps.length === 1) return chainSignature(steps);
  return steps.reduce<Signature>((acc, step) => pipe(acc, step), chainSignature([]));
}
