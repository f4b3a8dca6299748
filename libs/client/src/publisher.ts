import { BrokerUnavailableError, type ExchangePublish, type ExchangeType } from '@celeriac/broker';
import { encodeTaskEnvelope, type OutgoingTask } from '@celeriac/protocol';

/**
 * One queue entry to push: the raw envelope, its queue and priority; or, with `exchange` (and an
 * empty queue), an entry to send through that named exchange to every queue bound to it.
 */
export interface PublishItem {
  queue: string;
  raw: string;
  priority?: number;
  exchange?: { name: string; routingKey: string; type?: ExchangeType };
}

/**
 * The exchange type a route gave a message (`exchange_type` of the call or route), for
 * `publishItem`; without one the broker takes the type `task_queues` gives the exchange, else direct.
 */
export const routeExchangeTypes = new WeakMap<OutgoingTask, ExchangeType>();

/**
 * Encodes a message into the entry to push. A message with an `exchange` and no `queue` goes
 * through the exchange; one with a queue goes to that queue's list whatever its `delivery_info`
 * says (a retry goes back to the queue it came from).
 */
export function publishItem(
  outgoing: OutgoingTask,
  exchangeType: ExchangeType | undefined = routeExchangeTypes.get(outgoing),
): PublishItem {
  const raw = encodeTaskEnvelope(outgoing);
  // The encoder concatenates ~40 pieces into a rope; reading one character makes V8 flatten it
  // now, while the pieces are still young garbage. Kept as a rope until ioredis writes it, the
  // tree survives into the old generation and GC costs ~3x the encoding (16 vs 5 µs a message).
  raw.charCodeAt(raw.length >> 1);
  const item: PublishItem = { queue: outgoing.queue, raw };
  if (outgoing.priority) item.priority = outgoing.priority;
  if (outgoing.queue === '' && outgoing.exchange) {
    item.exchange = { name: outgoing.exchange, routingKey: outgoing.routingKey ?? '' };
    if (exchangeType) item.exchange.type = exchangeType;
  }
  return item;
}

/** The slice of the broker the publisher uses. */
export interface PublishTarget {
  publishMany(items: { queue: string; raw: string; priority?: number }[]): Promise<void>;
  /** Publishes through a named exchange; rejects (BROKER_UNROUTABLE) when no bound queue matches. */
  publishToExchange?(publish: ExchangePublish): Promise<unknown>;
}

/**
 * Celery's `task_publish_retry_policy` (seconds), read as kombu's `retry_over_time` reads it: after
 * a connection error the send is tried again after `intervalStart`, each later wait `intervalStep`
 * longer, at most `intervalMax`, and the error is thrown after `maxRetries` retries (null: never).
 */
export interface PublishRetryPolicy {
  maxRetries: number | null;
  intervalStart: number;
  intervalStep: number;
  intervalMax: number;
}

/** Celery's default `task_publish_retry_policy`. */
export const DEFAULT_PUBLISH_RETRY_POLICY: Readonly<PublishRetryPolicy> = Object.freeze({
  maxRetries: 3,
  intervalStart: 0,
  intervalStep: 0.2,
  intervalMax: 1,
});

/** What the publisher reports before each retry (the app logs it). */
export type PublishRetryListener = (error: unknown, retry: number, waitSec: number) => void;

/**
 * The policy `task_publish_retry` and `task_publish_retry_policy` give: null when retries are off
 * (`task_publish_retry: false`). A policy key of the wrong type throws `TypeError` naming it.
 */
export function publishRetryPolicy(settings: Readonly<Record<string, unknown>>): PublishRetryPolicy | null {
  if (settings.task_publish_retry === false) return null;
  const given = settings.task_publish_retry_policy;
  if (given === undefined || given === null) return DEFAULT_PUBLISH_RETRY_POLICY;
  if (typeof given !== 'object' || Array.isArray(given)) {
    throw new TypeError(`task_publish_retry_policy must be an object, got ${JSON.stringify(given)}`);
  }
  const policy = given as Record<string, unknown>;
  const seconds = (key: string, fallback: number): number => {
    const value = policy[key];
    if (value === undefined) return fallback;
    if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
      throw new TypeError(`task_publish_retry_policy.${key} must be a number ≥ 0, got ${JSON.stringify(value)}`);
    }
    return value;
  };
  const max = policy.max_retries;
  if (max !== undefined && max !== null && (typeof max !== 'number' || !Number.isInteger(max) || max < 0)) {
    throw new TypeError(
      `task_publish_retry_policy.max_retries must be an integer ≥ 0 or null, got ${JSON.stringify(max)}`,
    );
  }
  const d = DEFAULT_PUBLISH_RETRY_POLICY;
  return {
    maxRetries: max === undefined ? d.maxRetries : max,
    intervalStart: seconds('interval_start', d.intervalStart),
    intervalStep: seconds('interval_step', d.intervalStep),
    intervalMax: seconds('interval_max', d.intervalMax),
  };
}

/** The wait (s) before retry `n` (1-based) under `policy`. */
export function publishRetryWaitSec(policy: PublishRetryPolicy, n: number): number {
  return Math.min(policy.intervalStart + (n - 1) * policy.intervalStep, policy.intervalMax);
}

/**
 * Runs `attempt` and, while it fails with a connection error (`BrokerUnavailableError`), runs it
 * again as `policy` says; other errors, and the last connection error, are thrown.
 */
export async function withPublishRetry<T>(
  policy: PublishRetryPolicy | null,
  attempt: () => Promise<T>,
  onRetry?: PublishRetryListener,
): Promise<T> {
  for (let retry = 1; ; retry++) {
    try {
      return await attempt();
    } catch (error) {
      if (
        policy === null ||
        !(error instanceof BrokerUnavailableError) ||
        (policy.maxRetries !== null && retry > policy.maxRetries)
      ) {
        throw error;
      }
      const waitSec = publishRetryWaitSec(policy, retry);
      onRetry?.(error, retry, waitSec);
      await new Promise((resolve) => setTimeout(resolve, waitSec * 1000));
    }
  }
}

interface Batch {
  items: PublishItem[];
  promise: Promise<void>;
  resolve: () => void;
  reject: (error: unknown) => void;
}

// A burst is cut into chunks, each sent as soon as it is full, so that Redis stores one chunk
// while the producer builds the next, and no single command carries hundreds of megabytes.
const MAX_ITEMS_PER_CALL = 2_000;

/**
 * Coalesces every publish made in the same tick into one `publishMany` call (one multi-value LPUSH
 * per list on the broker side), keeping the order in which they were made.
 */
export class CoalescingPublisher {
  private batch: Batch | null = null;
  private readonly target: () => Promise<PublishTarget>;
  private readonly inFlight = new Set<Promise<void>>();
  private ready: PublishTarget | undefined;
  private sending: Promise<unknown> = Promise.resolve();

  private readonly retryPolicy: () => PublishRetryPolicy | null;
  private readonly onRetry: PublishRetryListener | undefined;

  /**
   * @param target the broker, connected on first use
   * @param retryPolicy read at each send (`task_publish_retry` / `task_publish_retry_policy`); none: no retries
   * @param onRetry told before each retry
   */
  constructor(
    target: () => Promise<PublishTarget>,
    retryPolicy: () => PublishRetryPolicy | null = () => null,
    onRetry?: PublishRetryListener,
  ) {
    this.target = target;
    this.retryPolicy = retryPolicy;
    this.onRetry = onRetry;
  }

  /**
   * Queues one item for this tick's batch; resolves once it is in Redis. An item for a named
   * exchange is sent on its own (its bindings are looked up), so that one that matches no binding
   * fails alone.
   */
  add(item: PublishItem): Promise<void> {
    if (item.exchange) return this.viaExchange(item);
    const batch = this.current();
    batch.items.push(item);
    if (batch.items.length >= MAX_ITEMS_PER_CALL) this.flush(batch);
    return batch.promise;
  }

  /** Queues many items in order; resolves once all of them are in Redis. */
  addMany(items: readonly PublishItem[]): Promise<void> {
    const promises: Promise<void>[] = [];
    let last: Promise<void> | undefined;
    for (const item of items) {
      const p = this.add(item);
      if (p !== last) promises.push(p);
      last = p;
    }
    return promises.length === 1 ? promises[0]! : Promise.all(promises).then(() => undefined);
  }

  /** Resolves when everything queued so far has been written (or failed). */
  async drain(): Promise<void> {
    if (this.batch) await this.batch.promise.catch(() => {});
    while (this.inFlight.size > 0) await Promise.allSettled([...this.inFlight]);
  }

  private viaExchange(item: PublishItem): Promise<void> {
    const exchange = item.exchange!;
    const sent = this.retrying(() => this.target()).then(async (target) => {
      if (typeof target.publishToExchange !== 'function') {
        throw new Error(`this broker cannot publish through exchange ${exchange.name}`);
      }
      const entry = item.priority ? { raw: item.raw, priority: item.priority } : { raw: item.raw };
      await target.publishToExchange({
        exchange: exchange.name,
        routingKey: exchange.routingKey,
        ...(exchange.type ? { exchangeType: exchange.type } : {}),
        entries: [entry],
      });
    });
    const done = sent.then(
      () => undefined,
      () => undefined,
    );
    this.inFlight.add(done);
    done.finally(() => this.inFlight.delete(done));
    return sent;
  }

  private current(): Batch {
    if (this.batch) return this.batch;
    let resolve!: () => void;
    let reject!: (error: unknown) => void;
    const promise = new Promise<void>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    // Callers may drop the promise of a publish; its failure is still reported to whoever awaits it.
    promise.catch(() => {});
    const batch: Batch = { items: [], promise, resolve, reject };
    this.batch = batch;
    queueMicrotask(() => this.flush(batch));
    return batch;
  }

  private flush(batch: Batch): void {
    if (this.batch !== batch) return;
    this.batch = null;
    const done = this.send(batch.items).then(batch.resolve, batch.reject);
    this.inFlight.add(done);
    done.finally(() => this.inFlight.delete(done));
  }

  /** Runs `attempt` under the retry policy of the moment (`task_publish_retry_policy`). */
  private retrying<T>(attempt: () => Promise<T>): Promise<T> {
    let policy: PublishRetryPolicy | null;
    try {
      policy = this.retryPolicy();
    } catch (error) {
      return Promise.reject(error);
    }
    return withPublishRetry(policy, attempt, this.onRetry);
  }

  private send(items: PublishItem[]): Promise<void> {
    // Once connected, the command is written at once (in call order); before that, batches queue
    // behind the connection attempt in the order they were flushed. A connection error is retried
    // (connecting again if need be) as task_publish_retry_policy says.
    if (this.ready) {
      const ready = this.ready;
      const first = ready.publishMany(items);
      return first.catch((error: unknown) => {
        if (!(error instanceof BrokerUnavailableError)) throw error;
        let tried = false;
        return this.retrying(() => {
          if (!tried) {
            tried = true;
            return Promise.reject(error);
          }
          return ready.publishMany(items);
        });
      });
    }
    const sent = this.sending
      .then(
        () => undefined,
        () => undefined,
      )
      .then(() =>
        this.retrying(async () => {
          const target = await this.target();
          this.ready = target;
          return target.publishMany(items);
        }),
      );
    this.sending = sent.catch(() => {});
    return sent;
  }
}
