import type { Serializer } from './serializers.js';

/** A Celery signature: a task call to make later (link callbacks, chain steps, chord bodies). */
export interface Signature {
  task: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  options: Record<string, unknown>;
  subtask_type: string | null;
  immutable: boolean;
}

/** The third element of a protocol v2 body. */
export interface TaskEmbed {
  callbacks: Signature[] | null;
  errbacks: Signature[] | null;
  chain: Signature[] | null;
  chord: Signature | null;
}

/** What a decoded queue entry gives the worker. */
export interface TaskMessage {
  id: string;
  task: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  embed: TaskEmbed;
  /** Full v2 headers (for a v1 message: v2 headers built from the v1 body, as Celery does). */
  headers: Record<string, unknown>;
  eta: Date | null;
  expires: Date | null;
  retries: number;
  timelimit: [hard: number | null, soft: number | null];
  rootId: string | null;
  parentId: string | null;
  groupId: string | null;
  groupIndex: number | null;
  ignoreResult: boolean;
  replyTo: string | null;
  priority: number;
  deliveryTag: string;
  exchange: string;
  routingKey: string;
  redelivered: boolean;
  contentType: string;
  serializer: Serializer;
  protocolVersion: 1 | 2;
}

/** What the client or the worker wants to send. */
export interface OutgoingTask {
  id: string;
  task: string;
  args: unknown[];
  kwargs: Record<string, unknown>;
  embed?: Partial<TaskEmbed>;
  eta?: Date | null;
  expires?: Date | null;
  retries?: number;
  timelimit?: [number | null, number | null];
  rootId?: string | null;
  parentId?: string | null;
  groupId?: string | null;
  groupIndex?: number | null;
  shadow?: string | null;
  ignoreResult?: boolean;
  /** `gen<pid>@<host>` by default. */
  origin?: string;
  replyTo?: string;
  priority?: number;
  queue: string;
  exchange?: string;
  /** `delivery_info.routing_key`; default: the queue (what the default exchange routes by). */
  routingKey?: string;
  serializer?: Serializer;
  /** Compress the body (`task_compression`): "zlib"/"gzip", "lzma"/"xz" or "brotli", or their content types; header `compression`. */
  compression?: string | null;
  /** Extra `properties` written after `reply_to`, e.g. `replaced_task_nesting` and `origin` on retries. */
  extraProperties?: Record<string, unknown>;
  /** Extra message headers (Celery's `apply_async(headers=...)`), written after the standard ones. */
  extraHeaders?: Record<string, unknown>;
  /** `argsrepr` to send instead of the repr of `args` as a tuple. */
  argsrepr?: string;
  /** `kwargsrepr` to send instead of the repr of `kwargs`. */
  kwargsrepr?: string;
}

/** Why a queue entry could not be turned into a TaskMessage. */
export type DecodeFailureCode =
  | 'not_json'
  | 'missing_field'
  | 'content_type_refused'
  | 'bad_body'
  | 'too_large'
  | 'bad_field';

/** Result of decodeTaskEnvelope: the message, or a reason with whatever could be learned. */
export type DecodeResult =
  | { ok: true; message: TaskMessage }
  | {
      ok: false;
      code: DecodeFailureCode;
      reason: string;
      taskId?: string;
      taskName?: string;
      deliveryTag?: string;
      routingKey?: string;
    };

/** Options of decodeTaskEnvelope. */
export interface DecodeOptions {
  /** Celery `accept_content`: serializer names or content types. */
  accept: readonly string[];
  /** Refuse entries whose raw string is longer than this many characters. */
  maxBytes?: number;
}
