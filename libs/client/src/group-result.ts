import type { ResultDocument } from '@celeriac/protocol';
import type { ResultTuple } from '@celeriac/result-backend';
import { AsyncResult, type GetOptions, type ResultSource, type Revoker } from './async-result.js';
import { CanvasError } from './canvas-errors.js';
import { TimeoutError } from './errors.js';

/** A result of a group member: one task, or a nested group. */
export type GroupMember = AsyncResult | GroupResult;

/**
 * Rebuilds a result from Celery's `as_tuple()` form (`result_from_tuple`): `[[id, parent], null]`
 * is one task, `[[id, parent], [children]]` a group.
 */
export function resultFromTuple(
  tuple: ResultTuple,
  source: () => ResultSource,
  revoker?: () => Revoker,
): AsyncResult | GroupResult {
  if (!Array.isArray(tuple) || tuple.length !== 2) {
    throw new CanvasError(`not a Celery result tuple: ${JSON.stringify(tuple)?.slice(0, 200)}`);
  }
  const [head, nodes] = tuple;
  const [id, parentTuple] = Array.isArray(head) ? head : [head as unknown as string, null];
  const parent = parentTuple ? resultFromTuple(parentTuple, source, revoker) : null;
  const result = Array.isArray(nodes)
    ? new GroupResult(
        String(id),
        nodes.map((n) => resultFromTuple(n, source, revoker)),
        source,
        revoker,
      )
    : new AsyncResult(String(id), source, revoker);
  result.parent = parent;
  return result;
}

const READY = new Set(['SUCCESS', 'FAILURE', 'REVOKED']);

/**
 * Celery's `GroupResult`: the results of a group's members, in the order they were sent. Its id is
 * the group id (`headers.group` of every member). `save()` / `GroupResult.restore()` keep it in
 * the backend as Celery does (`celery-taskset-meta-<id>`), so a Python client can restore it too.
 */
export class GroupResult {
  readonly id: string;
  readonly results: readonly GroupMember[];
  /** The result this group was started from, when known (e.g. a chain step before it). */
  parent: AsyncResult | GroupResult | null = null;
  private readonly source: () => ResultSource;
  private readonly revoker: (() => Revoker) | undefined;

  constructor(id: string, results: readonly GroupMember[], source: () => ResultSource, revoker?: () => Revoker) {
    this.id = id;
    this.results = results;
    this.source = source;
    this.revoker = revoker;
  }

  /** Number of members. */
  get length(): number {
    return this.results.length;
  }

  /** The members (Celery's `children` of a group). */
  get children(): readonly GroupMember[] {
    return this.results;
  }

  /** Every leaf task id, in order (nested groups flattened). */
  private leaves(): AsyncResult[] {
    const out: AsyncResult[] = [];
    for (const r of this.results) {
      if (r instanceof GroupResult) out.push(...r.leaves());
      else out.push(r);
    }
    return out;
  }

  /** The current documents of every leaf, read in one round trip when the backend allows. */
  private async documents(): Promise<(ResultDocument | null)[]> {
    const leaves = this.leaves();
    const source = this.source();
    if (typeof source.getMany === 'function') return source.getMany(leaves.map((l) => l.id));
    return Promise.all(leaves.map((l) => source.get(l.id)));
  }

  /** Whether every member finished (SUCCESS, FAILURE or REVOKED). */
  async ready(): Promise<boolean> {
    return (await this.documents()).every((d) => d !== null && READY.has(d.status));
  }

  /** Whether every member finished with SUCCESS. */
  async successful(): Promise<boolean> {
    return (await this.documents()).every((d) => d !== null && d.status === 'SUCCESS');
  }

  /** Whether any member finished with FAILURE. */
  async failed(): Promise<boolean> {
    return (await this.documents()).some((d) => d !== null && d.status === 'FAILURE');
  }

  /** Whether any member has not finished yet. */
  async waiting(): Promise<boolean> {
    return !(await this.ready());
  }

  /** How many members finished with SUCCESS (Celery's `completed_count`). */
  async completedCount(): Promise<number> {
    return (await this.documents()).filter((d) => d !== null && d.status === 'SUCCESS').length;
  }

  /**
   * Waits for every member and returns their results in order (nested groups as nested lists).
   * With `propagate` (default) the first failure in order throws; `timeout` (ms) covers the whole
   * join and throws a `TimeoutError` naming the member still missing.
   */
  async join(options: GetOptions = {}): Promise<unknown[]> {
    const deadline = options.timeout === undefined ? Number.POSITIVE_INFINITY : Date.now() + options.timeout;
    const out: unknown[] = [];
    for (const member of this.results) {
      const remaining = deadline - Date.now();
      if (remaining <= 0 && Number.isFinite(deadline)) throw new TimeoutError(member.id, options.timeout ?? 0);
      const timeout = Number.isFinite(remaining) ? Math.max(1, remaining) : undefined;
      out.push(
        await member.get({ ...(timeout !== undefined ? { timeout } : {}), propagate: options.propagate ?? true }),
      );
    }
    return out;
  }

  /** Throws the first member's error, in order, among those that failed or were revoked (Celery's `maybe_throw`). */
  async maybeThrow(): Promise<void> {
    for (const member of this.results) await member.maybeThrow();
  }

  /** `join()`, as Celery's `GroupResult.get`. */
  get(options: GetOptions = {}): Promise<unknown[]> {
    return this.join(options);
  }

  /** Forgets every member's result (Celery's `forget`). */
  async forget(): Promise<void> {
    await Promise.all(this.results.map((r) => r.forget()));
  }

  /** Revokes every member on every node. */
  async revoke(options: { terminate?: boolean; signal?: string } = {}): Promise<void> {
    const revoker = this.revoker;
    if (!revoker) throw new CanvasError(`cannot revoke group ${this.id}: it was not made by an app`);
    const ids = this.leaves().map((l) => l.id);
    if (ids.length > 0) await revoker().revoke(ids, options);
  }

  /** Celery's `as_tuple()`: `[[id, parent], [member tuples]]`. */
  asTuple(): ResultTuple {
    return [[this.id, this.parent ? this.parent.asTuple() : null], this.results.map((r) => r.asTuple())];
  }

  /** Stores the group as Celery's `GroupResult.save()` (`celery-taskset-meta-<id>`, `{"result": <tuple>}`). */
  async save(): Promise<void> {
    const source = this.source();
    if (typeof source.saveGroup !== 'function') throw new CanvasError('this result backend cannot save groups');
    await source.saveGroup(this.id, this.asTuple());
  }

  /** Deletes the saved group (Celery's `GroupResult.delete()`); the members' results stay. */
  async delete(): Promise<void> {
    const source = this.source();
    if (typeof source.deleteGroup !== 'function') throw new CanvasError('this result backend cannot delete groups');
    await source.deleteGroup(this.id);
  }

  /**
   * A saved group (by Celery's `GroupResult.save()` or ours), or null when none is stored. `from`
   * is any result of the app (e.g. `app.AsyncResult('')`): its backend is used.
   */
  static async restore(id: string, from: AsyncResult): Promise<GroupResult | null> {
    const source = from.resultSource;
    if (typeof source.restoreGroup !== 'function') throw new CanvasError('this result backend cannot restore groups');
    const tuple = await source.restoreGroup(id);
    if (tuple === null) return null;
    const sourceFn = () => source;
    const restored = resultFromTuple(tuple, sourceFn, from.resultRevoker);
    if (restored instanceof GroupResult) return restored;
    return new GroupResult(id, [restored], sourceFn, from.resultRevoker);
  }
}
