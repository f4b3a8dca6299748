import { randomUUID } from 'node:crypto';
import type { Signature } from '@celeriac/protocol';
import type { ResultTuple } from '@celeriac/result-backend';
import { CanvasError } from './canvas-errors.js';
import { chordBody, chordHeader, chordSizeOf, freeze, prepareSteps, withRootParent } from './canvas-freeze.js';
import {
  asSignature,
  chunkSignatures,
  groupMembers,
  groupSignature,
  groupTasks,
  optionNumber,
  optionString,
  record,
  signatureKind,
} from './canvas-shapes.js';
import { withOptions } from './signature.js';

export {
  asSignature,
  chunkSignatures,
  groupMembers,
  mapSignature,
  type SignatureKind,
  signatureKind,
  starmapSignature,
} from './canvas-shapes.js';

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

/** Everything a canvas sends: the messages in order, the chord state to store first, and its result. */
export interface CanvasPlan {
  messages: PlannedMessage[];
  /** `set_chord_size(group_id, size)` calls, to make before the header tasks are sent. */
  chordSizes: { groupId: string; size: number }[];
  /**
   * Chord headers to save first (Celery's `apply_chord`: a header with a part whose result is a
   * group is saved, so that the join hands the body nested lists).
   */
  groupSaves: { groupId: string; tuple: ResultTuple }[];
  /** The canvas result as Celery's `as_tuple()`: a task, a group (with children) or a chain's last step (with parents). */
  result: ResultTuple;
}

/**
 * The options a canvas is applied with that shape its messages (Celery's `apply_async` options of
 * those names): a chain step's `chain`, a header part's `group_id`, `group_index` and `chord`, and
 * the id of a chain's last task, a group or a chord's body.
 */
export interface CanvasCallOptions {
  task_id?: string | null;
  group_id?: string | null;
  group_index?: number | null;
  chord?: Signature | null;
  chain?: readonly Signature[] | null;
}

/** Gives a signature (and, for a chain, every step) a `task_id` so its result is known before it is sent. */
export function freezeSignature(sig: Signature, newId: () => string = randomUUID): Signature {
  if (signatureKind(sig) === 'chain') {
    const steps = (sig.kwargs.tasks as unknown[]).map((s) => freezeSignature(asSignature(s), newId));
    return { ...sig, kwargs: { ...sig.kwargs, tasks: steps } };
  }
  if (typeof sig.options.task_id === 'string' && sig.options.task_id !== '') return sig;
  return withOptions(sig, { task_id: newId() });
}

/**
 * Lays out a signature of any kind the way Celery 5.2's canvas sends it (`apply_async` of each
 * kind, ported): a task is one message; a chain its first step with the rest in `embed.chain`
 * (`prepare_steps`: a group followed by a step becomes a chord); a group one message per member
 * with `group` = the group id; a chord its header as a group whose members carry `group_index`
 * and `embed.chord` (the frozen body) plus a chord size to store first, or, with an empty header,
 * the body at once with `[]`; chunks a group of `celery.starmap` tasks. `partialArgs` are
 * prepended to the args of mutable signatures (what a parent result does to a callback);
 * `options` are what the signature is applied with (a chain step's `chain`). Pure: ids come from `newId`.
 */
export function planCanvas(
  sig: Signature,
  partialArgs: readonly unknown[] = [],
  newId: () => string = randomUUID,
  options: CanvasCallOptions = {},
): CanvasPlan {
  const plan: CanvasPlan = { messages: [], chordSizes: [], groupSaves: [], result: [['', null], null] };
  plan.result = lay(asSignature(sig), partialArgs, options, plan, newId);
  return plan;
}

function argsOf(sig: Signature, partial: readonly unknown[]): unknown[] {
  return sig.immutable || partial.length === 0 ? [...sig.args] : [...partial, ...sig.args];
}

function routeNameOf(sig: Signature): string | null {
  if (sig.task !== 'celery.map' && sig.task !== 'celery.starmap') return null;
  const inner = record(sig.kwargs.task);
  return typeof inner.task === 'string' ? inner.task : null;
}

/**
 * A signature's options with what it is applied with on top (Celery's `_merge`): unset values do
 * not count, and a `group_id` the signature has is kept (Celery's `_IMMUTABLE_OPTIONS`).
 */
function merged(sig: Signature, call: CanvasCallOptions): Record<string, unknown> {
  const out: Record<string, unknown> = { ...sig.options };
  for (const [name, value] of Object.entries(call)) {
    if (value === undefined || value === null) continue;
    if (name === 'group_id' && optionString(out.group_id) !== null) continue;
    out[name] = value;
  }
  return out;
}

function chainOption(value: unknown): Signature[] {
  return Array.isArray(value) ? value.map(asSignature) : [];
}

function lay(
  sig: Signature,
  partial: readonly unknown[],
  call: CanvasCallOptions,
  plan: CanvasPlan,
  newId: () => string,
): ResultTuple {
  switch (signatureKind(sig)) {
    case 'task':
      return layTask(sig, partial, call, plan, newId);
    case 'chain':
      return layChain(sig, partial, call, plan, newId);
    case 'group':
      return layGroup(sig, partial, call, plan, newId);
    case 'chunks':
      // Celery's chunks.apply_async: a group of celery.starmap tasks (the chunks' id is the group's).
      return layGroup(
        groupSignature(chunkSignatures(sig.kwargs.task, sig.kwargs.it as unknown[], Number(sig.kwargs.n)), {
          ...sig.options,
        }),
        partial,
        call,
        plan,
        newId,
      );
    case 'chord':
      return layChord(sig, partial, call, plan, newId);
  }
}

function layTask(
  sig: Signature,
  partial: readonly unknown[],
  call: CanvasCallOptions,
  plan: CanvasPlan,
  newId: () => string,
): ResultTuple {
  const o = merged(sig, call);
  const id = optionString(o.task_id) ?? newId();
  const chain = chainOption(o.chain);
  plan.messages.push({
    sig,
    args: argsOf(sig, partial),
    id,
    groupId: optionString(o.group_id),
    groupIndex: optionNumber(o.group_index),
    chord: o.chord ? asSignature(o.chord) : null,
    chain: chain.length > 0 ? chain : null,
    routeName: routeNameOf(sig),
  });
  return [[id, null], null];
}

/** `chain.run`: the steps prepared, the first sent with the rest (reversed) after any `chain` it was given. */
function layChain(
  sig: Signature,
  partial: readonly unknown[],
  call: CanvasCallOptions,
  plan: CanvasPlan,
  newId: () => string,
): ResultTuple {
  const tasks = sig.kwargs.tasks as unknown[];
  if (tasks.length === 0) throw new CanvasError('a chain needs at least one signature');
  const o = merged(sig, call);
  const { steps, tuple } = prepareSteps(
    tasks,
    {
      id: optionString(o.task_id),
      groupId: optionString(o.group_id),
      chord: o.chord ? asSignature(o.chord) : null,
      groupIndex: optionNumber(o.group_index),
    },
    newId,
  );
  const [first, ...rest] = steps;
  const chain = [...chainOption(o.chain), ...rest.map((s) => s.sig).reverse()];
  lay((first as { sig: Signature }).sig, argsOf(sig, partial), { chain }, plan, newId);
  return tuple;
}

/**
 * `group.apply_async`: every member (nested groups unrolled in order, each frozen with the group
 * id) sent with `group_id`; when its members are chord header parts, the chord size (Celery's
 * `_descend` count) is stored first.
 */
function layGroup(
  sig: Signature,
  partial: readonly unknown[],
  call: CanvasCallOptions,
  plan: CanvasPlan,
  newId: () => string,
): ResultTuple {
  const o = merged(sig, call);
  const groupId = optionString(o.task_id) ?? newId();
  const members = groupMembers(sig).map((member) => freeze(member, { groupId }, newId).sig);
  let size = 0;
  const children = members.map((member, i) => {
    const chord = o.chord ?? member.options.chord ?? null;
    size += chordSizeOf(member);
    if (chord && i === members.length - 1) plan.chordSizes.push({ groupId, size });
    return lay(
      member,
      partial,
      {
        group_id: groupId,
        chord: chord ? asSignature(chord) : null,
        group_index: optionNumber(o.group_index),
        chain: Array.isArray(o.chain) ? chainOption(o.chain) : null,
      },
      plan,
      newId,
    );
  });
  return [[groupId, null], children];
}

/**
 * `chord.run`: the body gets what the chord was applied with (a chain's rest, the group id and
 * chord of a header it is a part of) and is frozen; the header is frozen with the body as `chord`
 * and sent as a group; with an empty header the body is sent at once with `[]`.
 */
function layChord(
  sig: Signature,
  partial: readonly unknown[],
  call: CanvasCallOptions,
  plan: CanvasPlan,
  newId: () => string,
): ResultTuple {
  const o = merged(sig, call);
  const header = chordHeader(sig.kwargs.header);
  const groupId = optionString(header.options.task_id) ?? newId();
  let body = chordBody(sig);
  const { task_id: chordTaskId, ...passed } = o;
  const bodyOptions: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(passed))
    if (value !== undefined && value !== null) bodyOptions[name] = value;
  body = withOptions(body, bodyOptions);
  // Celery's Signature.freeze keeps an id the body already has: a Python chain step's chord carries
  // the header group's id as its own task_id, the body its own.
  const chordId = optionString(call.task_id) ?? optionString(chordTaskId);
  // body.freeze(task_id): a task or a chain's last task takes the chord's id; a group keeps its own.
  const frozenBody = freeze(body, { id: signatureKind(body) === 'group' ? null : chordId }, newId);
  const frozenHeader = freeze(header, { groupId, chord: frozenBody.sig }, newId);
  if (groupTasks(frozenHeader.sig).length === 0) {
    const sent = lay(frozenBody.sig, [[]], {}, plan, newId);
    return withRootParent(sent, [[groupId, null], []]);
  }
  const parts = frozenHeader.tuple[1] ?? [];
  if (parts.some((part) => part[1] !== null)) plan.groupSaves.push({ groupId, tuple: frozenHeader.tuple });
  const headerTuple = lay(
    frozenHeader.sig,
    partial,
    { task_id: groupId, group_index: optionNumber(o.group_index) },
    plan,
    newId,
  );
  return withRootParent(frozenBody.tuple, headerTuple);
}
