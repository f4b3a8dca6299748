import { AmqpError } from './amqp-errors.js';

/** kombu's `failover_strategy` names (Celery's `broker_failover_strategy`). */
export type FailoverStrategy = 'round-robin' | 'shuffle';

/** `broker_failover_strategy`: kombu's `round-robin` (the default) or `shuffle`; AMQP_URL_INVALID otherwise. */
export function parseFailoverStrategy(value: unknown): FailoverStrategy {
  if (value === undefined || value === null || value === 'round-robin') return 'round-robin';
  if (value === 'shuffle') return 'shuffle';
  throw new AmqpError(
    'AMQP_URL_INVALID',
    `broker_failover_strategy: must be "round-robin" or "shuffle" (kombu's strategies), got ${JSON.stringify(value)}`,
  );
}

/**
 * The order in which one connect attempt tries the URLs of a failover list: round-robin starts
 * at `start` (the one after the URL that was lost) and wraps around, as kombu's cycle does;
 * shuffle tries them in a random order each time.
 */
export function failoverOrder(
  count: number,
  strategy: FailoverStrategy,
  start: number,
  random: () => number = Math.random,
): number[] {
  const order = Array.from({ length: count }, (_, i) => (((start + i) % count) + count) % count);
  if (strategy === 'shuffle') {
    for (let i = order.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [order[i], order[j]] = [order[j] as number, order[i] as number];
    }
  }
  return order;
}
