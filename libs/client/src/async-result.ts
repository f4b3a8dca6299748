import { exceptionFromResult, READY_STATES, type ResultDocument, type TaskState } from '@celeriac/protocol';
import type { ResultTuple } from '@celeriac/result-backend';
import { ConfigError, TaskRevokedError, TimeoutError } from './errors.js';
import { type GroupResult, resultFromTuple } from './group-result.js';

/** The slice of the result backend an `AsyncResult` reads. */
export interface ResultSource {
  get(taskId: string): Promise<ResultDocument | null>;
  /** Resolves with the first final document, or null after `timeoutMs`; non-final ones go to `onUpdate`. */
  waitFor(
    taskId: string,
    timeoutMs: number,
    options?: { onUpdate?: (doc: ResultDocument) => void },
  ): Promise<ResultDocument | null>;
  /** Deletes a stored result (`AsyncResult.forget`). */
  forget?(taskId: string): Promise<void>;
  /** Reads many results in one round trip (GroupResult). */
  getMany?(taskIds: readonly string[]): Promise<(ResultDocument | null)[]>;
  /** `celery-taskset-meta-<gid>.s` for a chord sent from here. */
  setChordSize?(groupId: string, size: number): Promise<void>;
  /** `GroupResult.save/restore/delete`: `celery-taskset-meta-<gid>`. */
  saveGroup?(groupId: string, tuple: ResultTuple): Promise<void>;
  restoreGroup?(groupId: string): Promise<ResultTuple | null>;
  deleteGroup?(groupId: string): Promise<void>;
}

/** What `AsyncResult.revoke` calls: the app's control (`app.control.revoke`). */
export interface Revoker {
  revoke(taskIds: string | string[], options: { terminate?: boolean; signal?: string }): Promise<unknown>;
}

/** Options of `AsyncResult.revoke`, as Celery's. */
export interface RevokeOptions {
  /** Also abort the task if it is running (its `ctx.signal` fires); REVOKED is stored. */
  terminate?: boolean;
  /** Signal name for `terminate` (default `SIGTERM`; reported in `task-revoked`). */
  signal?: string;
}

/** Options of `AsyncResult.get`. */
export interface GetOptions {
  /** Milliseconds to wait; without it `get` waits until the task is ready. */
  timeout?: number;
  /** Throw the task's error (default); `false` returns it instead. */
  propagate?: boolean;
}

/** A handle on one task's result in the backend (`celery-task-meta-<id>`). */
export class AsyncResult {
  readonly id: string;
  /**
   * The result this one was started from, when known here: a chain step's previous step, a chord
   * body's header GroupResult (as Celery's `parent`). Null for a lone task.
   */
  parent: AsyncResult | GroupResult | null = null;
  private readonly source: () => ResultSource;
  private readonly revoker: (() => Revoker) | undefined;
  private doc: ResultDocument | null = null;

  constructor(id: string, source: () => ResultSource, revoker?: () => Revoker) {
    this.id = id;
    this.source = source;
    this.revoker = revoker;
  }

  /**
   * Revokes the task on every node (Celery's `AsyncResult.revoke`): a waiting task is dropped with
   * a REVOKED result, a later worker drops it too, and with `terminate` a running one is aborted.
   * Resolves once the revoke is stored and broadcast.
   */
  async revoke(options: RevokeOptions = {}): Promise<void> {
    if (this.revoker === undefined) {
      throw new ConfigError(`cannot revoke task ${this.id}: this AsyncResult has no app; use app.AsyncResult(id)`);
    }
    await this.revoker().revoke(this.id, options);
  }

  /** The backend this result reads (GroupResult and the canvas share it). */
  get resultSource(): ResultSource {
    return this.source();
  }

  /** The revoker this result was made with (GroupResult members share it). */
  get resultRevoker(): (() => Revoker) | undefined {
    return this.revoker;
  }

  /**
   * Forgets the result, and its parents' (Celery's `AsyncResult.forget`): deletes
   * `celery-task-meta-<id>`; a later read sees PENDING.
   */
  async forget(): Promise<void> {
    const source = this.source();
    if (typeof source.forget !== 'function') {
      throw new ConfigError(`cannot forget task ${this.id}: this result source cannot delete results`);
    }
    this.doc = null;
    if (this.parent) await this.parent.forget();
    await source.forget(this.id);
  }

  /**
   * The tasks this one started (callbacks, chain steps, retries), from the `children` of the last
   * document read (`refresh()`, `get()`, `ready()`); null before one was read, as Celery's.
   */
  get children(): (AsyncResult | GroupResult)[] | null {
    const children = this.doc?.children;
    if (!Array.isArray(children)) return null;
    return children.map((tuple) => resultFromTuple(tuple as ResultTuple, this.source, this.revoker));
  }

  /** Celery's `as_tuple()`: `[[id, parent tuple], null]`. */
  asTuple(): ResultTuple {
    return [[this.id, this.parent ? this.parent.asTuple() : null], null];
  }

  /** The last known state; `PENDING` until a result document was seen. */
  get state(): TaskState {
    return this.doc?.status ?? 'PENDING';
  }

  /** Alias of `state`, as in Celery. */
  get status(): TaskState {
    return this.state;
  }

  /** The last known result value (for FAILURE: the encoded exception). */
  get result(): unknown {
    return this.doc ? this.doc.result : null;
  }

  /** The traceback stored with a FAILURE or RETRY, else null. */
  get traceback(): string | null {
    return this.doc?.traceback ?? null;
  }

  /** The raw result document last read, or null. */
  get document(): ResultDocument | null {
    return this.doc;
  }

  /** Reads the backend once and updates `state`/`result`/`traceback`. */
  async refresh(): Promise<this> {
    const doc = await this.source().get(this.id);
    if (doc) this.doc = doc;
    return this;
  }

  /** Whether the task has finished (SUCCESS, FAILURE or REVOKED); reads the backend. */
  async ready(): Promise<boolean> {
    if (this.isReadyLocally()) return true;
    await this.refresh();
    return this.isReadyLocally();
  }

  /** Whether the task finished with SUCCESS; reads the backend. */
  async successful(): Promise<boolean> {
    await this.ready();
    return this.state === 'SUCCESS';
  }

  /** Whether the task finished with FAILURE; reads the backend. */
  async failed(): Promise<boolean> {
    await this.ready();
    return this.state === 'FAILURE';
  }

  /**
   * Waits for the result through the backend's pub/sub wake-up (no polling). FAILURE throws a
   * `RemoteTaskError`, REVOKED a `TaskRevokedError` (or returns them with `propagate: false`);
   * no ready state within `timeout` ms throws a `TimeoutError` (code `CLIENT_RESULT_TIMEOUT`).
   * With `propagate`, known parents are checked first, root first (Celery's
   * `_maybe_reraise_parent_error`): a failed chain step or chord header part throws its own error.
   */
  async get(options: GetOptions = {}): Promise<unknown> {
    const propagate = options.propagate ?? true;
    const timeoutMs = options.timeout;
    // Celery's `_maybe_reraise_parent_error`: a failed parent (a chain's earlier step, a chord's
    // header part) raises its own error, root first, before this result's.
    if (propagate && this.parent !== null) await this.maybeThrowParents();
    if (!this.isReadyLocally()) {
      const doc = await this.source().waitFor(this.id, timeoutMs ?? Number.POSITIVE_INFINITY, {
        onUpdate: (update) => {
          this.doc = update;
        },
      });
      if (!doc) throw new TimeoutError(this.id, timeoutMs ?? 0);
      this.doc = doc;
    }
    // Celery checks the parents again on each wait interval, so a parent that failed while this
    // result was awaited (a header part before the body's ChordError) is what it raises.
    if (propagate && this.parent !== null && this.doc?.status !== 'SUCCESS') await this.maybeThrowParents();
    return this.outcome(propagate);
  }

  /** Throws this result's error when it is FAILURE or REVOKED (Celery's `maybe_throw`); reads the backend. */
  async maybeThrow(): Promise<void> {
    if (await this.ready()) {
      if (this.doc?.status !== 'SUCCESS') this.outcome(true);
    }
  }

  private async maybeThrowParents(): Promise<void> {
    const parents: (AsyncResult | GroupResult)[] = [];
    for (let node = this.parent; node !== null; node = node.parent) parents.push(node);
    for (const node of parents.reverse()) await node.maybeThrow();
  }

  private isReadyLocally(): boolean {
    return this.doc !== null && READY_STATES.has(this.doc.status);
  }

  private outcome(propagate: boolean): unknown {
    const doc = this.doc!;
    if (doc.status === 'SUCCESS') return doc.result;
    const error = doc.status === 'REVOKED' ? revokedError(this.id, doc) : exceptionFromResult(doc);
    if (propagate) throw error;
    return error;
  }
}

function revokedError(id: string, doc: ResultDocument): TaskRevokedError {
  const result = doc.result as { exc_message?: unknown } | null;
  const message = result?.exc_message;
  const reason = Array.isArray(message) ? message.map(String).join(', ') : message ? String(message) : 'revoked';
  return new TaskRevokedError(id, reason);
}
