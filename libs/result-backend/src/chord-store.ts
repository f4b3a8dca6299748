import { deserialize, type Serializer, serialize } from '@celeriac/protocol';
import type { Redis } from 'ioredis';

/** Prefix of Celery's group keys: `celery-taskset-meta-<gid>` (a saved GroupResult) and its chord counters. */
export const GROUP_KEY_PREFIX = 'celery-taskset-meta-';

/** `celery-taskset-meta-<groupId><suffix>`: the saved group (no suffix) or a chord counter (`.j`, `.t`, `.s`). */
export function groupKey(groupId: string, suffix: '' | '.j' | '.t' | '.s' = ''): string {
  return GROUP_KEY_PREFIX + groupId + suffix;
}

/** One header task's entry in the chord's `.j` zset: `[1, task_id, state, result]`, as Celery encodes it. */
export interface ChordPart {
  taskId: string;
  state: string;
  /** The encoded result: the value, or `{exc_type, exc_message, exc_module}` for FAILURE/REVOKED. */
  result: unknown;
}

/** What counting one part gave: how many parts are in, and the chord's size (null when `.s` is unset). */
export interface ChordPartCount {
  ready: number;
  /** `.s` + `.t`: the number of parts the chord waits for; null when no size was set (not a Redis chord). */
  total: number | null;
}

/** Encodes a `.j` entry in the result serializer: JSON like Python's `json.dumps` of the outer list, or msgpack. */
export function encodeChordPart(part: ChordPart, serializer: Serializer): string | Buffer {
  if (serializer === 'msgpack') return serialize([1, part.taskId, part.state, part.result], 'msgpack');
  return `[1, ${JSON.stringify(part.taskId)}, ${JSON.stringify(part.state)}, ${JSON.stringify(part.result ?? null)}]`;
}

/** Decodes a `.j` entry written by Celery or by us (JSON text or msgpack bytes, found from the first byte). */
export function decodeChordPart(raw: Buffer): ChordPart {
  const first = raw[0] ?? 0;
  const serializer: Serializer = first === 0x5b || first === 0x20 ? 'json' : 'msgpack';
  const value = deserialize(raw, serializer);
  if (!Array.isArray(value) || value.length < 4) {
    throw new TypeError(`a chord part is not [1, task_id, state, result]: ${raw.toString('utf8').slice(0, 200)}`);
  }
  return { taskId: String(value[1]), state: String(value[2]), result: value[3] };
}

/**
 * `apply_chord`/`set_chord_size` of Celery's Redis backend: `SETEX celery-taskset-meta-<gid>.s
 * <expires> <size>` and PUBLISH on the same key, in one MULTI.
 */
export async function setChordSize(redis: Redis, groupId: string, size: number, expiresSec: number): Promise<void> {
  const key = groupKey(groupId, '.s');
  const value = String(size);
  const multi = redis.multi();
  if (expiresSec > 0) multi.setex(key, expiresSec, value);
  else multi.set(key, value);
  multi.publish(key, value);
  await multi.exec();
}

/**
 * Counts one part as Celery 5.2's `on_chord_part_return` does, with the same commands in one
 * MULTI: `ZADD .j <group_index|+inf> <part>`, `ZCOUNT .j -inf +inf`, `GET .t`, `GET .s`, then
 * `EXPIRE` on the three keys. The part whose count reaches the total sends the body.
 *
 * Idempotent per part, unlike Celery: a part with a group index first removes any entry with the
 * same index (`ZREMRANGEBYSCORE .j i i`), so a part that ran again after its worker died (its
 * first count in, its ack lost) replaces its first entry instead of counting twice, even when
 * the second run's result differs (Celery's ZADD only dedupes byte-identical entries). Parts
 * without an index (`+inf`) are counted as Celery counts them.
 */
export async function countChordPart(
  redis: Redis,
  groupId: string,
  groupIndex: number | null,
  encodedPart: string | Buffer,
  expiresSec: number,
): Promise<ChordPartCount> {
  const jkey = groupKey(groupId, '.j');
  const tkey = groupKey(groupId, '.t');
  const skey = groupKey(groupId, '.s');
  const multi = redis.multi();
  const indexed = groupIndex !== null;
  if (indexed) multi.zremrangebyscore(jkey, groupIndex, groupIndex);
  multi
    .zadd(jkey, indexed ? String(groupIndex) : '+inf', encodedPart)
    .zcount(jkey, '-inf', '+inf')
    .get(tkey)
    .get(skey);
  if (expiresSec > 0) multi.expire(jkey, expiresSec).expire(tkey, expiresSec).expire(skey, expiresSec);
  const replies = (await multi.exec()) ?? [];
  for (const [error] of replies) if (error) throw error;
  const at = indexed ? 1 : 0;
  const ready = Number(replies[at + 1]?.[1] ?? 0);
  const diff = Number.parseInt(String(replies[at + 2]?.[1] ?? '0'), 10) || 0;
  const size = replies[at + 3]?.[1];
  if (size === null || size === undefined || size === '') return { ready, total: null };
  return { ready, total: Number.parseInt(String(size), 10) + diff };
}

/** `ZRANGE .j 0 -1`: the parts in group-index order. */
export async function readChordParts(redis: Redis, groupId: string): Promise<ChordPart[]> {
  const raws = await redis.zrangeBuffer(groupKey(groupId, '.j'), 0, -1);
  return raws.map(decodeChordPart);
}

/** `DEL .j`, `DEL .t`, `DEL .s` in one MULTI, as Celery does once the body was sent. */
export async function deleteChordKeys(redis: Redis, groupId: string): Promise<void> {
  await redis.multi().del(groupKey(groupId, '.j')).del(groupKey(groupId, '.t')).del(groupKey(groupId, '.s')).exec();
}

/**
 * A result as Celery's `as_tuple()` writes it: `[[id, parent], null]` for one task,
 * `[[id, parent], [child tuples...]]` for a group.
 */
export type ResultTuple = [[string, ResultTuple | null], ResultTuple[] | null];

/** `GroupResult.save()`: `celery-taskset-meta-<gid>` = `{"result": <as_tuple>}`, SETEX + PUBLISH. */
export async function saveGroup(
  redis: Redis,
  groupId: string,
  tuple: ResultTuple,
  serializer: Serializer,
  expiresSec: number,
): Promise<void> {
  const key = groupKey(groupId);
  const value = serializer === 'msgpack' ? serialize({ result: tuple }, 'msgpack') : JSON.stringify({ result: tuple });
  const multi = redis.multi();
  if (expiresSec > 0) multi.setex(key, expiresSec, value);
  else multi.set(key, value);
  multi.publish(key, value);
  await multi.exec();
}

/** `GroupResult.restore()`: the saved tuple, or null when there is none. */
export async function restoreGroup(redis: Redis, groupId: string): Promise<ResultTuple | null> {
  const raw = await redis.getBuffer(groupKey(groupId));
  if (raw === null) return null;
  const first = raw[0] ?? 0;
  const meta = deserialize(raw, first === 0x7b || first === 0x20 ? 'json' : 'msgpack') as { result?: unknown };
  const tuple = meta?.result;
  if (!Array.isArray(tuple) || tuple.length !== 2) return null;
  return tuple as ResultTuple;
}
