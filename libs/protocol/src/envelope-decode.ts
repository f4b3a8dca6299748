import { parseCeleryDate } from './celery-date.js';
import { decompressBody } from './compression.js';
import { acceptedContentTypes, deserialize, type Serializer, serializerForContentType } from './serializers.js';
import type {
  DecodeFailureCode,
  DecodeOptions,
  DecodeResult,
  Signature,
  TaskEmbed,
  TaskMessage,
} from './task-message.js';

type Obj = Record<string, unknown>;

interface Known {
  taskId?: string;
  taskName?: string;
  deliveryTag?: string;
  routingKey?: string;
}

const BASE64_RE = /^[A-Za-z0-9+/\r\n]*={0,2}\s*$/;

function isObj(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function fail(code: DecodeFailureCode, reason: string, known: Known): DecodeResult {
  const out: DecodeResult = { ok: false, code, reason };
  if (known.taskId !== undefined) out.taskId = known.taskId;
  if (known.taskName !== undefined) out.taskName = known.taskName;
  if (known.deliveryTag !== undefined) out.deliveryTag = known.deliveryTag;
  if (known.routingKey !== undefined) out.routingKey = known.routingKey;
  return out;
}

function scan(raw: string, field: string): string | undefined {
  const m = new RegExp(`"${field}"\\s*:\\s*"((?:[^"\\\\]|\\\\.){1,256})"`).exec(raw);
  if (m === null) return undefined;
  try {
    return JSON.parse(`"${m[1]}"`) as string;
  } catch {
    return undefined;
  }
}

/** Best-effort field extraction from an entry we refuse to parse in full (too large). */
function scanKnown(raw: string): Known {
  const known: Known = {};
  const taskId = scan(raw, 'id');
  const taskName = scan(raw, 'task');
  const deliveryTag = scan(raw, 'delivery_tag');
  const routingKey = scan(raw, 'routing_key');
  if (taskId !== undefined) known.taskId = taskId;
  if (taskName !== undefined) known.taskName = taskName;
  if (deliveryTag !== undefined) known.deliveryTag = deliveryTag;
  if (routingKey !== undefined) known.routingKey = routingKey;
  return known;
}

function optString(v: unknown): string | null | undefined {
  if (v === null || v === undefined) return null;
  return typeof v === 'string' ? v : undefined;
}

function optInt(v: unknown): number | null | undefined {
  if (v === null || v === undefined) return null;
  return typeof v === 'number' && Number.isFinite(v) ? v : undefined;
}

function optDate(v: unknown): Date | null | undefined {
  if (v === null || v === undefined) return null;
  if (typeof v !== 'string') return undefined;
  return parseCeleryDate(v) ?? undefined;
}

function sigList(v: unknown): Signature[] | null | undefined {
  if (v === null || v === undefined) return null;
  if (!Array.isArray(v)) return undefined;
  for (const s of v) if (!isObj(s)) return undefined;
  return v as Signature[];
}

interface Parts {
  args: unknown[];
  kwargs: Obj;
  embed: TaskEmbed;
  headers: Obj;
}

function fromV1(body: Obj, headers: Obj): Parts | string {
  const args = body.args ?? [];
  const kwargs = body.kwargs ?? {};
  if (!Array.isArray(args)) return 'v1 body args is not a list';
  if (!isObj(kwargs)) return 'v1 body kwargs is not a dict';
  const merged: Obj = {
    lang: body.lang ?? 'py',
    task: body.task,
    id: body.id,
    root_id: body.root_id ?? null,
    parent_id: body.parent_id ?? null,
    group: body.taskset ?? body.group_id ?? body.group ?? null,
    group_index: null,
    shadow: body.shadow ?? null,
    eta: body.eta ?? null,
    expires: body.expires ?? null,
    retries: body.retries ?? 0,
    timelimit: body.timelimit ?? [null, null],
    argsrepr: body.argsrepr ?? null,
    kwargsrepr: body.kwargsrepr ?? null,
    origin: body.origin ?? null,
    ...headers,
  };
  const callbacks = sigList(body.callbacks);
  const errbacks = sigList(body.errbacks);
  if (callbacks === undefined || errbacks === undefined) return 'v1 callbacks/errbacks must be lists of signatures';
  const chord = body.chord ?? null;
  if (chord !== null && !isObj(chord)) return 'v1 chord must be a signature';
  return {
    args,
    kwargs,
    embed: { callbacks, errbacks, chain: null, chord: chord as Signature | null },
    headers: merged,
  };
}

function fromV2(body: unknown, headers: Obj): Parts | string {
  if (!Array.isArray(body) || body.length !== 3) return 'body is not [args, kwargs, embed]';
  const [args, kwargs, e] = body as [unknown, unknown, unknown];
  if (!Array.isArray(args)) return 'body args (element 0) is not a list';
  if (!isObj(kwargs)) return 'body kwargs (element 1) is not a dict';
  if (!isObj(e)) return 'body embed (element 2) is not a dict';
  const callbacks = sigList(e.callbacks);
  const errbacks = sigList(e.errbacks);
  const chain = sigList(e.chain);
  const chord = e.chord ?? null;
  if (callbacks === undefined || errbacks === undefined || chain === undefined || (chord !== null && !isObj(chord))) {
    return 'body embed callbacks/errbacks/chain must be lists of signatures and chord a signature';
  }
  return { args, kwargs, embed: { callbacks, errbacks, chain, chord: chord as Signature | null }, headers };
}

/**
 * Turns a raw queue entry (kombu envelope JSON) into a TaskMessage. Never throws: anything invalid
 * gives `{ ok: false, code, reason }` plus the task id, name, delivery tag and routing key when
 * they could be read. Bodies whose content type is not in `accept` are never deserialized.
 */
export function decodeTaskEnvelope(raw: string, options: DecodeOptions): DecodeResult {
  try {
    return decode(raw, options);
  } catch (err) {
    return fail('bad_body', `unexpected error while decoding: ${String((err as Error)?.message ?? err)}`, {});
  }
}

function decode(raw: string, options: DecodeOptions): DecodeResult {
  if (typeof raw !== 'string') return fail('not_json', 'queue entry is not a string', {});
  const maxBytes = options.maxBytes;
  if (maxBytes !== undefined && raw.length > maxBytes) {
    return fail('too_large', `queue entry is ${raw.length} characters, above the limit of ${maxBytes}`, scanKnown(raw));
  }
  let env: unknown;
  try {
    env = JSON.parse(raw);
  } catch {
    return fail('not_json', 'queue entry is not valid JSON', {});
  }
  if (!isObj(env)) return fail('not_json', 'queue entry is JSON but not an object (kombu envelope)', {});

  const known: Known = {};
  const rawHeaders = env.headers;
  if (rawHeaders !== undefined && rawHeaders !== null && !isObj(rawHeaders)) {
    return fail('bad_field', 'headers is not an object', known);
  }
  const headers: Obj = (rawHeaders as Obj | null | undefined) ?? {};
  const hTask = headers.task;
  const hId = headers.id;
  if (typeof hTask === 'string') known.taskName = hTask;
  if (typeof hId === 'string') known.taskId = hId;

  const props = env.properties;
  if (!isObj(props)) return fail('missing_field', 'properties is missing or not an object', known);
  const deliveryTag = props.delivery_tag;
  if (typeof deliveryTag === 'string' && deliveryTag !== '') known.deliveryTag = deliveryTag;
  const info = props.delivery_info;
  if (isObj(info) && typeof info.routing_key === 'string') known.routingKey = info.routing_key;
  if (known.deliveryTag === undefined) return fail('missing_field', 'properties.delivery_tag is missing', known);
  if (!isObj(info)) return fail('missing_field', 'properties.delivery_info is missing', known);
  if (typeof info.exchange !== 'string' || known.routingKey === undefined) {
    return fail('missing_field', 'properties.delivery_info.exchange/routing_key is missing', known);
  }
  if (typeof hTask === 'string' && typeof hId !== 'string')
    return fail('missing_field', 'headers.id is missing', known);

  const contentType = env['content-type'];
  if (typeof contentType !== 'string') return fail('missing_field', 'content-type is missing', known);
  if (!acceptedContentTypes(options.accept).has(contentType)) {
    return fail('content_type_refused', `content type ${JSON.stringify(contentType)} is not in accept_content`, known);
  }
  const serializer: Serializer | undefined = serializerForContentType(contentType);
  if (serializer === undefined) {
    return fail('content_type_refused', `content type ${JSON.stringify(contentType)} is not supported`, known);
  }

  const rawBody = env.body;
  if (typeof rawBody !== 'string') return fail('bad_body', 'body is missing or not a string', known);
  const bodyEncoding = props.body_encoding;
  let bytes: Buffer;
  if (bodyEncoding === 'base64') {
    if (!BASE64_RE.test(rawBody)) return fail('bad_body', 'body is not valid base64', known);
    bytes = Buffer.from(rawBody, 'base64');
  } else if (bodyEncoding === undefined || bodyEncoding === null) {
    bytes = Buffer.from(rawBody, serializer === 'json' ? 'utf8' : 'latin1');
  } else {
    return fail('bad_body', `unsupported body_encoding ${JSON.stringify(bodyEncoding)}`, known);
  }
  const compression = headers.compression;
  if (compression !== undefined && compression !== null) {
    if (typeof compression !== 'string') return fail('bad_field', 'headers.compression is not a string', known);
    try {
      bytes = decompressBody(bytes, compression);
    } catch (err) {
      return fail('bad_body', `body cannot be decompressed (${compression}): ${(err as Error).message}`, known);
    }
  }
  let body: unknown;
  try {
    body = deserialize(bytes, serializer);
  } catch {
    return fail('bad_body', `body is not valid ${serializer}`, known);
  }

  let protocolVersion: 1 | 2;
  let parts: Parts | string;
  if (typeof hTask === 'string') {
    protocolVersion = 2;
    parts = fromV2(body, headers);
  } else if (isObj(body) && typeof body.task === 'string' && typeof body.id === 'string') {
    protocolVersion = 1;
    known.taskName = body.task;
    known.taskId = body.id;
    parts = fromV1(body, headers);
  } else {
    return fail('missing_field', 'headers.task is missing (and the body is not a protocol v1 message)', known);
  }
  if (typeof parts === 'string') return fail('bad_body', parts, known);

  const h = parts.headers;
  const eta = optDate(h.eta);
  if (eta === undefined) return fail('bad_field', `eta ${JSON.stringify(h.eta)} is not an ISO-8601 date`, known);
  const expires = optDate(h.expires);
  if (expires === undefined) {
    return fail('bad_field', `expires ${JSON.stringify(h.expires)} is not an ISO-8601 date`, known);
  }
  const retries = h.retries ?? 0;
  if (typeof retries !== 'number' || !Number.isInteger(retries) || retries < 0) {
    return fail('bad_field', 'retries is not a non-negative integer', known);
  }
  const tl = h.timelimit ?? null;
  let timelimit: [number | null, number | null] = [null, null];
  if (tl !== null) {
    if (!Array.isArray(tl) || tl.length !== 2) return fail('bad_field', 'timelimit is not [hard, soft]', known);
    const hard = optInt(tl[0]);
    const soft = optInt(tl[1]);
    if (hard === undefined || soft === undefined)
      return fail('bad_field', 'timelimit values must be numbers or null', known);
    timelimit = [hard, soft];
  }
  const rootId = optString(h.root_id);
  const parentId = optString(h.parent_id);
  const groupId = optString(h.group);
  const groupIndex = optInt(h.group_index);
  if (rootId === undefined || parentId === undefined || groupId === undefined || groupIndex === undefined) {
    return fail('bad_field', 'root_id/parent_id/group must be strings or null and group_index a number or null', known);
  }
  const replyTo = optString(props.reply_to);
  const priority = props.priority ?? 0;
  if (typeof priority !== 'number' || !Number.isFinite(priority)) {
    return fail('bad_field', 'properties.priority is not a number', known);
  }

  const message: TaskMessage = {
    id: known.taskId as string,
    task: known.taskName as string,
    args: parts.args,
    kwargs: parts.kwargs,
    embed: parts.embed,
    headers: h,
    eta,
    expires,
    retries,
    timelimit,
    rootId,
    parentId,
    groupId,
    groupIndex,
    ignoreResult: h.ignore_result === true,
    replyTo: replyTo ?? null,
    priority,
    deliveryTag: known.deliveryTag,
    exchange: info.exchange,
    routingKey: known.routingKey,
    redelivered: info.redelivered === true || h.redelivered === true,
    contentType,
    serializer,
    protocolVersion,
  };
  return { ok: true, message };
}
