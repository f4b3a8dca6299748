import type { Delivery } from '@celeriac/broker';
import { raceTimeout } from '@celeriac/common';
import type { Logger } from '@celeriac/logger';

/** The broker calls the consumer uses. */
export interface ConsumerSource {
  fetchBatch(queues: readonly string[], max: number): Promise<Delivery[]>;
  /** `awaitRecord: false`: resolve once the unacked record is sent, not confirmed (a lone task starts a round trip sooner). */
  waitForOne(
    queues: readonly string[],
    timeoutSec: number,
    options?: { awaitRecord?: boolean },
  ): Promise<Delivery | null>;
}

/** Options of the fetch loop. */
export interface ConsumerOptions {
  source: ConsumerSource;
  queues: readonly string[];
  /** How many more messages the worker may hold now (prefetch limit minus held). */
  freeSlots(): number;
  /** The prefetch limit now (pool_grow / pool_shrink change it); one fetch asks for at most half of it so two can be in flight. */
  prefetchLimit(): number;
  onDeliveries(deliveries: Delivery[]): void;
  logger: Logger;
  batchMax?: number;
  /** BRPOP timeout while idle. */
  idleWaitSec?: number;
}

const MAX_IN_FLIGHT = 2;
const WAIT_OPTIONS = { awaitRecord: false };
const BACKOFF_MS = [100, 250, 500, 1000, 2000];

/**
 * The fetch loop: non-blocking batch fetches (two in flight under load, never more requested than
 * the prefetch limit allows) and, once a fetch comes back empty, a blocking pop on the broker's
 * own connection so a lone task on an idle queue starts at once.
 */
export class Consumer {
  private running = false;
  private inFlight = 0;
  private requested = 0;
  private idle = false;
  /** Whether the last fetch came back full: only then is a second one sent beside it (a backlog). */
  private backlog = false;
  private idleWait: Promise<void> | null = null;
  private errors = 0;
  private backoffTimer: NodeJS.Timeout | null = null;
  private readonly pending = new Set<Promise<unknown>>();
  private readonly batchMax: number;
  private readonly idleWaitSec: number;

  constructor(private readonly o: ConsumerOptions) {
    this.batchMax = o.batchMax ?? 200;
    this.idleWaitSec = o.idleWaitSec ?? 1;
  }

  /** Most messages one fetch asks for: half the prefetch limit (two fetches in flight), at most `batchMax`. */
  private perFetch(): number {
    return Math.max(1, Math.min(this.batchMax, Math.ceil(this.o.prefetchLimit() / 2)));
  }

  start(): void {
    this.running = true;
    this.poke();
  }

  /** Starts fetches while there is room; call it whenever slots free up. */
  poke(): void {
    if (!this.running || this.idle || this.backoffTimer !== null) return;
    while (this.inFlight < (this.backlog ? MAX_IN_FLIGHT : 1)) {
      const free = this.o.freeSlots() - this.requested;
      if (free <= 0) return;
      this.fetch(Math.min(this.perFetch(), free));
    }
  }

  private track<T>(promise: Promise<T>): Promise<T> {
    this.pending.add(promise);
    void promise.finally(() => this.pending.delete(promise)).catch(() => undefined);
    return promise;
  }

  private fetch(n: number): void {
    this.inFlight++;
    this.requested += n;
    this.track(this.o.source.fetchBatch(this.o.queues, n)).then(
      (deliveries) => {
        this.errors = 0;
        this.backlog = deliveries.length === n;
        // The batch stays counted as requested until the worker has taken it in.
        if (deliveries.length > 0) this.o.onDeliveries(deliveries);
        this.inFlight--;
        this.requested -= n;
        if (deliveries.length > 0) {
          this.poke();
        } else if (this.inFlight === 0) {
          // Only when every fetch came back empty: the other one decides otherwise.
          this.waitIdle();
        }
      },
      (error: unknown) => {
        this.inFlight--;
        this.requested -= n;
        this.failed(error);
      },
    );
  }

  private waitIdle(): void {
    if (!this.running || this.idle || this.o.freeSlots() <= 0) return;
    if (this.o.queues.length === 0) {
      // Every queue cancelled (the cancel_consumer control command): look again after the idle wait.
      this.idle = true;
      setTimeout(() => {
        this.idle = false;
        this.poke();
        if (this.inFlight === 0) this.waitIdle();
      }, this.idleWaitSec * 1000).unref();
      return;
    }
    this.idle = true;
    // Not tracked by stop(): closing the broker ends a pending blocking pop (the broker hands back
    // an entry popped meanwhile), so shutdown need not wait out the pop's timeout. See idleSettled().
    const wait = this.o.source.waitForOne(this.o.queues, this.idleWaitSec, WAIT_OPTIONS).then(
      (delivery) => {
        this.idle = false;
        this.errors = 0;
        if (delivery !== null) {
          this.o.onDeliveries([delivery]);
          this.poke();
        } else {
          this.waitIdle();
        }
      },
      (error: unknown) => {
        this.idle = false;
        this.failed(error);
      },
    );
    this.idleWait = wait;
    void wait.finally(() => {
      if (this.idleWait === wait) this.idleWait = null;
    });
  }

  /**
   * Resolves once the pending blocking pop (if any) has come back and its delivery was handed on,
   * or after `timeoutMs`. A worker that just pushed messages back calls it before closing the
   * broker: its own pending pop may take one of them, and that one must be handed back too.
   */
  async idleSettled(timeoutMs: number): Promise<void> {
    const wait = this.idleWait;
    if (wait !== null) await raceTimeout(wait, timeoutMs);
  }

  private failed(error: unknown): void {
    if (!this.running) return;
    const delayMs = BACKOFF_MS[Math.min(this.errors, BACKOFF_MS.length - 1)] as number;
    if (this.errors === 0 || this.errors % 10 === 0) {
      this.o.logger.warn(
        { event: 'worker.fetch_failed', err: error, retry_in_ms: delayMs },
        'Fetching from the broker failed; retrying',
      );
    }
    this.errors++;
    if (this.backoffTimer !== null || this.inFlight > 0) return;
    this.backoffTimer = setTimeout(() => {
      this.backoffTimer = null;
      this.poke();
    }, delayMs);
  }

  /** Stops fetching; resolves when every batch fetch already sent has come back (and was handed on). */
  async stop(): Promise<void> {
    this.running = false;
    if (this.backoffTimer !== null) clearTimeout(this.backoffTimer);
    this.backoffTimer = null;
    while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
  }
}

/** What a worker's broker declares for the queues it consumes (`RedisBroker.declareQueues`). */
export interface QueueDeclarer {
  declareQueues?(queues: readonly string[]): Promise<{ queue: string; exchange: string; exchangeType: string }[]>;
}

/**
 * Declares kombu's `_kombu.binding.<exchange>` entries of the queues the worker consumes, as a
 * Python worker does at start, so producers that route by exchange reach it. Rejects with the
 * broker's BROKER_QUEUE_NOT_FOUND for a queue missing from `task_queues` when
 * `task_create_missing_queues` is false. A queue bound to a fanout exchange is received by pub/sub
 * (the broker's fanout inbox), as kombu delivers fanout.
 */
export async function declareConsumedQueues(
  broker: QueueDeclarer,
  queues: readonly string[],
  logger: Logger,
): Promise<void> {
  if (typeof broker.declareQueues !== 'function') return;
  const bindings = await broker.declareQueues(queues);
  for (const b of bindings) {
    logger.debug(
      { event: 'worker.queue_declared', queue: b.queue, exchange: b.exchange, exchange_type: b.exchangeType },
      `Queue ${b.queue} bound to exchange ${b.exchange}`,
    );
    if (b.exchangeType === 'fanout') {
      logger.info(
        { event: 'worker.fanout_queue', queue: b.queue, exchange: b.exchange },
        `Queue ${b.queue} is bound to fanout exchange ${b.exchange}: its broadcasts arrive by Redis pub/sub ` +
          "into this worker's own lists, as each kombu consumer gets its own copy",
      );
    }
  }
}
