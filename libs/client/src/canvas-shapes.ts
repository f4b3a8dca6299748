import type { Signature } from '@celeriac/protocol';
import { CanvasError } from './canvas-errors.js';

/** What kind of canvas a signature is, read from `subtask_type` (or the built-in task name) as Celery does. */
export type SignatureKind = 'task' | 'chain' | 'group' | 'chord' | 'chunks';

/** A plain object, or `{}` for anything else. */
export function record(value: unknown): Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {};
}

/** A non-empty string option, or null. */
export function optionString(value: unknown): string | null {
  return typeof value === 'string' && value !== '' ? value : null;
}

/** An integer option, or null. */
export function optionNumber(value: unknown): number | null {
  return typeof value === 'number' && Number.isInteger(value) ? value : null;
}

/** The kind of a signature (`subtask_type`, or the `celery.*` task it names for groups, chains and chords). */
export function signatureKind(sig: Signature): SignatureKind {
  const type = sig.subtask_type;
  const kwargs = record(sig.kwargs);
  if ((type === 'chain' || sig.task === 'celery.chain') && Array.isArray(kwargs.tasks)) return 'chain';
  if ((type === 'group' || sig.task === 'celery.group') && Array.isArray(kwargs.tasks)) return 'group';
  if ((type === 'chord' || sig.task === 'celery.chord') && kwargs.header !== undefined) return 'chord';
  // Only our own chunks object is marked so (sent expanded, as Celery's client sends a `chunks`); on
  // the wire Celery's chunks has no subtask_type and is a `celery.chunks` task, run by the built-in.
  if (type === 'chunks' && Array.isArray(kwargs.it)) return 'chunks';
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

/** The signatures a group (or a chord header: a group or a list) lists, as they are, nested groups kept. */
export function groupTasks(header: unknown): Signature[] {
  const list = Array.isArray(header) ? header : record(record(header).kwargs).tasks;
  if (!Array.isArray(list)) throw new CanvasError('a group needs a list of signatures (kwargs.tasks)');
  return list.map(asSignature);
}

/**
 * The member signatures of a group (or a list), nested groups unrolled in order, as Celery's
 * `group._prepared` does when a group that was never frozen is sent.
 */
export function groupMembers(header: unknown): Signature[] {
  const out: Signature[] = [];
  for (const sig of groupTasks(header)) {
    if (signatureKind(sig) === 'group') out.push(...groupMembers(sig));
    else out.push(sig);
  }
  return out;
}

/** A `celery.group` signature of `tasks`. */
export function groupSignature(tasks: readonly Signature[], options: Record<string, unknown> = {}): Signature {
  return {
    task: 'celery.group',
    args: [],
    kwargs: { tasks: [...tasks] },
    options,
    subtask_type: 'group',
    immutable: false,
  };
}

/** A `celery.chain` signature of `tasks`. */
export function chainSignature(tasks: readonly Signature[], options: Record<string, unknown> = {}): Signature {
  return {
    task: 'celery.chain',
    args: [],
    kwargs: { tasks: [...tasks] },
    options,
    subtask_type: 'chain',
    immutable: false,
  };
}

/** A `celery.chord` signature: `header` (a group signature or a list), then `body`. */
export function chordSignature(
  header: Signature | readonly Signature[],
  body: Signature,
  options: Record<string, unknown> = {},
): Signature {
  const group = Array.isArray(header) ? groupSignature(header) : (header as Signature);
  return {
    task: 'celery.chord',
    args: [],
    kwargs: { kwargs: {}, header: group, body },
    options,
    subtask_type: 'chord',
    immutable: false,
  };
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
