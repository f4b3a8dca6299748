import { randomUUID } from 'node:crypto';
import type { Signature } from '@celeriac/protocol';
import type { ResultTuple } from '@celeriac/result-backend';
import { CanvasError } from './canvas-errors.js';
import { withOptions } from './signature.js';

/** What kind of canvas a signature is, read from `subtask_type` (or the built-in task name) as Celery does. */
export type SignatureKind = 'task' | 'chain' | 'group' | 'chord' | 'chunks';

/** One task message a canvas sends: the plain signature, its final args and where it sits in the canvas. */
export interface PlannedMessage {
  sig: Signature;
  args: unknown[];
  id: string;
  groupId: string | null;
  groupIndex: number | null;
  /** `embed.chord`: the body of the chord this task is a header part of (its `task_id` set). */
  chord: Signature | null;
  /** `embed.chain`: the remaining steps in reverse order, their ids set. */
  chain: Signature[] | null;
  /** Route the message as this task (Celery's `route_name` for `celery.map`/`celery.starmap`). */
  routeName: string | null;
}

/** Everything a canvas sends: the messages in order, the chord sizes to store first, and its result. */
export interface CanvasPlan {
  messages: PlannedMessage[];
  /** `set_chord_size(group_id, size)` calls, to make before the header tasks are sent. */
  chordSizes: { groupId: string; size: number }[];
  /** The canvas result as Celery's `as_tuple()`: a task, a group (with children) or a chain's last step (with parents). */
  result: ResultTuple;
}

/** Where a signature is laid out: inside a group or a chord header. */
interface Place {
  groupId: string | null;
  groupIndex: number | null;
  chord: Signature | null;
}

const NOWHERE: Place = { groupId: null, groupIndex: null, chord: null };

function record(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** The kind of a signature (`subtask_type`, or the `celery.*` task it names). */
export function signatureKind(sig: Signature): SignatureKind {
  const type = sig.subtask_type;
  const kwargs = record(sig.kwargs);
  if ((type === 'chain' || sig.task === 'celery.chain') && Array.isArray(kwargs.tasks)) return 'chain';
  if ((type === 'group' || sig.task === 'celery.group') && Array.isArray(kwargs.tasks)) return 'group';
  if ((type === 'chord' || sig.task === 'celery.chord') && kwargs.header !== undefined) return 'chord';
  if ((type === 'chunks' || sig.task === 'celery.chunks') && Array.isArray(kwargs.it)) return 'chunks';
  return 'task';
}

/** Reads a signature from the wire (a plain object) into our shape, with defaults for what Python leaves out. */
export function asSignature(value: unknown): Signature {
  const o = record(value);
  if (typeof o.task !== 'string' || o.task === '') {
    throw new CanvasError(`a signature needs a task name, got ${JSON.stringify(value)?.slice(0, 200)}`);
  }
  return {
    task: o.task,
    args: Array.isArray(o.args) ? o.args : [],
    kwargs: record(o.kwargs),
    options: record(o.options),
    subtask_type: typeof o.subtask_type === 'string' ? o.subtask_type : null,
    immutable: o.immutable === true,
  };
}

/** The member signatures of a group (or a list), nested groups unrolled as Celery's `_freeze_unroll` does. */
export function groupMembers(header: unknown): Signature[] {
  const list = Array.isArray(header) ? header : record(record(header).kwargs).tasks;
  if (!Array.isArray(list)) throw new CanvasError('a group needs a list of signatures (kwargs.tasks)');
  const out: Signature[] = [];
  for (const entry of list) {
    const sig = asSignature(entry);
    if (signatureKind(sig) === 'group') out.push(...groupMembers(sig));
    else out.push(sig);
  }
  return out;
}

/** The signatures of `celery.starmap` tasks that `chunks(task, it, n)` stands for, as Celery's `chunks.group()`. */
export function chunkSignatures(task: unknown, it: readonly unknown[], n: number): Signature[] {
  if (!Number.isInteger(n) || n < 1) throw new CanvasError(`chunks needs a chunk size n >= 1, got ${String(n)}`);
  const out: Signature[] = [];
  for (let i = 0; i < it.length; i += n) {
    out.push(starmapSignature(task, it.slice(i, i + n)));
  }
  return out;
}

/** `celery.map` over `it`: one message whose worker calls `task(item)` for each item, in order. */
export function mapSignature(task: unknown, it: readonly unknown[]): Signature {
  return {
    task: 'celery.map',
    args: [],
    kwargs: { task, it: [...it] },
    options: {},
    subtask_type: 'xmap',
    immutable: true,
  };
}

/** `celery.starmap` over `it`: one message whose worker calls `task(...args)` for each args list. */
export function starmapSignature(task: unknown, it: readonly unknown[]): Signature {
  return {
    task: 'celery.starmap',
    args: [],
    kwargs: { task, it: [...it] },
    options: {},
    subtask_type: 'xstarmap',
    immutable: true,
  };
}

/** Gives a signature (and, for a chain, every step) a `task_id` so its result is known before it is sent. */
export function freezeSignature(sig: Signature, newId: () => string = randomUUID): Signature {
  const kind = signatureKind(sig);
  if (kind === 'chain') {
    const steps = (sig.kwargs.tasks as unknown[]).map((s) => freezeSignature(asSignature(s), newId));
    return { ...sig, kwargs: { ...sig.kwargs, tasks: steps } };
  }
  if (typeof sig.options.task_id === 'string' && sig.options.task_id !== '') return sig;
  return withOptions(sig, { task_id: newId() });
}

/**
 * Lays out a signature of any kind the way Celery 5.2's canvas sends it: a task is one message; a
 * chain its first step with the rest in `embed.chain`; a group one message per member with
 * `group` = the group id; a chord its header as a group whose members carry `group_index` and
 * `embed.chord` (the body, id pre-assigned) plus a chord size to store first; chunks a group of
 * `celery.starmap` tasks. `partialArgs` are prepended to the args of mutable signatures (what a
 * parent result does to a callback). Pure: ids come from `newId`.
 */
export function planCanvas(
  sig: Signature,
  partialArgs: readonly unknown[] = [],
  newId: () => string = randomUUID,
): CanvasPlan {
  const plan: CanvasPlan = { messages: [], chordSizes: [], result: [['', null], null] };
  plan.result = lay(asSignature(sig), partialArgs, NOWHERE, plan, newId);
  return plan;
}

function argsOf(sig: Signature, partial: readonly unknown[]): unknown[] {
  return sig.immutable || partial.length === 0 ? [...sig.args] : [...partial, ...sig.args];
}

function optionNumber(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) ? value : null;
}

function optionString(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

function routeNameOf(sig: Signature): string | null {
  if (sig.task !== 'celery.map' && sig.task !== 'celery.starmap') return null;
  const inner = record(sig.kwargs.task);
  return typeof inner.task === 'string' ? inner.task : null;
}

function lay(
  sig: Signature,
  partial: readonly unknown[],
  place: Place,
  plan: CanvasPlan,
  newId: () => string,
): ResultTuple {
  switch (signatureKind(sig)) {
    case 'task': {
      const id = optionString(sig.options.task_id) ?? newId();
      plan.messages.push({
        sig,
        args: argsOf(sig, partial),
        id,
        groupId: place.groupId ?? optionString(sig.options.group_id),
        groupIndex: place.groupIndex ?? optionNumber(sig.options.group_index),
        chord: place.chord ?? (sig.options.chord ? asSignature(sig.options.chord) : null),
        chain: Array.isArray(sig.options.chain) ? sig.options.chain.map(asSignature) : null,
        routeName: routeNameOf(sig),
      });
      return [[id, null], null];
    }
    case 'chain': {
      const steps = prepareSteps(sig.kwargs.tasks as unknown[], newId);
      if (steps.length === 0) throw new CanvasError('a chain needs at least one signature');
      if (place.groupId !== null || place.chord !== null) {
        // Celery's prepare_steps: only the chain's last task joins the group or chord header.
        const last = steps[steps.length - 1] as FrozenStep;
        if (signatureKind(last.sig) !== 'task') {
          throw new CanvasError(
            `a chain inside a group or chord header must end with a task, not a ${signatureKind(last.sig)}`,
          );
        }
        const joined: Record<string, unknown> = { group_id: place.groupId };
        if (place.chord !== null) joined.chord = place.chord;
        if (place.groupIndex !== null) joined.group_index = place.groupIndex;
        last.sig = withOptions(last.sig, joined);
      }
      let tuple: ResultTuple | null = null;
      for (const step of steps) tuple = tuple === null ? step.tuple : withRootParent(step.tuple, tuple);
      const [first, ...rest] = steps as [FrozenStep, ...FrozenStep[]];
      const embedChain = rest.map((s) => s.sig).reverse();
      const firstKind = signatureKind(first.sig);
      if (firstKind === 'task') {
        plan.messages.push({
          sig: first.sig,
          args: argsOf(first.sig, partial),
          id: first.sig.options.task_id as string,
          // Set only when the chain is one task that itself joins a group or chord header.
          groupId: optionString(first.sig.options.group_id),
          groupIndex: optionNumber(first.sig.options.group_index),
          chord: first.sig.options.chord ? asSignature(first.sig.options.chord) : null,
          chain: embedChain,
          routeName: routeNameOf(first.sig),
        });
      } else if (firstKind === 'chord') {
        // As Celery's chord.run: the rest of the chain rides in the body's options.
        const kwargs = first.sig.kwargs;
        const body = asSignature(kwargs.body);
        const withChain =
          embedChain.length > 0
            ? { ...first.sig, kwargs: { ...kwargs, body: withOptions(body, { chain: embedChain }) } }
            : first.sig;
        lay(withChain, partial, NOWHERE, plan, newId);
      } else {
        // A lone group (prepare_steps turned any group followed by a task into a chord).
        lay(first.sig, partial, NOWHERE, plan, newId);
      }
      return tuple as ResultTuple;
    }
    case 'group':
    case 'chunks': {
      const members =
        signatureKind(sig) === 'group'
          ? groupMembers(sig)
          : chunkSignatures(sig.kwargs.task, sig.kwargs.it as unknown[], Number(sig.kwargs.n));
      const groupId = optionString(sig.options.task_id) ?? newId();
      const inChord = place.chord !== null;
      const children = members.map((member, i) =>
        lay(member, partial, { groupId, groupIndex: inChord ? i : null, chord: place.chord }, plan, newId),
      );
      return [[groupId, null], children];
    }
    case 'chord': {
      const kwargs = sig.kwargs;
      if (kwargs.body === undefined || kwargs.body === null) throw new CanvasError('a chord needs a body signature');
      const headerOptions = record(record(kwargs.header).options);
      const groupId = optionString(headerOptions.task_id) ?? optionString(sig.options.group_id) ?? newId();
      let body = asSignature(kwargs.body);
      const bodyId = optionString(sig.options.task_id);
      // Celery's Signature.freeze keeps an id the body already has: a Python chain step's chord carries
      // the header group's id as its own task_id, the body its own.
      if (bodyId !== null && signatureKind(body) === 'task' && optionString(body.options.task_id) === null) {
        body = withOptions(body, { task_id: bodyId });
      }
      body = freezeSignature(body, newId);
      const members = groupMembers(kwargs.header);
      const bodyTuple = chainResultTuple(body);
      if (members.length === 0) {
        // Celery sends the body at once with an empty list: no header part will ever count.
        const emptyPlan = lay(body, [[]], NOWHERE, plan, newId);
        return withRootParent(emptyPlan, [[groupId, null], []]);
      }
      const children: ResultTuple[] = [];
      for (let i = 0; i < members.length; i++) {
        children.push(lay(members[i] as Signature, partial, { groupId, groupIndex: i, chord: body }, plan, newId));
      }
      // One count per header part: a chain part counts through its last task only.
      plan.chordSizes.push({ groupId, size: members.length });
      return withRootParent(bodyTuple, [[groupId, null], children]);
    }
  }
}

/** The result tuple of a frozen body: a task, or a chain's last step with its parents. */
function chainResultTuple(body: Signature): ResultTuple {
  if (signatureKind(body) !== 'chain') return [[body.options.task_id as string, null], null];
  let tuple: ResultTuple | null = null;
  for (const step of body.kwargs.tasks as Signature[]) tuple = [[step.options.task_id as string, tuple], null];
  return tuple as ResultTuple;
}

/** Hangs `parent` on the first result of a chain of parents that has none (Celery's chord freeze). */
function withRootParent(tuple: ResultTuple, parent: ResultTuple): ResultTuple {
  const [[id, up], children] = tuple;
  return [[id, up === null ? parent : withRootParent(up, parent)], children];
}

/** A chain step ready to be sent: ids given, and its result tuple (a task, a group, or a chord body with its header). */
interface FrozenStep {
  sig: Signature;
  tuple: ResultTuple;
}

/** The task members of a group or chord header inside a chain, ids given (nesting deeper is refused there). */
function freezeMembers(
  header: unknown,
  newId: () => string,
  extra: (i: number) => Record<string, unknown>,
): Signature[] {
  return groupMembers(header).map((member, i) => {
    if (signatureKind(member) !== 'task') {
      throw new CanvasError(`a ${signatureKind(member)} inside a group that is a chain step is not supported`);
    }
    const id = optionString(member.options.task_id) ?? newId();
    return withOptions(member, { task_id: id, ...extra(i) });
  });
}

function groupSignature(tasks: Signature[], options: Record<string, unknown>): Signature {
  return { task: 'celery.group', args: [], kwargs: { tasks }, options, subtask_type: 'group', immutable: false };
}

/** A chord step with every id given: the header group's id, each part's id and index, the body's id. */
function freezeChord(
  header: unknown,
  body: Signature,
  chordOptions: Record<string, unknown>,
  newId: () => string,
): FrozenStep {
  if (signatureKind(body) !== 'task') {
    throw new CanvasError(`a ${signatureKind(body)} as the body of a chord that is a chain step is not supported`);
  }
  const headerOptions = record(record(header).options);
  const groupId = optionString(headerOptions.task_id) ?? newId();
  const bodyId = optionString(body.options.task_id) ?? newId();
  const frozenBody = withOptions(body, { task_id: bodyId });
  const members = freezeMembers(header, newId, (i) => ({ chord: frozenBody, group_index: i }));
  const sig: Signature = {
    task: 'celery.chord',
    args: [],
    kwargs: { kwargs: {}, header: groupSignature(members, { task_id: groupId }), body: frozenBody },
    // As Celery's chord.freeze: the chord's own task_id is its header group's id.
    options: { ...chordOptions, task_id: groupId },
    subtask_type: 'chord',
    immutable: false,
  };
  const headerTuple: ResultTuple = [[groupId, null], members.map((m) => [[m.options.task_id as string, null], null])];
  return { sig, tuple: [[bodyId, headerTuple], null] };
}

/**
 * Celery 5.2's `_chain.prepare_steps`: nested chains are flattened, a one-member group is its
 * member (`maybe_unroll_group`), a group followed by a task becomes a chord with that task as its
 * body (keeping the task's id), and every step gets its ids so the chain's result is known.
 */
function prepareSteps(tasks: readonly unknown[], newId: () => string): FrozenStep[] {
  const flat: Signature[] = [];
  const flatten = (list: readonly unknown[]) => {
    for (const entry of list) {
      let sig = asSignature(entry);
      if (signatureKind(sig) === 'group') {
        const members = groupMembers(sig);
        if (members.length === 1) sig = members[0] as Signature;
      }
      if (signatureKind(sig) === 'chain') flatten(sig.kwargs.tasks as unknown[]);
      else flat.push(sig);
    }
  };
  flatten(tasks);
  const out: FrozenStep[] = [];
  for (let i = 0; i < flat.length; i++) {
    const sig = flat[i] as Signature;
    const kind = signatureKind(sig);
    if (kind === 'task') {
      const id = optionString(sig.options.task_id) ?? newId();
      out.push({ sig: withOptions(sig, { task_id: id }), tuple: [[id, null], null] });
    } else if (kind === 'group' && i + 1 < flat.length) {
      const next = flat[++i] as Signature;
      if (signatureKind(next) !== 'task') {
        throw new CanvasError(`a group followed by a ${signatureKind(next)} in a chain is not supported`);
      }
      out.push(freezeChord(sig, next, {}, newId));
    } else if (kind === 'group') {
      const groupId = optionString(sig.options.task_id) ?? newId();
      const members = freezeMembers(sig, newId, (i) => ({ group_index: i }));
      out.push({
        sig: groupSignature(members, { ...sig.options, task_id: groupId }),
        tuple: [[groupId, null], members.map((m) => [[m.options.task_id as string, null], null])],
      });
    } else if (kind === 'chord') {
      const kwargs = sig.kwargs;
      if (kwargs.body === undefined || kwargs.body === null) throw new CanvasError('a chord needs a body signature');
      out.push(freezeChord(kwargs.header, asSignature(kwargs.body), sig.options, newId));
    } else {
      throw new CanvasError(`a ${kind} as a chain step is not supported`);
    }
  }
  return out;
}
