import type { RedisFailoverStrategy, RedisSocketTarget, RedisTarget, RedisTcpTarget } from './redis-target.js';
import type { RedisUrlContext } from './redis-url-context.js';
import { failRedisUrl } from './redis-url-failure.js';
import type { UrlChunk } from './url-chunk.js';

/** Read in the query of a failover list's URLs (formatRedisTarget writes broker_failover_strategy there). */
export const FAILOVER_STRATEGY_KEY = 'failover_strategy';

function failoverStrategy(
  context: RedisUrlContext,
  chunks: readonly UrlChunk[],
  setting: string,
): RedisFailoverStrategy {
  const fromQuery =
    chunks.map((chunk) => chunk.query.get(FAILOVER_STRATEGY_KEY)).find((value) => value !== null) ?? undefined;
  const where = fromQuery === undefined ? (context.failoverStrategySetting ?? 'broker_failover_strategy') : setting;
  const value = fromQuery ?? context.failoverStrategy;
  if (value === undefined || value === null) return 'round-robin';
  if (value !== 'round-robin' && value !== 'shuffle') {
    failRedisUrl(where, `must be "round-robin" or "shuffle" (kombu's strategies), got ${JSON.stringify(value)}`);
  }
  return value;
}

const SHARED_NAMES: Record<string, string> = {
  db: 'database number',
  connectTimeoutMs: 'socket_connect_timeout',
  socketTimeoutMs: 'socket_timeout',
  socketKeepalive: 'socket_keepalive',
};

/**
 * kombu's failover list of plain Redis URLs: each read as one URL with the same settings, and all
 * made to agree on what one ioredis connection keeps across servers (login, database, timeouts).
 * `readInList` reads one URL of the list (parseRedisUrl's reader, passed in to keep the imports one-way).
 */
export function failoverTarget(
  setting: string,
  texts: string[],
  chunks: UrlChunk[],
  context: RedisUrlContext,
  readInList: (text: string) => RedisTarget,
): RedisTarget {
  const strategy = failoverStrategy(context, chunks, setting);
  const alternates = texts.map((text, i) => {
    const one = readInList(text);
    if (one.kind !== 'tcp' && one.kind !== 'socket')
      failRedisUrl(setting, `URL ${i + 1} of the list cannot be used in a failover list`);
    return one;
  });
  const first = alternates[0] as RedisTcpTarget | RedisSocketTarget;
  const shared = ['username', 'password', 'db', 'connectTimeoutMs', 'socketTimeoutMs', 'socketKeepalive'] as const;
  alternates.forEach((one, i) => {
    for (const key of shared) {
      if (one[key] !== first[key]) {
        const what = key === 'username' || key === 'password' ? 'user and password' : SHARED_NAMES[key];
        failRedisUrl(
          setting,
          `URL ${i + 1} of the failover list gives another ${what} than the first; every URL of a list must give the same (Celeriac keeps one login and database per connection)`,
        );
      }
    }
  });
  const target: RedisTarget = { kind: 'failover', alternates, strategy, db: first.db };
  for (const key of shared) {
    if (first[key] !== undefined) Object.assign(target, { [key]: first[key] });
  }
  return target;
}
