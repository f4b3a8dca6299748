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
        chain: null,
        routeName: routeNameOf(sig),
      });
      return [[id, null], null];
    }
    case 'chain': {
      if (place.chord !== null || place.groupId !== null) {
        throw new CanvasError('a chain inside a group or a chord header is not supported; send the chain on its own');
      }
      const steps = (sig.kwargs.tasks as unknown[]).map((s) => freezeSignature(asSignature(s), newId));
      if (steps.length === 0) throw new CanvasError('a chain needs at least one signature');
      for (const step of steps) {
        if (signatureKind(step) !== 'task') {
          throw new CanvasError(
            `chain step ${step.task} is a ${signatureKind(step)}: only task signatures can be chain steps here`,
          );
        }
      }
      const [first, ...rest] = steps as [Signature, ...Signature[]];
      const id = first.options.task_id as string;
      plan.messages.push({
        sig: first,
        args: argsOf(first, partial),
        id,
        groupId: null,
        groupIndex: null,
        chord: null,
        chain: [...rest].reverse(),
        routeName: routeNameOf(first),
      });
      let tuple: ResultTuple = [[id, null], null];
      for (const step of rest) tuple = [[step.options.task_id as string, tuple], null];
      return tuple;
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
      if (bodyId !== null && signatureKind(body) === 'task') body = withOptions(body, { task_id: bodyId });
      body = freezeSignature(body, newId);
      const members = groupMembers(kwargs.header);
      const bodyTuple = chainResultTuple(body);
      if (members.length === 0) {
        // Celery sends the body at once with an empty list: no header part will ever count.
        const emptyPlan = lay(body, [[]], NOWHERE, plan, newId);
        return withRootParent(emptyPlan, [[groupId, null], []]);
      }
      const children: ResultTuple[] = [];
      const before = plan.messages.length;
      for (let i = 0; i < members.length; i++) {
        children.push(lay(members[i] as Signature, partial, { groupId, groupIndex: i, chord: body }, plan, newId));
      }
      plan.chordSizes.push({ groupId, size: plan.messages.length - before });
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
