import { randomUUID } from 'node:crypto';
import { type OutgoingTask, PRIORITY_SEPARATOR, type Signature, type TaskMessage } from '@celeriac/protocol';
import type { WorkerApp } from './worker-app.js';

/**
 * The queue a message came from: the queue the worker took it from, without a priority suffix.
 * Not its routing key: through a named exchange (`media` with routing key `media.video`) the
 * routing key names no list.
 */
export function sourceQueue(_message: TaskMessage, deliveryQueue: string): string {
  const cut = deliveryQueue.lastIndexOf(PRIORITY_SEPARATOR);
  return cut !== -1 && /^\d+$/.test(deliveryQueue.slice(cut + PRIORITY_SEPARATOR.length))
    ? deliveryQueue.slice(0, cut)
    : deliveryQueue;
}

function optionString(options: Record<string, unknown>, name: string): string | undefined {
  const value = options[name];
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/**
 * A message for a signature started by a finished task (link callback, errback or chain step):
 * `parent_id` = the finished task, `root_id` kept, its `task_id` option kept when pre-assigned.
 */
export function signatureMessage(
  app: WorkerApp,
  sig: Signature,
  args: unknown[],
  parent: TaskMessage,
  origin: string,
  chain: Signature[] | null,
): OutgoingTask {
  const options = (sig.options !== null && typeof sig.options === 'object' ? sig.options : {}) as Record<
    string,
    unknown
  >;
  const queueOption = optionString(options, 'queue');
  const route: { queue: string; priority?: number | undefined; exchange?: string; routing_key?: string } = queueOption
    ? { queue: queueOption, priority: undefined }
    : app.routeFor(sig.task, options);
  const countdown = options.countdown;
  const priority = typeof options.priority === 'number' ? options.priority : route.priority;
  return {
    id: optionString(options, 'task_id') ?? randomUUID(),
    task: sig.task,
    args,
    kwargs: (sig.kwargs !== null && typeof sig.kwargs === 'object' && !Array.isArray(sig.kwargs)
      ? sig.kwargs
      : {}) as Record<string, unknown>,
    embed: { callbacks: null, errbacks: null, chain, chord: null },
    eta: typeof countdown === 'number' && countdown > 0 ? new Date(Date.now() + countdown * 1000) : null,
    rootId: parent.rootId ?? parent.id,
    parentId: parent.id,
    origin,
    replyTo: optionString(options, 'reply_to'),
    ...(priority !== undefined ? { priority } : {}),
    queue: route.queue,
    // A route through a named exchange: the client's publish resolves the exchange's bindings.
    ...(route.exchange && route.queue === '' ? { exchange: route.exchange, routingKey: route.routing_key ?? '' } : {}),
  };
}

/** A signature from the wire is only checked to be an object: refuse what cannot be sent. */
function usable(sig: Signature): boolean {
  return typeof sig.task === 'string' && sig.task !== '';
}

function argsWith(sig: Signature, first: unknown): unknown[] {
  const args = Array.isArray(sig.args) ? sig.args : [];
  return sig.immutable === true ? args : [first, ...args];
}

/** The link callbacks and next chain step of a task that returned `result`. */
export function successFollowUps(
  app: WorkerApp,
  message: TaskMessage,
  result: unknown,
  origin: string,
): OutgoingTask[] {
  const out: OutgoingTask[] = [];
  const embed = message.embed;
  if (embed.callbacks) {
    for (const sig of embed.callbacks) {
      if (usable(sig)) out.push(signatureMessage(app, sig, argsWith(sig, result), message, origin, null));
    }
  }
  const chain = embed.chain;
  if (chain && chain.length > 0) {
    const next = chain[chain.length - 1] as Signature;
    const rest = chain.slice(0, -1);
    if (usable(next)) out.push(signatureMessage(app, next, argsWith(next, result), message, origin, rest));
  }
  return out;
}

/** The republished message of a retry, shaped as Celery's (`k_retry.json`). */
export function retryMessage(message: TaskMessage, queue: string, eta: Date, origin: string): OutgoingTask {
  const originalOrigin = message.headers.origin;
  return {
    id: message.id,
    task: message.task,
    args: message.args,
    kwargs: message.kwargs,
    embed: message.embed,
    eta,
    expires: message.expires,
    retries: message.retries + 1,
    timelimit: message.timelimit,
    rootId: message.rootId ?? message.id,
    parentId: message.id,
    groupId: message.groupId,
    groupIndex: message.groupIndex,
    shadow: typeof message.headers.shadow === 'string' ? message.headers.shadow : null,
    ignoreResult: message.ignoreResult,
    origin,
    ...(message.replyTo ? { replyTo: message.replyTo } : {}),
    priority: message.priority,
    // Back to the list it came from, with the delivery_info it had (a Python worker retrying it
    // goes through the same exchange and routing key).
    queue,
    exchange: message.exchange,
    routingKey: message.routingKey || queue,
    serializer: message.serializer,
    extraProperties: {
      replaced_task_nesting: 0,
      origin: typeof originalOrigin === 'string' ? originalOrigin : origin,
    },
  };
}
