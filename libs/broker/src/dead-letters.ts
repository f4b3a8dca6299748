import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import type { Delivery } from './broker-options.js';
import { BrokerDeadLetterError } from './errors.js';
import { REDELIVERIES_PREFIX } from './keys.js';
import type { BrokerScripts } from './scripts/load-scripts.js';

/** One record of the dead-letter list, as stored (JSON); the format is documented in README.md. */
export interface DeadLetterRecord {
  /** The raw queue entry, or its first `deadLetterMaxRawBytes` bytes when `raw_truncated`. */
  raw: string;
  /** Why: `<code>: <detail>` for rejected input, `redelivery_limit` for a message that kept killing workers. */
  reason: string;
  queue: string;
  /** When it was dead-lettered, ISO 8601. */
  at: string;
  delivery_tag: string;
  task_id: string | null;
  task: string | null;
  /** Size of the whole raw entry in UTF-8 bytes, and its sha256 (hex). */
  raw_bytes: number;
  raw_sha256: string;
  raw_truncated: boolean;
  /** Restores after crashes it had (`redelivery_limit` records). */
  redeliveries?: number;
}

/** What the caller knows beyond the delivery. */
export interface DeadLetterDetails {
  taskId?: string | null;
  task?: string | null;
  redeliveries?: number;
}

/** A record with its index in the list (0 = newest), as `list()` returns it. */
export interface DeadLetterEntry {
  index: number;
  record: DeadLetterRecord | null;
  /** The stored text when it is not a readable record. */
  unreadable?: string;
}

/** The task id and name of a raw Celery entry (protocol 2 headers), when cheaply readable. */
function taskOf(raw: string): { id: string | null; task: string | null } {
  if (raw.length > 1024 * 1024) {
    // Too large to parse for this: kombu puts "headers" after the (large) body; look there.
    const at = raw.indexOf('"headers": {');
    const headers = at === -1 ? '' : raw.slice(at, at + 4096);
    return {
      id: /"id": "([^"\\]*)"/.exec(headers)?.[1] ?? null,
      task: /"task": "([^"\\]*)"/.exec(headers)?.[1] ?? null,
    };
  }
  try {
    const headers = (JSON.parse(raw) as { headers?: Record<string, unknown> }).headers;
    return {
      id: typeof headers?.id === 'string' ? headers.id : null,
      task: typeof headers?.task === 'string' ? headers.task : null,
    };
  } catch {
    return { id: null, task: null };
  }
}

/** The JSON record pushed onto the dead-letter list; raws above `maxRawBytes` are cut. */
export function deadLetterRecord(
  delivery: Delivery,
  reason: string,
  details: DeadLetterDetails,
  maxRawBytes: number,
): string {
  const bytes = Buffer.from(delivery.raw, 'utf8');
  const truncated = maxRawBytes > 0 && bytes.length > maxRawBytes;
  const known = details.taskId === undefined || details.task === undefined ? taskOf(delivery.raw) : null;
  const record: DeadLetterRecord = {
    raw: truncated ? bytes.subarray(0, maxRawBytes).toString('utf8') : delivery.raw,
    reason,
    queue: delivery.queue,
    at: new Date().toISOString(),
    delivery_tag: delivery.deliveryTag,
    task_id: details.taskId ?? known?.id ?? null,
    task: details.task ?? known?.task ?? null,
    raw_bytes: bytes.length,
    raw_sha256: createHash('sha256').update(bytes).digest('hex'),
    raw_truncated: truncated,
  };
  if (details.redeliveries !== undefined) record.redeliveries = details.redeliveries;
  return JSON.stringify(record);
}

function parse(text: string): DeadLetterRecord | null {
  try {
    const value = JSON.parse(text) as DeadLetterRecord;
    return typeof value === 'object' && value !== null && typeof value.raw === 'string' ? value : null;
  } catch {
    return null;
  }
}

/** A stored record's text as the entry at `index` (`unreadable` when it is not a record). */
export function deadLetterEntry(index: number, text: string): DeadLetterEntry {
  const record = parse(text);
  return record ? { index, record } : { index, record: null, unreadable: text };
}

/** Records examined per script call of `requeue('all')`. */
const REQUEUE_CHUNK = 200;

/**
 * The dead-letter list, to look at and replay (what `celeriac dead-letter` uses). Indexes count
 * from the newest record (0), at the moment of each call: records pushed meanwhile shift them.
 */
export class DeadLetterList {
  constructor(
    private readonly redis: () => Redis & BrokerScripts,
    private readonly run: <T>(operation: string, fn: () => Promise<T>) => Promise<T>,
    readonly key: string,
  ) {}

  /** Number of records. */
  length(): Promise<number> {
    return this.run('deadLetters.length', () => this.redis().llen(this.key));
  }

  /** `count` records from `offset` (0 = newest). */
  async list(offset = 0, count = 20): Promise<DeadLetterEntry[]> {
    if (!(offset >= 0) || !(count >= 1)) {
      throw new BrokerDeadLetterError('BROKER_DEAD_LETTER_BAD_INDEX', `offset ${offset} / count ${count}`);
    }
    const texts = await this.run('deadLetters.list', () => this.redis().lrange(this.key, offset, offset + count - 1));
    return texts.map((text, i) => deadLetterEntry(offset + i, text));
  }

  /** The record at `index` (0 = newest); throws `BROKER_DEAD_LETTER_NOT_FOUND` when there is none. */
  async show(index: number): Promise<DeadLetterEntry> {
    this.checkIndex(index);
    const text = await this.run('deadLetters.show', () => this.redis().lindex(this.key, index));
    if (text === null) throw new BrokerDeadLetterError('BROKER_DEAD_LETTER_NOT_FOUND', `no record at index ${index}`);
    return deadLetterEntry(index, text);
  }

  /**
   * Publishes the raw entry of the record at `index` (or of every record, oldest first, with
   * `'all'`) again onto its queue and removes the record; its redelivery counter starts over.
   * A truncated or unreadable record stays: one index throws `BROKER_DEAD_LETTER_NOT_REQUEUEABLE`,
   * `'all'` counts it in `kept`.
   */
  async requeue(index: number | 'all'): Promise<{ requeued: number; kept: number }> {
    const redis = this.redis();
    if (index !== 'all') {
      this.checkIndex(index);
      const [requeued, , , why] = await this.run('deadLetters.requeue', () =>
        redis.deadLetterRequeue(1, this.key, 'index', String(index), '1', ...prefixArgs(redis)),
      );
      if (why === 'missing') {
        throw new BrokerDeadLetterError('BROKER_DEAD_LETTER_NOT_FOUND', `no record at index ${index}`);
      }
      if (why !== '') {
        throw new BrokerDeadLetterError(
          'BROKER_DEAD_LETTER_NOT_REQUEUEABLE',
          `the record at index ${index} is ${why === 'truncated' ? 'truncated (its raw entry was cut when stored)' : 'not a readable record'}`,
        );
      }
      return { requeued, kept: 0 };
    }
    let requeued = 0;
    let kept = 0;
    for (;;) {
      const [moved, stayed, examined] = await this.run('deadLetters.requeue', () =>
        redis.deadLetterRequeue(1, this.key, 'oldest', String(kept), String(REQUEUE_CHUNK), ...prefixArgs(redis)),
      );
      requeued += moved;
      kept += stayed;
      if (examined < REQUEUE_CHUNK) return { requeued, kept };
    }
  }

  /** Deletes every record; returns how many there were. */
  async purge(): Promise<number> {
    const redis = this.redis();
    const [[, length]] = (await this.run('deadLetters.purge', () =>
      redis.multi().llen(this.key).del(this.key).exec(),
    )) as [[null, number], [null, number]];
    return length;
  }

  private checkIndex(index: number): void {
    if (!Number.isInteger(index) || index < 0) {
      throw new BrokerDeadLetterError('BROKER_DEAD_LETTER_BAD_INDEX', `index ${index}`);
    }
  }
}

/** The counters' prefix and the key prefix as dead-letter-requeue.lua takes them (kombu's global_keyprefix is the connection's). */
function prefixArgs(redis: { options: { keyPrefix?: string } }): [string, string] {
  const keyPrefix = redis.options.keyPrefix ?? '';
  return [keyPrefix + REDELIVERIES_PREFIX, keyPrefix];
}
