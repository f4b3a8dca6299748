import type { DeadLetterDetails, Delivery, DroppedDelayed, LimitedDelivery } from '@celeriac/broker';
import type { Logger } from '@celeriac/logger';
import type { ResultDocument } from '@celeriac/protocol';
import { CeleryTaskRevokedError } from './celery-exceptions.js';
import { exceptionDocument } from './exception-document.js';
import { DATE_DONE_AT_FLUSH } from './result-flusher.js';

/** The broker calls of the periodic upkeep (`RedisBroker` has them all). */
export interface UpkeepBroker {
  /**
   * `nextDueInMs` (until the earliest remaining entry is due; null: none) and `limited` (length of
   * the redelivery-limit list) come with `RedisBroker`'s reply; without them the upkeep polls every
   * interval and always asks for redelivery-limited entries.
   */
  promoteDue(
    limit: number,
  ): Promise<{ promoted: number; dropped: DroppedDelayed[]; nextDueInMs?: number | null; limited?: number }>;
  takeRedeliveryLimited(max: number): Promise<LimitedDelivery[]>;
  deadLetter(delivery: Delivery, reason: string, details?: DeadLetterDetails): Promise<void>;
}

/** Where result documents go (the `ResultFlusher`). */
export interface ResultSink {
  add(doc: ResultDocument | null, tag: string | null): void;
}

/** Entries promoted per script call; a full call is followed by another at once (a few per tick at most). */
const PROMOTE_LIMIT = 200;
const MAX_PROMOTE_CALLS = 10;
/** Redelivery-limited entries taken per tick. */
const LIMITED_PER_TICK = 50;
/**
 * Longest sleep between two rounds while nothing in the delayed set is due sooner: what bounds the
 * delay of an entry deferred by a worker that died before its due time (a live deferring worker
 * wakes for its own entries, `dueAt`), and of a message put on the redelivery-limit list by a
 * restore.
 */
export const UPKEEP_IDLE_MS = 2_000;
/** Failures are logged at warn once per this many ticks at most. */
const WARN_EVERY = 20;

/** Dead-letter reason of a message restored after crashes more often than the limit. */
export const REDELIVERY_LIMIT_REASON = 'redelivery_limit';

function taskOf(raw: string): { id: string | null; task: string | null } {
  try {
    const headers = (JSON.parse(raw) as { headers?: Record<string, unknown> }).headers;
    return {
      id: typeof headers?.id === 'string' ? headers.id : null,
      task: typeof headers?.task === 'string' ? headers.task : null,
    };
  } catch {
    return { id: null, task: null };
  }
}

/**
 * What every worker does on a timer for the fleet: moves due messages from the delayed set back to
 * the head of their queue (`promoteDue`, Redis TIME), stores REVOKED for delayed messages of
 * revoked tasks (the `revokedKey` hook), and dead-letters messages past the redelivery limit with a
 * FAILURE result (`WorkerLostError`, as Celery stores for a task whose worker died).
 *
 * The next round comes when the earliest delayed entry is due (read in the same round trip), at
 * least `intervalMs` (`celeriac_delayed_poll_interval`, which batches entries due close together)
 * and at most `UPKEEP_IDLE_MS` after the last, or sooner when this worker defers an entry due
 * earlier (`dueAt`). An idle worker so makes one pipelined call every 2 s instead of two script
 * calls every 250 ms; an entry is promoted at most `intervalMs` after it is due, as before.
 */
export class DeliveryUpkeep {
  private timer: NodeJS.Timeout | null = null;
  /** Epoch ms the pending timer fires at (Infinity: none pending, a round runs). */
  private wakeAtMs = Number.POSITIVE_INFINITY;
  /** Epoch ms the last round ended. */
  private lastEndMs = 0;
  /** Until the earliest delayed entry is due, as the last round saw it (undefined: not known). */
  private nextDueInMs: number | null | undefined = undefined;
  /** Earliest due time (epoch ms) this worker deferred while a round ran. */
  private dueDuringRound = Number.POSITIVE_INFINITY;
  private running: Promise<void> | null = null;
  private active = false;
  private failures = 0;

  constructor(
    private readonly broker: UpkeepBroker,
    private readonly results: ResultSink,
    private readonly intervalMs: number,
    private readonly redeliveryLimit: number,
    private readonly logger: Logger,
  ) {}

  start(): void {
    this.active = true;
    this.schedule(0);
  }

  private schedule(delayMs: number): void {
    if (!this.active) return;
    this.wakeAtMs = Date.now() + delayMs;
    this.timer = setTimeout(() => {
      this.timer = null;
      this.wakeAtMs = Number.POSITIVE_INFINITY;
      this.running = this.tick().finally(() => {
        this.running = null;
        this.lastEndMs = Date.now();
        const delayMs = this.nextDelayMs();
        const dueMs = this.dueDuringRound;
        this.dueDuringRound = Number.POSITIVE_INFINITY;
        this.schedule(Math.min(delayMs, Math.max(this.intervalMs, dueMs - this.lastEndMs)));
      });
    }, delayMs);
    this.timer.unref();
  }

  /** After a round: until the earliest entry is due, within [intervalMs, UPKEEP_IDLE_MS]. */
  private nextDelayMs(): number {
    const due = this.nextDueInMs;
    if (due === undefined || this.failures > 0) return this.intervalMs;
    const idle = Math.max(this.intervalMs, UPKEEP_IDLE_MS);
    return due === null ? idle : Math.min(idle, Math.max(this.intervalMs, due));
  }

  /**
   * This worker moved an entry due at `dueMs` (epoch ms) to the delayed set: the next round comes
   * by then (but not sooner than `intervalMs` after the last).
   */
  dueAt(dueMs: number): void {
    if (!this.active) return;
    if (this.timer === null) {
      // A round is under way (its peek may have missed this entry): the next schedule honours it.
      this.dueDuringRound = Math.min(this.dueDuringRound, dueMs);
      return;
    }
    const at = Math.max(dueMs, this.lastEndMs + this.intervalMs);
    if (at >= this.wakeAtMs) return;
    clearTimeout(this.timer);
    this.timer = null;
    this.schedule(Math.max(0, at - Date.now()));
  }

  /** One round: promote due messages, then dead-letter what is past the redelivery limit. */
  async tick(): Promise<void> {
    try {
      let limitedLeft: number | undefined;
      for (let call = 0; call < MAX_PROMOTE_CALLS && this.active; call++) {
        const { promoted, dropped, nextDueInMs, limited } = await this.broker.promoteDue(PROMOTE_LIMIT);
        this.nextDueInMs = nextDueInMs;
        limitedLeft = limited;
        if (dropped.length > 0) this.revoked(dropped);
        if (promoted > 0) {
          this.logger.debug(
            { event: 'worker.delayed_promoted', count: promoted },
            'Moved due eta messages to their queues',
          );
        }
        if (promoted + dropped.length < PROMOTE_LIMIT) break;
      }
      if (this.active && (limitedLeft === undefined || limitedLeft > 0)) {
        const limited = await this.broker.takeRedeliveryLimited(LIMITED_PER_TICK);
        await Promise.all(limited.map((d) => this.deadLetterLimited(d)));
      }
      this.failures = 0;
    } catch (error) {
      if (this.failures % WARN_EVERY === 0) {
        this.logger.warn(
          { event: 'worker.upkeep_failed', err: error, retry_in_ms: this.intervalMs },
          'Moving due eta messages / dead-lettering poison messages failed; retrying',
        );
      }
      this.failures++;
    }
  }

  /** Revoke hook: delayed messages of revoked tasks were dropped; store REVOKED for them. */
  private revoked(dropped: DroppedDelayed[]): void {
    for (const d of dropped) {
      const outcome = exceptionDocument(new CeleryTaskRevokedError('revoked'), false);
      this.results.add(this.document(d.taskId, 'REVOKED', outcome), null);
    }
    this.logger.info(
      { event: 'worker.delayed_revoked', count: dropped.length, task_ids: dropped.slice(0, 10).map((d) => d.taskId) },
      'Dropped delayed messages of revoked tasks',
    );
  }

  private async deadLetterLimited(d: LimitedDelivery): Promise<void> {
    const { id, task } = taskOf(d.raw);
    const message =
      `Worker exited prematurely: the message was redelivered ${d.redeliveries} times after its worker died ` +
      `(celeriac_redelivery_limit ${this.redeliveryLimit}); it was dead-lettered`;
    this.logger.warn(
      {
        event: 'worker.redelivery_limit',
        task_id: id,
        task,
        queue: d.queue,
        delivery_tag: d.deliveryTag,
        redeliveries: d.redeliveries,
      },
      `${message} (dead-letter reason ${REDELIVERY_LIMIT_REASON})`,
    );
    if (id !== null) {
      const result = { exc_type: 'WorkerLostError', exc_message: [message], exc_module: 'billiard.exceptions' };
      this.results.add(this.document(id, 'FAILURE', { result, traceback: null }), null);
    }
    try {
      await this.broker.deadLetter(d, REDELIVERY_LIMIT_REASON, { taskId: id, task, redeliveries: d.redeliveries });
    } catch (error) {
      // Still held by this worker: restored after it dies, and back on the redelivery-limit list then.
      this.logger.error(
        { event: 'worker.dead_letter_failed', delivery_tag: d.deliveryTag, err: error },
        'Could not dead-letter a message past the redelivery limit; it comes back here after a restore',
      );
    }
  }

  private document(
    taskId: string,
    status: 'FAILURE' | 'REVOKED',
    outcome: { result: unknown; traceback: string | null },
  ): ResultDocument {
    return {
      status,
      result: outcome.result,
      traceback: outcome.traceback,
      children: [],
      date_done: DATE_DONE_AT_FLUSH,
      task_id: taskId,
    } as ResultDocument;
  }

  /** Stops the timer; resolves when a round under way has ended. Idempotent. */
  async stop(): Promise<void> {
    this.active = false;
    if (this.timer !== null) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }
}
