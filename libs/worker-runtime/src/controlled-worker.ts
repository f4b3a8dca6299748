import type { QueueBinding } from '@celeriac/broker';
import { isAmqpUrl } from '@celeriac/broker-amqp';
import type { WorkerCounters } from '@celeriac/control-plane';
import type { Logger } from '@celeriac/logger';
import { amqpPlaneWire } from './amqp-plane-wire.js';
import type { Executor } from './executor.js';
import type { Job } from './job-custody.js';
import type { PoolSize } from './pool-size.js';
import type { TaskPlan } from './task-plan.js';
import type { WorkerApp } from './worker-app.js';
import { type ControlledWorker, type WaitingJobs, WorkerControl } from './worker-control.js';
import { WorkerPlane } from './worker-plane.js';

/** The worker parts the control commands reach (structural: the Worker's `Running` parts). */
export interface ControlParts {
  custody: { readonly running: number; start(job: Job): void; runningJobs(): Iterable<Job> };
  executor: Pick<Executor, 'revoke' | 'terminate' | 'totals' | 'processed'>;
  dispatcher: {
    waitingJobs(): WaitingJobs;
    dropWaiting(match: (job: Job) => boolean): Job[];
    planOf(name: string): TaskPlan | undefined;
    replacePlan(plan: TaskPlan): void;
    /** Starts ready jobs while slots are free. */
    pump(): void;
  };
  consumer: { poke(): void };
  /** The worker's broker: `add_consumer` declares the new queue's binding through its `declareQueues` (when it has one). */
  broker?: object;
}

/** Who the worker is and how to stop it, for `controlledWorker`. */
export interface ControlIdentity {
  hostname: string;
  app: WorkerApp;
  brokerUrl: string;
  /** The pool's size and prefetch limit, resized by pool_grow / pool_shrink. */
  pool: PoolSize;
  queues: string[];
  logger: Logger;
  shutdown(reason: string): void;
}

/** The `ControlledWorker` view of a running worker's parts. */
export function controlledWorker(parts: ControlParts, who: ControlIdentity): ControlledWorker {
  const { custody, executor, dispatcher, consumer } = parts;
  return {
    hostname: who.hostname,
    app: who.app,
    brokerUrl: who.brokerUrl,
    pool: who.pool,
    queues: who.queues,
    logger: who.logger,
    shutdown: who.shutdown,
    runningJobs: () => custody.runningJobs(),
    waitingJobs: () => dispatcher.waitingJobs(),
    dropWaiting: (match) => dispatcher.dropWaiting(match),
    revokeWaiting: (job) => {
      custody.start(job);
      executor.revoke(job, 'revoked');
    },
    terminate: (job, signal) => executor.terminate(job, signal),
    planFor: (name) => dispatcher.planOf(name),
    replacePlan: (plan) => dispatcher.replacePlan(plan),
    totals: () => executor.totals,
    pokeConsumer: () => consumer.poke(),
    pumpReady: () => dispatcher.pump(),
    ...declarerOf(parts.broker),
  };
}

function declarerOf(broker: object | undefined): Pick<ControlledWorker, 'declareQueues'> {
  const b = broker as { declareQueues?(bindings: readonly QueueBinding[]): Promise<unknown> } | undefined;
  if (typeof b?.declareQueues !== 'function') return {};
  return { declareQueues: (bindings) => b.declareQueues!(bindings) };
}

/** The two figures every heartbeat carries. */
export function heartCounters(parts: ControlParts): WorkerCounters {
  return { active: () => parts.custody.running, processed: () => parts.executor.processed };
}

/**
 * Starts the plane of a worker being started (revoked ids loaded, pidbox bound, `worker-online`
 * sent) before it consumes; a failure closes what was opened and is thrown (the start fails).
 */
export async function startWorkerPlane(
  parts: ControlParts & { plane: WorkerPlane | null },
  who: ControlIdentity,
): Promise<void> {
  if (parts.plane === null) return;
  try {
    await parts.plane.start(new WorkerControl(controlledWorker(parts, who)), heartCounters(parts));
  } catch (error) {
    await parts.plane.close();
    throw error;
  }
}

/**
 * The control plane of a worker, or null with `controlPlane: false`. Task events start on with
 * `-E` (`taskEvents`) or the setting `worker_send_task_events`. On RabbitMQ it speaks AMQP and
 * shares revokes through the result backend's Redis (`resultBackendUrl`), if any.
 */
export function createWorkerPlane(o: {
  brokerUrl: string;
  resultBackendUrl: string | null;
  hostname: string;
  logger: Logger;
  settings: Readonly<Record<string, unknown>>;
  controlPlane?: boolean;
  taskEvents?: boolean;
}): WorkerPlane | null {
  if (o.controlPlane === false) return null;
  const wire = isAmqpUrl(o.brokerUrl)
    ? amqpPlaneWire({
        brokerUrl: o.brokerUrl,
        resultBackendUrl: o.resultBackendUrl,
        hostname: o.hostname,
        logger: o.logger,
        settings: o.settings,
      })
    : undefined;
  return new WorkerPlane({
    ...(wire !== undefined ? { wire } : {}),
    url: o.brokerUrl,
    hostname: o.hostname,
    logger: o.logger,
    taskEvents: o.taskEvents === true || o.settings.worker_send_task_events === true,
    keyPrefix: String(
      (o.settings.broker_transport_options as { global_keyprefix?: unknown } | undefined)?.global_keyprefix ?? '',
    ),
  });
}
