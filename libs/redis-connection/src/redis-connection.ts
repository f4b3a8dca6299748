import { raceTimeout } from '@celeriac/common';
import type { Logger } from '@celeriac/logger';
import { redactUrl } from '@celeriac/logger';
import { Redis } from 'ioredis';

/** How often a connection problem is logged at warn level at most; the rest go to debug. */
const ERROR_LOG_INTERVAL_MS = 5_000;

/**
 * Opens one ioredis connection for one role (commands, blocking pop, pub/sub). Reconnects forever
 * with a capped backoff; a command issued while Redis is down fails after a few reconnect attempts
 * instead of waiting forever. Auto-pipelining stays off: it delays batched fetches to the next tick.
 * Logs `redis.connection_error` (warn at most every 5 s, debug otherwise) and `redis.state` (debug).
 */
export function createRedisConnection(url: string, role: string, logger: Logger): Redis {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectionName: `celeriac-${role}`,
    enableAutoPipelining: false,
    // CLIENT SETINFO reads ioredis's package.json and costs a round trip per connect; start-up matters more.
    disableClientInfo: true,
    maxRetriesPerRequest: 3,
    retryStrategy: (times) => Math.min(50 * times, 1_000),
  });
  const shownUrl = redactUrl(url);
  let lastWarnAt = 0;
  redis.on('error', (err: Error) => {
    const now = Date.now();
    const fields = { event: 'redis.connection_error', role, url: shownUrl, err } as const;
    if (now - lastWarnAt >= ERROR_LOG_INTERVAL_MS) {
      lastWarnAt = now;
      logger.warn(fields, 'redis connection problem, reconnecting');
    } else {
      logger.debug(fields, 'redis connection problem, reconnecting');
    }
  });
  // ioredis's own states: connecting → connect → ready, then reconnecting / close / end.
  for (const state of ['ready', 'reconnecting', 'end'] as const) {
    redis.on(state, () =>
      logger.debug({ event: 'redis.state', role, url: shownUrl, state }, `redis connection ${state}`),
    );
  }
  return redis;
}

/** Closes a connection politely when it is up, at once otherwise; never throws. */
export async function closeRedisConnection(redis: Redis, timeoutMs = 1_000): Promise<void> {
  if (redis.status === 'ready') {
    // The socket is torn down below either way: a failed or slow QUIT only ends the wait.
    await raceTimeout(
      redis.quit().catch(() => undefined),
      timeoutMs,
    );
  }
  redis.disconnect(false);
}
