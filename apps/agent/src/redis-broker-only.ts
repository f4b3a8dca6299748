import type { Logger } from '@celeriac/logger';
import { REDIS_URL_SCHEMES, urlScheme } from '@celeriac/redis-connection';

/**
 * Whether `brokerUrl` names a Redis broker (the first URL of a `;` list decides). The agent's
 * restore of a dead worker's tasks speaks Redis only: on RabbitMQ (`amqp://`) the broker itself
 * gives a closed connection's unacked messages back. The pidbox probe and the reads of Celery task
 * events speak Redis and RabbitMQ; fleet limits live on the broker's Redis, or on RabbitMQ in the
 * result backend's Redis (fleet-limits-publisher.ts).
 */
export function isRedisBrokerUrl(brokerUrl: string): boolean {
  const scheme = urlScheme(brokerUrl.trim());
  return scheme !== undefined && (REDIS_URL_SCHEMES as readonly string[]).includes(scheme);
}

/**
 * Says once per broker scheme that a duty is skipped on a broker it does not speak,
 * so the skip is never silent and never floods the log (a crash loop would log it per exit).
 */
export class NotRedisNotice {
  private readonly said = new Set<string>();

  constructor(
    private readonly logger: Logger,
    private readonly event: `${string}.${string}`,
    private readonly message: (scheme: string) => string,
  ) {}

  /** Logs the notice (info) for `brokerUrl`'s scheme unless it was said already. */
  note(brokerUrl: string): void {
    const scheme = urlScheme(brokerUrl.trim()) ?? 'unknown';
    if (this.said.has(scheme)) return;
    this.said.add(scheme);
    this.logger.info({ event: this.event, scheme }, this.message(scheme));
  }
}
