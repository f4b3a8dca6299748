import type { Delivery } from '@celeriac/broker';
import type { Logger } from '@celeriac/logger';
import type { ResultDocument } from '@celeriac/protocol';
import type { ConsumerSource } from './consumer.js';
import type { DeadLetterTarget } from './message-rejection.js';
import type { WorkerApp } from './worker-app.js';

/** The broker calls the worker makes (`RedisBroker` has them all). */
export interface WorkerBroker extends ConsumerSource, DeadLetterTarget {
  start(): Promise<void>;
  close(): Promise<void>;
  ack(tags: readonly string[]): Promise<void>;
  requeue(deliveries: readonly Delivery[]): Promise<unknown>;
  restoreVisibilityTimeout(): Promise<number>;
  /**
   * A new prefetch limit after `pool_grow` / `pool_shrink`, for a broker whose server pushes
   * messages within a window (RabbitMQ's `basic.qos`); a Redis broker fetches on demand and has none.
   */
  setPrefetchCount?(count: number): void;
}

/** The result-backend calls the worker makes (`RedisResultBackend` has them all). */
export interface WorkerBackend {
  start(): Promise<void>;
  close(): Promise<void>;
  store(doc: ResultDocument): Promise<void>;
  storeMany(docs: readonly ResultDocument[]): Promise<void>;
}

/** Options of a worker (see docs/contracts.md). */
export interface WorkerOptions {
  app: WorkerApp;
  queues: string[];
  /** Most tasks running at once. */
  concurrency: number;
  /** Defaults to `worker_prefetch_multiplier` (4). */
  prefetchMultiplier?: number;
  /** Node name, e.g. `celeriac@host`. */
  hostname: string;
  logger: Logger;
  /** Owner of held-task records; defaults to `<hostname>:<pid>`. */
  ownerId?: string;
  /** Larger queue entries are dead-lettered; default 16 MiB. */
  maxMessageBytes?: number;
  /** Default drain deadline of `warmShutdown()`; default 30 s. */
  drainTimeoutMs?: number;
  /** After the drain, flushing and closing connections may take at most this long; default 10 s. */
  forceTimeoutMs?: number;
  /** Kill the process when a synchronous task blocks the event loop past its hard limit (programs only). */
  watchdog?: boolean;
  /** Use this broker instead of building one from `broker_url` (the caller starts and closes it). */
  broker?: WorkerBroker;
  /** Use this backend instead of building one from `result_backend` (the caller starts and closes it). */
  backend?: WorkerBackend | null;
  /**
   * Send task events from the start (`celeriac worker -E`); the setting `worker_send_task_events`
   * and the `enable_events` control command turn them on too. Worker events are always sent.
   */
  taskEvents?: boolean;
  /**
   * Be a Celery node on the broker: answer `celery inspect`/`control` (pidbox), send worker events
   * and heartbeats, and honour the fleet's revokes. Default true; false only for embedded tests.
   */
  controlPlane?: boolean;
  /** Enforce fleet-wide limits (docs/fleet-limits.md) with the other workers; default true. */
  fleetLimits?: boolean;
}
