import { raceTimeout, sleep } from '@celeriac/common';
import type { Logger } from '@celeriac/logger';
import { redactUrl } from '@celeriac/logger';
import { Redis } from 'ioredis';
import type { RedisTlsError } from './errors.js';
import { ioredisTargetOptions, nodeTlsOptions } from './ioredis-options.js';
import { parseRedisUrl, type RedisEndpoint } from './redis-url.js';
import { probeSentinelTls } from './sentinel-tls-probe.js';
import { tlsProblem } from './tls-problem.js';

/** How often a connection problem is logged at warn level at most; the rest go to debug. */
const ERROR_LOG_INTERVAL_MS = 5_000;
const CLOSED = 'Connection is closed.';
/** How long a failed TLS connect waits for the server's alert that says why (it may come on a later attempt, which a loaded machine delays: 2 s was seen too short). */
const TLS_ALERT_GRACE_MS = 5_000;

/**
 * Opens one ioredis connection for one role (commands, blocking pop, pub/sub) to any URL
 * {@link parseRedisUrl} reads: TCP, TLS (ioredis's `tls`), unix socket, Sentinel (ioredis's
 * `sentinels`: it asks them for the master and follows a failover), kombu's failover list (each
 * reconnect goes to the next URL, logged `redis.failover` at warn). Reconnects forever with a
 * capped backoff, except after a TLS failure no retry can cure (refused certificate, missing
 * client certificate): that is logged once (`redis.tls_refused`) and `connect()` rejects with a
 * `RedisTlsError` naming the URL. `connect()` rejects with the connection's own error (refused,
 * ENOENT, ...) rather than ioredis's "Connection is closed.". A command issued while Redis is down
 * fails after a few reconnect attempts. Auto-pipelining stays off: it delays batched fetches.
 * Logs `redis.connection_error` (warn at most every 5 s, debug otherwise) and `redis.state` (debug).
 * Throws `RedisUrlError` for a URL it cannot read and `RedisTlsError` for an unreadable cert file.
 */
export function createRedisConnection(url: string, role: string, logger: Logger): Redis {
  const shownUrl = redactUrl(url);
  const target = parseRedisUrl(url, { setting: 'the Redis URL' });
  const alternates = target.kind === 'failover' ? target.alternates.length : 1;
  const hasTls =
    target.kind === 'failover'
      ? target.alternates.some((alternate) => alternate.kind === 'tcp' && alternate.tls !== null)
      : target.kind !== 'socket' && target.tls !== null;
  let fatal: RedisTlsError | undefined;
  let lastError: Error | undefined;
  let lastFailoverWarnAt = 0;
  // Every switch is logged; while no server of the list answers, at warn level every 5 s at most.
  const onFailover = (fromUrl: string, toUrl: string) => {
    const now = Date.now();
    const level = now - lastFailoverWarnAt >= ERROR_LOG_INTERVAL_MS ? 'warn' : 'debug';
    if (level === 'warn') lastFailoverWarnAt = now;
    logger[level](
      { event: 'redis.failover', role, url: shownUrl, from: fromUrl, to: toUrl, err: lastError },
      `redis connection to ${fromUrl} failed or was lost; trying ${toUrl}`,
    );
  };
  const options = ioredisTargetOptions(target, { onFailover });
  const sentinelRetry = options.sentinelRetryStrategy;
  if (sentinelRetry) options.sentinelRetryStrategy = (times) => (fatal ? null : sentinelRetry(times));
  const redis = new Redis({
    ...options,
    lazyConnect: true,
    connectionName: `celeriac-${role}`,
    enableAutoPipelining: false,
    // CLIENT SETINFO reads ioredis's package.json and costs a round trip per connect; start-up matters more.
    disableClientInfo: true,
    maxRetriesPerRequest: 3,
    retryStrategy: (times) => (fatal ? null : Math.min(50 * times, 1_000)),
  });
  if (target.socketKeepalive === false) {
    // ioredis turns keep-alive on at every connect (it fills keepAlive: 0 in); socket_keepalive=false turns it off.
    redis.on('connect', () => redis.stream?.setKeepAlive(false));
  }
  let lastWarnAt = 0;
  /** Makes a TLS failure fatal (logged once); true when `err` is one. */
  const refuse = (err: unknown, where = shownUrl): boolean => {
    if (fatal) return true;
    fatal = tlsProblem(err, where);
    if (!fatal) return false;
    logger.error({ event: 'redis.tls_refused', role, url: shownUrl, err: fatal }, 'TLS to Redis refused; not retrying');
    return true;
  };
  let probing: Promise<void> | undefined;
  /** With TLS to the sentinels, finds out once why none answers (ioredis does not say). */
  const probeSentinels = (err: Error) => {
    if (probing || fatal || target.kind !== 'sentinel' || !target.sentinelTls) return;
    if (!err.message.startsWith('All sentinels are unreachable')) return;
    const sentinel = target.sentinels[0] as RedisEndpoint;
    probing = probeSentinelTls(sentinel, nodeTlsOptions(target.sentinelTls)).then((error) => {
      if (error) refuse(error, `the sentinel ${sentinel.host}:${sentinel.port} (sentinel_kwargs TLS) of ${shownUrl}`);
    });
  };
  redis.on('error', (err: Error) => {
    lastError = err;
    probeSentinels(err);
    // ioredis listens once per socket, but a TLS socket can fail twice (a reset, then the server's
    // alert saying why): take the later errors too, instead of crashing on an unheard one.
    const stream = redis.stream as (typeof redis.stream & { celeriacGuarded?: boolean }) | undefined;
    if (stream && !stream.celeriacGuarded) {
      stream.celeriacGuarded = true;
      stream.on('error', (later: Error) => {
        if (later !== err && refuse(later)) lastError = later;
      });
    }
    if (refuse(err)) return;
    const now = Date.now();
    const fields = { event: 'redis.connection_error', role, url: shownUrl, err } as const;
    if (now - lastWarnAt >= ERROR_LOG_INTERVAL_MS) {
      lastWarnAt = now;
      logger.warn(fields, 'redis connection problem, reconnecting');
    } else {
      logger.debug(fields, 'redis connection problem, reconnecting');
    }
  });
  const connect = redis.connect.bind(redis);
  redis.connect = (callback?: () => void) => {
    lastError = undefined;
    return connect(callback).catch(async (error: unknown) => {
      const code = (lastError as NodeJS.ErrnoException | undefined)?.code;
      // A server refusing a TLS client resets the socket; its alert saying why comes on that
      // socket or on one of the next attempts (ioredis goes on reconnecting meanwhile).
      if (!fatal && hasTls && (code === 'ECONNRESET' || code === 'EPIPE')) {
        for (let waited = 0; !fatal && waited < TLS_ALERT_GRACE_MS; waited += 50) await sleep(50);
      }
      if (probing) await probing;
      // A failover list: ioredis is already reconnecting to the next URL; give each one its try.
      if (!fatal && alternates > 1 && (await readyWithin(redis, alternates - 1))) return;
      if (fatal) throw fatal;
      if (error instanceof Error && error.message === CLOSED && lastError) throw lastError;
      throw error;
    });
  };
  // ioredis's own states: connecting → connect → ready, then reconnecting / close / end.
  for (const state of ['ready', 'reconnecting', 'end'] as const) {
    redis.on(state, () =>
      logger.debug({ event: 'redis.state', role, url: shownUrl, state }, `redis connection ${state}`),
    );
  }
  return redis;
}

/** Whether the connection gets ready before `closes` more connect attempts fail (or it ends). */
function readyWithin(redis: Redis, closes: number): Promise<boolean> {
  if (redis.status === 'ready') return Promise.resolve(true);
  return new Promise((resolve) => {
    let left = closes;
    const done = (ready: boolean) => {
      redis.off('ready', onReady);
      redis.off('close', onClose);
      redis.off('end', onEnd);
      resolve(ready);
    };
    const onReady = () => done(true);
    const onClose = () => {
      left -= 1;
      if (left <= 0) done(false);
    };
    const onEnd = () => done(false);
    redis.on('ready', onReady);
    redis.on('close', onClose);
    redis.on('end', onEnd);
  });
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
