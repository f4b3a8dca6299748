import type { Signature } from '@celeriac/protocol';
import type { ResultTuple } from '@celeriac/result-backend';
import { CanvasError } from './canvas-errors.js';
import {
  asSignature,
  chordSignature,
  groupSignature,
  groupTasks,
  optionString,
  signatureKind,
} from './canvas-shapes.js';

/** What Celery 5.2's `freeze(_id, group_id, chord, group_index)` is given. */
export interface FreezeArgs {
  /** The task id to use when the signature has none (a chain: its last task's; a chord: its body's). */
  id?: string | null;
  groupId?: string | null;
  chord?: Signature | null;
  groupIndex?: number | null;
}

/** A frozen signature (every id it sends under given) and its result as Celery's `as_tuple()`. */
export interface Frozen {
  sig: Signature;
  tuple: ResultTuple;
}

/**
 * Celery 5.2's `freeze` of any signature: a task gets its `task_id` (and `group_id`, `chord`,
 * `group_index` when given); a chain is `prepare_steps`; a group freezes its members (nested
 * groups unrolled); a chord freezes its header with the body as `chord` and its body with what
 * the chord was given, so a chord inside a group or chord header counts through its body.
 */
export function freeze(sig: Signature, args: FreezeArgs, newId: () => string): Frozen {
  switch (signatureKind(sig)) {
    case 'chain': {
      const { steps, tuple } = prepareSteps(sig.kwargs.tasks as unknown[], args, newId);
      const last = steps[steps.length - 1] as Frozen;
      if (args.chord && signatureKind(last.sig) === 'group') {
        throw new CanvasError(
          'a chain that ends with a group cannot be a chord header part: Celery 5.2 accepts it, but its chord never ' +
            'completes (the group resets the chord size and its members share one group_index); end the chain with ' +
            'a task, or make the group a chord whose body joins its results',
        );
      }
      return { sig: { ...sig, kwargs: { ...sig.kwargs, tasks: steps.map((s) => s.sig) } }, tuple };
    }
    case 'group':
      return freezeGroup(sig, args, newId);
    case 'chord':
      return freezeChord(sig, args, newId);
    default:
      return freezeTask(sig, args, newId);
  }
}

/** `Signature.freeze`: a task id kept when it has one; `group_id` only when it has none (Celery's `_IMMUTABLE_OPTIONS`). */
function freezeTask(sig: Signature, args: FreezeArgs, newId: () => string): Frozen {
  const options = { ...sig.options };
  const id = optionString(options.task_id) ?? args.id ?? newId();
  options.task_id = id;
  if (args.groupId && options.group_id == null) options.group_id = args.groupId;
  if (args.chord) options.chord = args.chord;
  if (args.groupIndex !== undefined && args.groupIndex !== null) options.group_index = args.groupIndex;
  return { sig: { ...sig, options }, tuple: [[id, null], null] };
}

/**
 * The members of a group being frozen, nested groups unrolled as Celery's `_freeze_unroll` does:
 * with `deque.extendleft`, which puts a nested group's members in reverse order. Celery 5.2's own
 * chords join `chord([a, group(b, c), d])` as `[a, c, b, d]`, so we do the same.
 */
export function unrollForFreeze(tasks: readonly Signature[]): Signature[] {
  const stack = [...tasks];
  const out: Signature[] = [];
  while (stack.length > 0) {
    const task = stack.shift() as Signature;
    if (signatureKind(task) === 'group') stack.unshift(...groupTasks(task).reverse());
    else out.push(task);
  }
  return out;
}

/** `group._freeze_group_tasks`: the group's id is its `task_id`, else the given group id, else a new one. */
function freezeGroup(sig: Signature, args: FreezeArgs, newId: () => string): Frozen {
  const options = { ...sig.options };
  const groupId = optionString(options.task_id) ?? args.groupId ?? newId();
  options.task_id = groupId;
  if (args.groupId) options.group_id = args.groupId;
  if (args.chord) options.chord = args.chord;
  if (args.groupIndex !== undefined && args.groupIndex !== null) options.group_index = args.groupIndex;
  const members = unrollForFreeze(groupTasks(sig)).map((member, i) =>
    freeze(member, { groupId: args.groupId ?? null, chord: args.chord ?? null, groupIndex: i }, newId),
  );
  return {
    sig: {
      ...groupSignature(
        members.map((m) => m.sig),
        options,
      ),
      args: sig.args,
      immutable: sig.immutable,
    },
    tuple: [[groupId, null], members.map((m) => m.tuple)],
  };
}

/** A chord's header as a group signature (Celery makes a list, a task or a chain header one). */
export function chordHeader(header: unknown): Signature {
  if (Array.isArray(header)) return groupSignature(header.map(asSignature));
  const sig = asSignature(header);
  return signatureKind(sig) === 'group' ? sig : groupSignature([sig]);
}

/** A chord's body, or a CanvasError naming what is missing. */
export function chordBody(sig: Signature): Signature {
  const body = sig.kwargs.body;
  if (body === undefined || body === null) throw new CanvasError('a chord needs a body signature');
  return asSignature(body);
}

/** `chord.freeze`: the body gets the given ids; the header is frozen with the body as its `chord`. */
function freezeChord(sig: Signature, args: FreezeArgs, newId: () => string): Frozen {
  const body = freeze(chordBody(sig), args, newId);
  const header = freezeGroup(chordHeader(sig.kwargs.header), { chord: body.sig }, newId);
  const headerId = header.sig.options.task_id as string;
  return {
    // As Celery's chord.freeze: the chord's own task_id becomes its header group's id.
    sig: {
      ...chordSignature(header.sig, body.sig, { ...sig.options, task_id: headerId }),
      kwargs: { ...sig.kwargs, header: header.sig, body: body.sig },
    },
    tuple: withRootParent(body.tuple, header.tuple),
  };
}

/** Hangs `parent` on the first result of a chain of parents that has none (Celery's `prev_res.parent = res`). */
export function withRootParent(tuple: ResultTuple, parent: ResultTuple): ResultTuple {
  const [[id, up], children] = tuple;
  return [[id, up === null ? parent : withRootParent(up, parent)], children];
}

/** A one-member group is that member (Celery's `maybe_unroll_group`). */
function unrollOne(sig: Signature): Signature {
  if (signatureKind(sig) !== 'group') return sig;
  const tasks = groupTasks(sig);
  return tasks.length === 1 ? (tasks[0] as Signature) : sig;
}

/**
 * Celery 5.2's `_chain.prepare_steps`, walked from the last step as Celery does: nested chains are
 * spliced in, a one-member group is its member, a group followed by any step becomes a chord with
 * that step as its body (keeping the step's id when it is a task), and the last step gets `args`
 * (the chain's last task id, and the group id, chord and index of what the chain is a part of).
 * Returns the frozen steps first to last, and the chain's result: its last step with its parents.
 */
export function prepareSteps(
  tasks: readonly unknown[],
  args: FreezeArgs,
  newId: () => string,
): { steps: Frozen[]; tuple: ResultTuple } {
  const pending = tasks.map(asSignature);
  const reversed: Frozen[] = [];
  let laid = 0;
  while (pending.length > 0) {
    let task = unrollOne(pending.pop() as Signature);
    // A chunks step is sent as Celery's chain serializes it: a `celery.chunks` task (no subtask_type).
    if (signatureKind(task) === 'chunks') task = { ...task, subtask_type: null };
    if (signatureKind(task) === 'chain') {
      pending.push(...(task.kwargs.tasks as unknown[]).map(asSignature));
      continue;
    }
    const prev = reversed[reversed.length - 1];
    if (signatureKind(task) === 'group' && prev !== undefined) {
      reversed.pop();
      // Celery passes the body's task_id only when its result is a task's (not a GroupResult).
      const options =
        prev.tuple[1] === null && signatureKind(prev.sig) !== 'chord' ? { task_id: prev.tuple[0][0] } : {};
      task = chordSignature(task, prev.sig, options);
    }
    reversed.push(laid === 0 ? freeze(task, args, newId) : freeze(task, {}, newId));
    laid++;
  }
  if (reversed.length === 0) throw new CanvasError('a chain needs at least one signature');
  const steps = reversed.reverse();
  let tuple: ResultTuple | null = null;
  for (const step of steps) tuple = tuple === null ? step.tuple : withRootParent(step.tuple, tuple);
  return { steps, tuple: tuple as ResultTuple };
}

/** Celery's `_chord._descend`: how many parts a header member counts in its chord (a chain: its last counting step). */
export function chordSizeOf(sig: Signature): number {
  switch (signatureKind(sig)) {
    case 'group':
      return groupTasks(sig).reduce((sum, member) => sum + chordSizeOf(member), 0);
    case 'chain': {
      const steps = (sig.kwargs.tasks as unknown[]).map(asSignature).reverse();
      for (const step of steps) {
        const size = chordSizeOf(step);
        if (size > 0) return size;
      }
      return 0;
    }
    case 'chord':
      return chordSizeOf(chordBody(sig));
    default:
      return 1;
  }
}
