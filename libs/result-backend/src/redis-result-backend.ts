import type { Logger } from '@celeriac/logger';
import {
  DOCUMENT_SERIALIZER,
  decodeResultBytes,
  encodeResult,
  encodeResultDocument,
  RESULT_SERIALIZERS,
  ResultDecodeError,
  type ResultDocument,
  resultSerializerOf,
  type Serializer,
  serializerAccepted,
  sniffResultSerializer,
} from '@celeriac/protocol';
import { closeRedisConnection, createRedisConnection } from '@celeriac/redis-connection';
import type { Redis } from 'ioredis';
import { RESULT_BACKEND_RETRY_DEFAULTS, type ResultBackendRetry, withBackendRetry } from './backend-retry.js';
import {
  type ChordPart,
  countChordPart,
  deleteChordKeys,
  encodeChordPart,
  groupKey,
  type ResultTuple,
  readChordParts,
  restoreGroup,
  saveGroup,
  setChordSize,
} from './chord-store.js';
import {
  ResultBackendArgumentError,
  ResultBackendClosedError,
  ResultBackendError,
  ResultBackendUnavailableError,
  ResultContentDisallowedError,
} from './errors.js';
import { RESULT_KEY_PREFIX, resultKey } from './keys.js';
import { isFinal, ResultWaiters, type Waiter } from './result-waiters.js';
import { defineResultScripts, type ResultBackendScripts } from './scripts/load-scripts.js';

/** Options of {@link RedisResultBackend}. */
export interface ResultBackendOptions {
  /** `redis://[:password@]host:port/db` */
  url: string;
  logger: Logger;
  /** TTL of stored results (Celery's `result_expires`); default 1 day, 0 = keep forever. */
  resultExpiresSec?: number;
  /**
   * Celery's `result_serializer`: what stored documents are written in, `json` (default) or
   * `msgpack`; anything else throws `SerializerUnsupportedError` (PROTOCOL_SERIALIZER_UNSUPPORTED).
   * A document that carries `DOCUMENT_SERIALIZER` is written in that one instead.
   */
  serializer?: unknown;
  /**
   * The serializers a read document may be in (Celery's `result_accept_content`, or
   * `accept_content` when it is unset; names or content types). Reads find the serializer from the
   * stored bytes, so json and msgpack documents are both read; one not accepted is refused with a
   * `ResultContentDisallowedError`. Default: json and msgpack.
   */
  acceptContent?: readonly string[];
  /**
   * Celery's `result_backend_always_retry` and co: stores and reads (`storeMany`, `get`,
   * `getMany`, as Celery's `store_result` / `get_task_meta`) that fail because Redis did not
   * serve them are tried again with backoff. Default: off.
   */
  retry?: Partial<ResultBackendRetry>;
}

/** Options of one `waitFor` call. */
export interface WaitForOptions {
  /** Called with each non-final document (RETRY, STARTED, custom states) published while waiting. */
  onUpdate?: (doc: ResultDocument) => void;
}

type State = 'created' | 'started' | 'closed';

/** Reads of the waited-for keys after a reconnect before a failure reaches the waiters (~8 s in all). */
const REREAD_ATTEMPTS = 12;

/**
 * Celery's Redis result backend: `celery-task-meta-<id>` documents with an expiry, every write also
 * PUBLISHed on the key's channel. Waiters share one subscriber connection and one SUBSCRIBE per task.
 */
export class RedisResultBackend {
  private state: State = 'created';
  private commands: (Redis & ResultBackendScripts) | undefined;
  private subscriber: Redis | undefined;
  private closing: Promise<void> | undefined;
  private readonly url: string;
  private readonly logger: Logger;
  private readonly expiresArg: string;
  private readonly serializer: Serializer;
  private readonly accept: readonly string[];
  private readonly accepted: Record<Serializer, boolean>;
  private readonly waiters: ResultWaiters;
  private rereadTimer: NodeJS.Timeout | undefined;
  private readonly retry: ResultBackendRetry;

  constructor(options: ResultBackendOptions) {
    this.url = options.url;
    this.retry = { ...RESULT_BACKEND_RETRY_DEFAULTS, ...options.retry };
    this.logger = options.logger;
    const expires = options.resultExpiresSec ?? 86_400;
    if (!Number.isFinite(expires)) {
      throw new ResultBackendArgumentError(`resultExpiresSec must be a number of seconds, got ${expires}`);
    }
    this.expiresArg = String(Math.max(0, Math.round(expires)));
    this.serializer = resultSerializerOf(options.serializer);
    const accept = options.acceptContent ?? RESULT_SERIALIZERS;
    if (!Array.isArray(accept) || accept.some((entry) => typeof entry !== 'string')) {
      throw new ResultBackendArgumentError(
        `acceptContent must be a list of serializer names or content types, got ${JSON.stringify(accept)}`,
      );
    }
    this.accept = accept;
    this.accepted = { json: serializerAccepted('json', accept), msgpack: serializerAccepted('msgpack', accept) };
    this.waiters = new ResultWaiters(
      (channel) => {
        // A retry (result_backend_always_retry) stops once nobody waits on the channel any more.
        let attempts = 0;
        return this.retried('waitFor', () =>
          attempts++ > 0 && !this.waiters.has(channel)
            ? Promise.resolve(null)
            : this.run('waitFor', () => this.subscriber!.subscribe(channel)),
        );
      },
      (channel) => {
        this.subscriber?.unsubscribe(channel).catch(() => undefined);
      },
    );
  }

  /** Connects the command and subscriber connections. */
  async start(): Promise<void> {
    if (this.state === 'started') return;
    if (this.state === 'closed') throw new ResultBackendClosedError('start', 'closed');
    const commands = defineResultScripts(createRedisConnection(this.url, 'result-backend', this.logger));
    const subscriber = createRedisConnection(this.url, 'result-backend-sub', this.logger);
    // Buffers: a msgpack document is bytes, not text.
    subscriber.on('messageBuffer', (channel: Buffer, message: Buffer) => this.onMessage(channel.toString(), message));
    let connectedOnce = false;
    subscriber.on('ready', () => {
      // A result published while the subscriber was reconnecting would be missed: read them again.
      if (connectedOnce) this.reread(0);
      connectedOnce = true;
    });
    try {
      await Promise.all([commands.connect(), subscriber.connect()]);
    } catch (error) {
      commands.disconnect(false);
      subscriber.disconnect(false);
      throw new ResultBackendUnavailableError(this.url, 'start', error);
    }
    this.commands = commands;
    this.subscriber = subscriber;
    this.setState('started');
  }

  /** Fails pending waiters with a closed error and closes both connections. Idempotent. */
  close(): Promise<void> {
    if (!this.closing) this.closing = this.doClose();
    return this.closing;
  }

  private setState(state: State): void {
    const from = this.state;
    this.state = state;
    this.logger.debug({ event: 'result_backend.state', from, state }, `result backend ${state}`);
  }

  private async doClose(): Promise<void> {
    const wasStarted = this.state === 'started';
    this.setState('closed');
    clearTimeout(this.rereadTimer);
    if (!wasStarted) return;
    for (const channel of this.waiters.channelNames()) {
      this.waiters.fail(channel, new ResultBackendClosedError('waitFor', 'closed'));
    }
    this.subscriber?.disconnect(false);
    if (this.commands) await closeRedisConnection(this.commands);
  }

  /** SETEX `celery-task-meta-<id>` and PUBLISH the same document on that channel, atomically. */
  async store(doc: ResultDocument): Promise<void> {
    await this.storeMany([doc]);
  }

  /** Stores and publishes many documents in one script call. */
  async storeMany(docs: readonly ResultDocument[]): Promise<void> {
    const redis = this.connection('storeMany');
    if (docs.length === 0) return;
    const args: (string | Buffer)[] = [this.expiresArg, RESULT_KEY_PREFIX];
    for (const doc of docs) {
      if (!doc.task_id) throw new ResultBackendArgumentError('a result document needs a task_id to be stored');
      const serializer = doc[DOCUMENT_SERIALIZER] ?? this.serializer;
      // The JSON path stays the direct call: it is the worker's hot path.
      args.push(doc.task_id, serializer === 'json' ? encodeResult(doc) : encodeResultDocument(doc, serializer));
    }
    await this.retried('storeMany', () => this.run('storeMany', () => redis.storeMany(0, ...args)));
  }

  /**
   * The stored document (json or msgpack), or null when there is none (PENDING, expired or
   * forgotten). Throws `ResultContentDisallowedError` when its serializer is not accepted.
   */
  async get(taskId: string): Promise<ResultDocument | null> {
    const redis = this.connection('get');
    const raw = await this.retried('get', () => this.run('get', () => redis.getBuffer(resultKey(taskId))));
    return raw === null ? null : this.decode(raw, taskId);
  }

  /**
   * The `status` of each task's stored document (null: none, or unreadable), in one MGET on the
   * connection that `storeMany` writes on, so it sees every document stored through this backend
   * before the call. The worker's duplicate check reads it for redelivered messages only. Statuses
   * are read whatever `acceptContent` says (no content is handed out).
   */
  async storedStates(taskIds: readonly string[]): Promise<(string | null)[]> {
    const redis = this.connection('storedStates');
    if (taskIds.length === 0) return [];
    const raws = await this.run('storedStates', () => redis.mgetBuffer(...taskIds.map(resultKey)));
    return raws.map((raw, i) => {
      if (raw === null) return null;
      const serializer = sniffResultSerializer(raw);
      if (serializer === undefined) return null;
      try {
        const status = decodeResultBytes(raw, serializer, taskIds[i] as string).status;
        return typeof status === 'string' ? status : null;
      } catch {
        return null;
      }
    });
  }

  /** Decodes stored bytes: the serializer is read from them, then checked against `acceptContent`. */
  private decode(raw: Buffer, taskId: string): ResultDocument {
    const serializer = sniffResultSerializer(raw);
    if (serializer === undefined) {
      throw new ResultDecodeError(`stored result of task ${taskId} is neither a JSON object nor a msgpack map`);
    }
    if (!this.accepted[serializer]) throw new ResultContentDisallowedError(taskId, serializer, this.accept);
    return decodeResultBytes(raw, serializer, taskId);
  }

  /** Deletes a stored result. */
  async forget(taskId: string): Promise<void> {
    const redis = this.connection('forget');
    await this.retried('forget', () => this.run('forget', () => redis.del(resultKey(taskId))));
  }

  /** Reads many stored documents in one MGET; a missing one (PENDING) is null. */
  async getMany(taskIds: readonly string[]): Promise<(ResultDocument | null)[]> {
    const redis = this.connection('getMany');
    if (taskIds.length === 0) return [];
    const raws = await this.retried('getMany', () =>
      this.run('getMany', () => redis.mgetBuffer(...taskIds.map(resultKey))),
    );
    return raws.map((raw, i) => (raw === null ? null : this.decode(raw, taskIds[i] as string)));
  }

  /** Celery's `set_chord_size`: the number of header parts a chord waits for (`celery-taskset-meta-<gid>.s`). */
  async setChordSize(groupId: string, size: number): Promise<void> {
    const redis = this.connection('setChordSize');
    await this.retried('setChordSize', () =>
      this.run('setChordSize', () => setChordSize(redis, groupId, size, Number(this.expiresArg))),
    );
  }

  /**
   * Celery 5.2's `on_chord_part_return` on Redis: counts one header part (its result encoded in
   * the result serializer) and, when it is the last one, returns every part in group-index order
   * and the saved header GroupResult if `apply_chord` saved one. The caller sends the body, then
   * calls `deleteChord`. `complete: false` with `total: null` means no chord size is stored.
   */
  async chordPartReturn(
    groupId: string,
    groupIndex: number | null,
    part: ChordPart,
  ): Promise<{
    complete: boolean;
    ready: number;
    total: number | null;
    parts: ChordPart[];
    saved: ResultTuple | null;
  }> {
    const redis = this.connection('chordPartReturn');
    return this.run('chordPartReturn', async () => {
      const encoded = encodeChordPart(part, this.serializer);
      const count = await countChordPart(redis, groupId, groupIndex, encoded, Number(this.expiresArg));
      if (count.total === null || count.ready !== count.total) {
        return { complete: false, ready: count.ready, total: count.total, parts: [], saved: null };
      }
      const saved = await restoreGroup(redis, groupId);
      const parts = await readChordParts(redis, groupId);
      return { complete: true, ready: count.ready, total: count.total, parts, saved };
    });
  }

  /** Deletes a chord's counters (`.j`, `.t`, `.s`) once its body was sent. */
  async deleteChord(groupId: string): Promise<void> {
    const redis = this.connection('deleteChord');
    await this.retried('deleteChord', () => this.run('deleteChord', () => deleteChordKeys(redis, groupId)));
  }

  /** `GroupResult.save()`: stores `celery-taskset-meta-<gid>` = `{"result": <as_tuple>}`. */
  async saveGroup(groupId: string, tuple: ResultTuple): Promise<void> {
    const redis = this.connection('saveGroup');
    await this.retried('saveGroup', () =>
      this.run('saveGroup', () => saveGroup(redis, groupId, tuple, this.serializer, Number(this.expiresArg))),
    );
  }

  /** `GroupResult.restore()`: the saved tuple of a group, or null. */
  async restoreGroup(groupId: string): Promise<ResultTuple | null> {
    const redis = this.connection('restoreGroup');
    return this.retried('restoreGroup', () => this.run('restoreGroup', () => restoreGroup(redis, groupId)));
  }

  /** `GroupResult.delete()`: removes the saved group. */
  async deleteGroup(groupId: string): Promise<void> {
    const redis = this.connection('deleteGroup');
    await this.retried('deleteGroup', () => this.run('deleteGroup', () => redis.del(groupKey(groupId))));
  }

  /**
   * Resolves with the first final document (SUCCESS, FAILURE, REVOKED) of a task, or null after
   * `timeoutMs`. Subscribes first and then reads the key, so a result stored before the call is seen
   * too. Non-final states go to `options.onUpdate` and the wait goes on.
   */
  waitFor(taskId: string, timeoutMs: number, options: WaitForOptions = {}): Promise<ResultDocument | null> {
    try {
      this.connection('waitFor');
    } catch (error) {
      return Promise.reject(error);
    }
    const channel = resultKey(taskId);
    return new Promise<ResultDocument | null>((resolve, reject) => {
      const waiter: Waiter = { resolve, reject, onUpdate: options.onUpdate, timer: undefined };
      const fresh = !this.waiters.has(channel);
      const entry = this.waiters.add(channel, waiter);
      if (Number.isFinite(timeoutMs)) {
        waiter.timer = setTimeout(
          () => {
            this.waiters.remove(channel, waiter);
            resolve(null);
          },
          Math.max(0, timeoutMs),
        );
      }
      // Read the key beside the SUBSCRIBE (a lone task's result is often stored before the subscription
      // is: found a round trip sooner), and again once subscribed, for a result published in between.
      if (fresh) void this.check(channel);
      entry.subscribed.then(
        () => (this.waiters.has(channel) ? this.check(channel) : undefined),
        (error: unknown) => this.waiters.fail(channel, this.wrap('waitFor', error)),
      );
    });
  }

  /** The latest non-final document seen for a task that is being waited for. */
  latestUpdate(taskId: string): ResultDocument | undefined {
    return this.waiters.latest(resultKey(taskId));
  }

  /**
   * Reads the key of a channel that has waiters and hands a found document to them. A failed read
   * fails the waiters, or, when `onError` is given, goes to it instead; but when the subscriber
   * connection is down too (Redis went away), the waiters keep waiting: the subscriber's reconnect
   * reads every waited-for key again (`reread`), which fails them only if Redis does not serve it.
   */
  private async check(channel: string, onError?: (error: ResultBackendError) => void): Promise<void> {
    if (this.state !== 'started') return;
    const before = this.waiters.deliveredCount(channel);
    try {
      let attempts = 0;
      const raw = await this.retried('waitFor', () =>
        attempts++ > 0 && !this.waiters.has(channel)
          ? Promise.resolve(null)
          : this.run('waitFor', () => this.commands!.getBuffer(channel)),
      );
      if (raw !== null) this.onMessage(channel, raw, before);
    } catch (error) {
      if (onError) onError(this.wrap('waitFor', error));
      else if (this.state === 'started' && this.subscriber?.status !== 'ready') {
        this.logger.debug(
          { event: 'result_backend.read_deferred', channel, err: error },
          'could not read a waited-for result while Redis is away; it is read again once the subscriber is back',
        );
      } else this.waiters.fail(channel, this.wrap('waitFor', error));
    }
  }

  /**
   * After the subscriber reconnected, reads every waited-for key again. Right after a Redis restart
   * a read can fail while the command connection catches up: the waiters keep waiting and the reads
   * are tried again (100 ms, doubling to 1 s); after the last attempt the read's error fails them.
   */
  private reread(attempt: number): void {
    const last = attempt + 1 >= REREAD_ATTEMPTS;
    let failed = false;
    const onError = (channel: string, err: ResultBackendError) => {
      if (last) return this.waiters.fail(channel, err);
      if (failed || this.state !== 'started') return;
      failed = true;
      const retryInMs = Math.min(100 * 2 ** attempt, 1_000);
      const fields = { event: 'result_backend.reread_failed', attempt, retry_in_ms: retryInMs, err } as const;
      if (attempt === 0) this.logger.warn(fields, 'could not read results again after a reconnect; retrying');
      else this.logger.debug(fields, 'could not read results again after a reconnect; retrying');
      clearTimeout(this.rereadTimer);
      this.rereadTimer = setTimeout(() => this.reread(attempt + 1), retryInMs);
    };
    for (const channel of this.waiters.channelNames()) void this.check(channel, (err) => onError(channel, err));
  }

  /**
   * Hands a published or read document to the channel's waiters. `readAfter` (reads only): the
   * delivered count when the read was sent; a non-final document read while a message arrived is
   * older than (or the same as) that message and is dropped. A document equal to the last one
   * delivered is not news either way: a read can overtake the message of the same store, so the
   * message then comes second.
   */
  private onMessage(channel: string, message: Buffer, readAfter?: number): void {
    if (this.waiters.lastRaw(channel)?.equals(message)) return;
    let doc: ResultDocument;
    try {
      doc = this.decode(message, channel.slice(RESULT_KEY_PREFIX.length));
    } catch (err) {
      if (err instanceof ResultContentDisallowedError) {
        // Waiting on would only time out: the waiters get the reason now.
        if (!this.waiters.has(channel)) return;
        this.logger.warn(
          { event: 'result_backend.content_disallowed', channel, serializer: err.serializer, err },
          'refusing a result stored in a serializer that is not accepted',
        );
        this.waiters.fail(channel, err);
        return;
      }
      this.logger.warn(
        { event: 'result_backend.bad_message', channel, err },
        'ignoring a result message that is not a result',
      );
      return;
    }
    if (readAfter !== undefined && readAfter !== this.waiters.deliveredCount(channel) && !isFinal(doc)) return;
    if (!isFinal(doc)) {
      this.logger.debug({ event: 'result_backend.update', task_id: doc.task_id, status: doc.status }, 'result update');
    }
    this.waiters.deliver(channel, doc, message);
  }

  private connection(operation: string): Redis & ResultBackendScripts {
    if (this.state !== 'started' || !this.commands) {
      throw new ResultBackendClosedError(operation, this.state === 'closed' ? 'closed' : 'not started');
    }
    return this.commands;
  }

  private async run<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (error) {
      throw this.wrap(operation, error);
    }
  }

  /**
   * `run` again on Redis being unavailable (not on an error reply, nor once closed), as the retry
   * settings say; logs `result_backend.retrying` per retry and `result_backend.retries_exhausted`.
   */
  private async retried<T>(operation: string, fn: () => Promise<T>): Promise<T> {
    let retries = 0;
    try {
      return await withBackendRetry(
        this.retry,
        (error) =>
          this.state === 'started' &&
          error instanceof ResultBackendUnavailableError &&
          !(error.cause instanceof Error && error.cause.name === 'ReplyError'),
        (error, n, sleepMs) => {
          retries = n;
          this.logger.warn(
            { event: 'result_backend.retrying', operation, retries: n, sleep_ms: sleepMs, err: error },
            `result backend ${operation} failed; retry ${n} in ${sleepMs} ms (result_backend_always_retry)`,
          );
        },
        fn,
      );
    } catch (error) {
      if (retries === 0 || !(error instanceof ResultBackendUnavailableError)) throw error;
      this.logger.error(
        { event: 'result_backend.retries_exhausted', operation, retries, err: error },
        `result backend ${operation} failed after ${retries} retries (result_backend_max_retries)`,
      );
      const bound = Number.isFinite(this.retry.maxRetries)
        ? `result_backend_max_retries=${this.retry.maxRetries}`
        : 'no bound';
      throw new ResultBackendUnavailableError(
        this.url,
        `${operation} (gave up after ${retries} retries, ${bound})`,
        error.cause ?? error,
      );
    }
  }

  private wrap(operation: string, error: unknown): ResultBackendError {
    if (error instanceof ResultBackendError) return error;
    if (this.state === 'closed') return new ResultBackendClosedError(operation, 'closed');
    return new ResultBackendUnavailableError(this.url, operation, error);
  }
}
