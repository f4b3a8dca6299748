import type { Logger } from '@celeriac/logger';
import { redactSecrets, redactUrl } from '@celeriac/logger';
import { Redis } from 'ioredis';

/** How often a connection problem is logged at warn level at most; the rest go to debug. */
const ERROR_LOG_INTERVAL_MS = 5_000;

/**
 * Opens one ioredis connection for one role (commands, blocking pop, pub/sub). Reconnects forever
 * with a capped backoff; a command issued while Redis is down fails after a few reconnect attempts
 * instead of waiting forever. Auto-pipelining stays off: it delays batched fetches to the next tick.
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
  let lastWarnAt = 0;
  redis.on('error', (error: Error) => {
    const now = Date.now();
    const fields = { role, url: redactUrl(url), err: redactSecrets(error.message) };
    if (now - lastWarnAt >= ERROR_LOG_INTERVAL_MS) {
      lastWarnAt = now;
      logger.warn(fields, 'redis connection problem, reconnecting');
    } else {
      logger.debug(fields, 'redis connection problem, reconnecting');
    }
  });
  return redis;
}

/** Closes a connection politely when it is up, at once otherwise; never throws. */
export async function closeRedisConnection(redis: Redis, timeoutMs = 1_000): Promise<void> {
  if (redis.status === 'ready') {
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([
        redis.quit(),
        new Promise((resolve) => {
          timer = setTimeout(resolve, timeoutMs);
        }),
      ]);
    } catch {
      // The socket is being torn down below either way.
    } finally {
      clearTimeout(timer);
    }
  }
  redis.disconnect(false);
}
