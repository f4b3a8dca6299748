import type { Logger } from '@celeriac/logger';
import { REDIS_URL_SCHEMES, urlScheme } from '@celeriac/redis-connection';

/**
 * Whether `brokerUrl` names a Redis broker (the first URL of a `;` list decides). The agent's
 * restore of a dead worker's tasks, its pidbox probe and its reads of Celery task events speak
 * Redis; on RabbitMQ (`amqp://`) the broker itself gives a closed connection's unacked messages
 * back, and the probe and event reads are not wired to AMQP yet.
 */
export function isRedisBrokerUrl(brokerUrl: string): boolean {
  const scheme = urlScheme(brokerUrl.trim());
  return scheme !== undefined && (REDIS_URL_SCHEMES as readonly string[]).includes(scheme);
}

/**
 * Says once per broker scheme that a Redis-only duty is skipped on a broker that is not Redis,
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
