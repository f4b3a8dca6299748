import { hostname } from 'node:os';
import { formatCeleryDate } from './celery-date.js';
import { compressBody, compressionProblem, compressionType } from './compression.js';
import { ProtocolEncodeError } from './errors.js';
import { pyRepr, pyReprTuple } from './py-repr.js';
import { CONTENT_ENCODING, CONTENT_TYPE, type Serializer, serialize } from './serializers.js';
import type { OutgoingTask, TaskEmbed } from './task-message.js';
import { uuid4 } from './uuid.js';

let defaultOrigin: string | undefined;

/** `gen<pid>@<host>`, Celery's default `origin` header for a producer. */
export function defaultOriginName(): string {
  defaultOrigin ??= `gen${process.pid}@${hostname()}`;
  return defaultOrigin;
}

const STANDARD_HEADERS = new Set([
  'compression',
  'lang',
  'task',
  'id',
  'shadow',
  'eta',
  'expires',
  'group',
  'group_index',
  'retries',
  'timelimit',
  'root_id',
  'parent_id',
  'argsrepr',
  'kwargsrepr',
  'origin',
  'ignore_result',
]);

const STANDARD_PROPERTIES = new Set([
  'correlation_id',
  'reply_to',
  'delivery_mode',
  'expiration',
  'delivery_info',
  'priority',
  'body_encoding',
  'delivery_tag',
]);

const str = JSON.stringify;

function optStr(v: string | null | undefined, field: string): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v !== 'string') throw new ProtocolEncodeError(`${field} must be a string or null, got ${typeof v}`);
  return str(v);
}

function optNum(v: number | null | undefined, field: string): string {
  if (v === null || v === undefined) return 'null';
  if (typeof v !== 'number' || !Number.isFinite(v))
    throw new ProtocolEncodeError(`${field} must be a finite number or null`);
  return String(v);
}

function optDate(v: Date | null | undefined, field: string): string {
  if (v === null || v === undefined) return 'null';
  if (!(v instanceof Date)) throw new ProtocolEncodeError(`${field} must be a Date or null`);
  return `"${formatCeleryDate(v)}"`;
}

function extra(obj: Record<string, unknown> | undefined, skip: ReadonlySet<string>): string {
  if (obj === undefined) return '';
  let out = '';
  for (const key of Object.keys(obj)) {
    if (skip.has(key)) continue;
    const json = str(obj[key]) as string | undefined;
    if (json !== undefined) out += `, ${str(key)}: ${json}`;
  }
  return out;
}

const EMPTY_EMBED_JSON = '{"callbacks": null, "errbacks": null, "chain": null, "chord": null}';

function jsonOf(value: unknown, what: string): string {
  let text: string | undefined;
  try {
    text = JSON.stringify(value);
  } catch (err) {
    throw new ProtocolEncodeError(`${what} cannot be serialized as JSON: ${(err as Error).message}`);
  }
  if (text === undefined) throw new ProtocolEncodeError(`${what} cannot be serialized as JSON`);
  return text;
}

/** Serializes `[args, kwargs, embed]` and returns it base64-encoded, as kombu puts it in `body`. */
export function encodeTaskBody(
  args: readonly unknown[],
  kwargs: Record<string, unknown>,
  embed: Partial<TaskEmbed> | undefined,
  serializer: Serializer,
): string {
  const fullEmbed: TaskEmbed | undefined =
    embed === undefined
      ? undefined
      : {
          callbacks: embed.callbacks ?? null,
          errbacks: embed.errbacks ?? null,
          chain: embed.chain ?? null,
          chord: embed.chord ?? null,
        };
  if (serializer === 'json') {
    // One string, no intermediate array: this runs once per enqueue.
    const text = `[${jsonOf(args, 'args')}, ${jsonOf(kwargs, 'kwargs')}, ${fullEmbed === undefined ? EMPTY_EMBED_JSON : jsonOf(fullEmbed, 'embed')}]`;
    return Buffer.from(text, 'utf8').toString('base64');
  }
  const e = fullEmbed ?? { callbacks: null, errbacks: null, chain: null, chord: null };
  return serialize([args, kwargs, e], serializer).toString('base64');
}

/**
 * The raw Redis list entry for a task: kombu's envelope with a base64 body, protocol v2 headers in
 * Celery's order and a fresh uuid4 `delivery_tag`. Throws ProtocolEncodeError for values that cannot be sent.
 */
export function encodeTaskEnvelope(task: OutgoingTask): string {
  const { id, task: name, args, kwargs } = task;
  if (typeof id !== 'string' || id === '') throw new ProtocolEncodeError('task id must be a non-empty string');
  if (typeof name !== 'string' || name === '') throw new ProtocolEncodeError('task name must be a non-empty string');
  if (!Array.isArray(args)) throw new ProtocolEncodeError(`args of ${name} must be an array`);
  if (typeof kwargs !== 'object' || kwargs === null || Array.isArray(kwargs)) {
    throw new ProtocolEncodeError(`kwargs of ${name} must be a plain object`);
  }
  if (typeof task.queue !== 'string') throw new ProtocolEncodeError(`queue of ${name} must be a string`);
  const serializer = task.serializer ?? 'json';
  const contentType = CONTENT_TYPE[serializer];
  if (contentType === undefined)
    throw new ProtocolEncodeError(`unknown serializer ${str(serializer)}: use "json" or "msgpack"`);
  let body = encodeTaskBody(args, kwargs, task.embed, serializer);
  let compression = '';
  if (task.compression) {
    const type = compressionType(task.compression);
    if (type === undefined) throw new ProtocolEncodeError(`compression ${compressionProblem(task.compression)}`);
    body = compressBody(Buffer.from(body, 'base64'), type).toString('base64');
    compression = `, "compression": "${type}"`;
  }
  const timelimit = task.timelimit;
  const retries = task.retries ?? 0;
  if (!Number.isInteger(retries) || retries < 0)
    throw new ProtocolEncodeError('retries must be a non-negative integer');
  const priority = task.priority ?? 0;
  if (typeof priority !== 'number' || !Number.isFinite(priority))
    throw new ProtocolEncodeError('priority must be a number');
  const idJson = str(id);
  let expiration = '';
  if (task.expires) {
    const ms = Math.max(0, Math.round(task.expires.getTime() - Date.now()));
    if (!Number.isNaN(ms)) expiration = `, "expiration": "${ms}"`;
  }
  return (
    `{"body": "${body}", "content-encoding": "${CONTENT_ENCODING[serializer]}", "content-type": "${contentType}", ` +
    `"headers": {"lang": "js", "task": ${str(name)}, "id": ${idJson}, "shadow": ${optStr(task.shadow, 'shadow')}, ` +
    `"eta": ${optDate(task.eta, 'eta')}, "expires": ${optDate(task.expires, 'expires')}, ` +
    `"group": ${optStr(task.groupId, 'groupId')}, "group_index": ${optNum(task.groupIndex, 'groupIndex')}, ` +
    `"retries": ${retries}, "timelimit": [${optNum(timelimit?.[0], 'timelimit[0]')}, ${optNum(timelimit?.[1], 'timelimit[1]')}], ` +
    `"root_id": ${task.rootId == null ? idJson : optStr(task.rootId, 'rootId')}, "parent_id": ${optStr(task.parentId, 'parentId')}, ` +
    `"argsrepr": ${str(task.argsrepr ?? pyReprTuple(args))}, "kwargsrepr": ${str(task.kwargsrepr ?? pyRepr(kwargs))}, ` +
    `"origin": ${str(task.origin ?? defaultOriginName())}, "ignore_result": ${task.ignoreResult === true}` +
    `${extra(task.extraHeaders, STANDARD_HEADERS)}${compression}}, ` +
    `"properties": {"correlation_id": ${idJson}, "reply_to": ${str(task.replyTo ?? '')}` +
    `${extra(task.extraProperties, STANDARD_PROPERTIES)}, "delivery_mode": 2${expiration}, ` +
    `"delivery_info": {"exchange": ${str(task.exchange ?? '')}, "routing_key": ${str(task.routingKey ?? task.queue)}}, ` +
    `"priority": ${priority}, "body_encoding": "base64", "delivery_tag": "${uuid4()}"}}`
  );
}
