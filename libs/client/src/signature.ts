import type { Signature } from '@celeriac/protocol';

/** Where `task.s()` keeps its app, so that `chain(...).applyAsync()` knows where to publish. */
export const SIGNATURE_APP: unique symbol = Symbol('celeriac.signature.app');

/** Builds a Celery signature (`{task, args, kwargs, options, subtask_type, immutable}`). */
export function signature(
  task: string,
  args: unknown[] = [],
  kwargs: Record<string, unknown> = {},
  options: Record<string, unknown> = {},
  immutable = false,
): Signature {
  return { task, args, kwargs, options, subtask_type: null, immutable };
}

/** Attaches an owner (the app) to a signature without making it part of its wire form. */
export function bindSignature<T extends object>(sig: Signature, owner: T): Signature {
  Object.defineProperty(sig, SIGNATURE_APP, { value: owner, enumerable: false });
  return sig;
}

/** The owner attached by `bindSignature`, if any. */
export function signatureOwner<T>(sig: Signature): T | undefined {
  return (sig as unknown as Record<symbol, T | undefined>)[SIGNATURE_APP];
}

/** A copy of a signature with extra options (e.g. a pre-assigned `task_id`). */
export function withOptions(sig: Signature, options: Record<string, unknown>): Signature {
  return { ...sig, options: { ...sig.options, ...options } };
}
