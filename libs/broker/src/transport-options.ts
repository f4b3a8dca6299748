import { BrokerArgumentError } from './errors.js';

/** kombu's `queue_order_strategy`: the order in which a consumer reads its queues. */
export type QueueOrderStrategy = 'round_robin' | 'priority' | 'sorted';

/** The strategies kombu's `cycle_by_name` knows. */
export const QUEUE_ORDER_STRATEGIES: readonly QueueOrderStrategy[] = ['round_robin', 'priority', 'sorted'];

/** kombu's Redis transport options that shape key names and reading order (`broker_transport_options`). */
export interface TransportOptions {
  /** Between a queue and its priority step, and inside binding members; kombu's default `\x06\x16`. */
  sep: string;
  /** Ascending priority steps; a message goes to the largest step ≤ its priority (kombu's `bisect`). Default [0, 3, 6, 9]. */
  prioritySteps: readonly number[];
  /** round_robin (default): the queue that delivered goes last; priority: always the order given; sorted: by name. */
  queueOrderStrategy: QueueOrderStrategy;
  /** Prepended to every Redis key (kombu 5.2.3+'s `global_keyprefix`); '' = none. */
  globalKeyPrefix: string;
}

/** kombu 5.2's defaults. */
export const DEFAULT_TRANSPORT_OPTIONS: Readonly<TransportOptions> = Object.freeze({
  sep: '\x06\x16',
  prioritySteps: Object.freeze([0, 3, 6, 9]),
  queueOrderStrategy: 'round_robin',
  globalKeyPrefix: '',
});

/** Defaults applied and values checked (throws BROKER_BAD_ARGUMENT naming the option). */
export function resolveTransportOptions(o: Partial<TransportOptions> = {}): TransportOptions {
  const sep = o.sep ?? DEFAULT_TRANSPORT_OPTIONS.sep;
  if (typeof sep !== 'string' || sep === '') {
    throw new BrokerArgumentError(`transport option sep must be a non-empty string, got ${JSON.stringify(sep)}`);
  }
  const steps = o.prioritySteps ?? DEFAULT_TRANSPORT_OPTIONS.prioritySteps;
  if (
    !Array.isArray(steps) ||
    steps.length === 0 ||
    steps.some((s, i) => !Number.isInteger(s) || s < 0 || (i > 0 && s <= (steps[i - 1] as number)))
  ) {
    throw new BrokerArgumentError(
      `transport option priority_steps must be a non-empty ascending list of integers ≥ 0, got ${JSON.stringify(steps)}`,
    );
  }
  const strategy = o.queueOrderStrategy ?? DEFAULT_TRANSPORT_OPTIONS.queueOrderStrategy;
  if (!QUEUE_ORDER_STRATEGIES.includes(strategy)) {
    throw new BrokerArgumentError(
      `transport option queue_order_strategy must be one of ${QUEUE_ORDER_STRATEGIES.join(', ')}, got ${JSON.stringify(strategy)}`,
    );
  }
  const prefix = o.globalKeyPrefix ?? '';
  if (typeof prefix !== 'string') {
    throw new BrokerArgumentError(`transport option global_keyprefix must be a string, got ${JSON.stringify(prefix)}`);
  }
  return { sep, prioritySteps: [...steps], queueOrderStrategy: strategy, globalKeyPrefix: prefix };
}

/**
 * kombu's `Channel.priority(n)`: `steps[bisect(steps, n) - 1]` with the priority clamped to 0–9
 * first (`_get_message_priority`). Below the first step Python's index -1 picks the last step, and
 * so does this.
 */
export function priorityStepOf(steps: readonly number[], priority: number): number {
  const p = Math.max(0, Math.min(9, Math.trunc(Number.isFinite(priority) ? priority : 0)));
  let i = 0;
  while (i < steps.length && (steps[i] as number) <= p) i++;
  return i === 0 ? (steps[steps.length - 1] as number) : (steps[i - 1] as number);
}

/**
 * kombu's `global_keyprefix` from Celery settings (`broker_transport_options.global_keyprefix`),
 * '' when unset, for the programs that touch broker keys beside RedisBroker (control, events,
 * fleet limits, the agent's restores, the CLI). Throws BROKER_BAD_ARGUMENT when it is not a string.
 */
export function globalKeyPrefixFromSettings(settings: Readonly<Record<string, unknown>>): string {
  const transport = settings.broker_transport_options;
  if (transport === null || typeof transport !== 'object' || Array.isArray(transport)) return '';
  const prefix = (transport as Record<string, unknown>).global_keyprefix;
  if (prefix === undefined || prefix === null) return '';
  return resolveTransportOptions({ globalKeyPrefix: prefix as string }).globalKeyPrefix;
}
