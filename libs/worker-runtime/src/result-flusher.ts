import type { Logger } from '@celeriac/logger';
import { DOCUMENT_SERIALIZER, formatNaiveUtc, type ResultDocument, type Serializer } from '@celeriac/protocol';

/** `date_done` placeholder: the flusher stamps a batch with one clock reading. */
export const DATE_DONE_AT_FLUSH = '';

/** What the flusher writes to. */
export interface FlushTargets {
  storeMany(docs: readonly ResultDocument[]): Promise<void>;
  ack(tags: readonly string[]): Promise<void>;
}

const RETRY_DELAYS_MS = [50, 200, 1000, 2000];

/**
 * Batches result documents and acks: everything added in one turn of the event loop goes out as
 * one `storeMany` and one `ack` call, sent in parallel (one Lua call each per batch, the design
 * that made the prototype fast). Failed batches are retried a few times, then logged and dropped:
 * unacked messages come back through the visibility-timeout restore.
 */
export class ResultFlusher {
  private docs: ResultDocument[] = [];
  private tags: string[] = [];
  private scheduled: NodeJS.Immediate | null = null;
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;
  private serializer: Serializer | undefined;

  constructor(
    private readonly targets: FlushTargets,
    private readonly logger: Logger,
  ) {}

  /**
   * Stores every document it flushes in `serializer` (the worker's `result_serializer`), whatever
   * the backend's own default; json leaves the documents as they are.
   */
  storeAs(serializer: Serializer): void {
    this.serializer = serializer === 'json' ? undefined : serializer;
  }

  /** Queues a result document (may be null) and an ack tag (may be null). */
  add(doc: ResultDocument | null, tag: string | null): void {
    // A document without a task id would make the backend refuse the whole batch.
    if (doc !== null && typeof doc.task_id === 'string' && doc.task_id !== '') this.docs.push(doc);
    if (tag !== null) this.tags.push(tag);
    if (this.scheduled === null) this.scheduled = setImmediate(this.flushNow);
  }

  /** Number of documents and acks waiting for the next flush. */
  get pending(): number {
    return this.docs.length + this.tags.length;
  }

  /** Sends what is queued now instead of at the end of this event-loop turn. */
  sendQueued(): void {
    if (this.scheduled === null) return;
    clearImmediate(this.scheduled);
    this.flushNow();
  }

  private readonly flushNow = (): void => {
    this.scheduled = null;
    if (this.docs.length === 0 && this.tags.length === 0) return;
    const docs = this.docs;
    const tags = this.tags;
    this.docs = [];
    this.tags = [];
    if (docs.length > 0) {
      const stamp = formatNaiveUtc(new Date());
      const serializer = this.serializer;
      for (let i = 0; i < docs.length; i++) {
        const doc = docs[i] as ResultDocument;
        if (doc.date_done === DATE_DONE_AT_FLUSH) doc.date_done = stamp;
        if (serializer !== undefined) doc[DOCUMENT_SERIALIZER] = serializer;
      }
    }
    this.send(docs, tags, 0);
  };

  private send(docs: ResultDocument[], tags: string[], attempt: number): void {
    const work = Promise.all([
      docs.length > 0 ? this.store(docs, attempt > 0) : null,
      tags.length > 0
        ? this.targets.ack(tags).then(
            () => null,
            (e: unknown) => e,
          )
        : null,
    ]).then(([storeError, ackError]) => {
      // A late STARTED must not overwrite a final state stored meanwhile: only retry the others.
      const failedDocs = storeError ? storeError.docs.filter((d) => d.status !== 'STARTED') : [];
      const failedTags = ackError ? tags : [];
      if (failedDocs.length === 0 && failedTags.length === 0) return;
      const delayMs = RETRY_DELAYS_MS[attempt];
      const error = (storeError?.error ?? ackError) as Error;
      if (delayMs === undefined) {
        this.logger.error(
          { event: 'worker.flush_failed', results: failedDocs.length, acks: failedTags.length, err: error },
          'Giving up storing results/acks after retries; unacked messages return after the visibility timeout',
        );
        return;
      }
      this.logger.warn(
        {
          event: 'worker.flush_retry',
          attempt: attempt + 1,
          results: failedDocs.length,
          acks: failedTags.length,
          err: error,
        },
        'Storing results/acks failed; retrying',
      );
      return new Promise<void>((resolve) => {
        setTimeout(
          () => {
            this.send(failedDocs, failedTags, attempt + 1);
            resolve();
          },
          this.closed ? 0 : delayMs,
        );
      });
    });
    this.inFlight.add(work);
    void work.finally(() => this.inFlight.delete(work));
  }

  /**
   * Stores documents; on a retry one by one, so that one document the backend refuses (e.g. not
   * encodable) cannot keep the others out. Resolves to what failed, or null.
   */
  private store(docs: ResultDocument[], oneByOne: boolean): Promise<{ docs: ResultDocument[]; error: unknown } | null> {
    if (!oneByOne || docs.length === 1) {
      return this.targets.storeMany(docs).then(
        () => null,
        (error: unknown) => ({ docs, error }),
      );
    }
    return Promise.all(docs.map((doc) => this.store([doc], false))).then((outcomes) => {
      const failed = outcomes.filter((o) => o !== null);
      if (failed.length === 0) return null;
      return { docs: failed.flatMap((f) => f.docs), error: failed[0]?.error };
    });
  }

  /** Sends what is queued now and resolves when every batch sent so far has settled (retries included). */
  async flush(): Promise<void> {
    if (this.scheduled !== null) {
      clearImmediate(this.scheduled);
      this.flushNow();
    }
    // A batch waiting for its retry timer stays in flight until the retry has been sent (and is
    // in flight itself), so waiting on what is in flight covers the retries too.
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  /** Flushes, then refuses nothing but schedules no more retries with delays; idempotent. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
  }
}
