import type { ServerResponse } from 'node:http';
import type { NodeView } from './center-state.js';

const CONTENT_TYPE = 'application/json; charset=utf-8';

/** What nodes sharing an effective config share in their answer, built once per config object and revision. */
interface SharedAnswer {
  revision: number;
  /** `,"revision":R,"hash":"H","config":{...}}` as UTF-8. */
  tail: Buffer;
  /** Status line and the headers every node's answer has, for an answer written on the socket. */
  statusAndHeaders: string;
}

const sharedAnswers = new WeakMap<object, SharedAnswer>();

/**
 * The shared part of a config answer: the body's tail and the fixed headers, built once per
 * config object (a write gives every node with equal layers one), so a fan-out to thousands of
 * nodes serialises and encodes each distinct config once.
 */
function sharedAnswer(view: NodeView): SharedAnswer {
  const cached = sharedAnswers.get(view.config);
  if (cached?.revision === view.revision) return cached;
  const answer = answerOf(view, view.config);
  sharedAnswers.set(view.config, answer);
  return answer;
}

function answerOf(view: NodeView, config: unknown): SharedAnswer {
  return {
    revision: view.revision,
    tail: Buffer.from(
      `,"revision":${view.revision},"hash":${JSON.stringify(view.hash)},"config":${JSON.stringify(config)}}`,
    ),
    statusAndHeaders: `HTTP/1.1 200 OK\r\ncontent-type: ${CONTENT_TYPE}\r\netag: "${view.revision}"\r\n`,
  };
}

/**
 * Whether `res` is written whole on its socket: node would close the connection after this
 * answer anyway (the request said `Connection: close`, as agents' fresh connections do, or was
 * HTTP/1.0) and nothing of it was written yet. Keep-alive answers go through ServerResponse,
 * which keeps the connection's request/response bookkeeping.
 */
export function answersOnSocket(res: ServerResponse): boolean {
  return res.shouldKeepAlive === false && !res.headersSent && res.socket?.writable === true;
}

/**
 * Writes the 200 answer of `GET /v1/nodes/:node/config` straight to the raw response (the route
 * hijacked it from fastify): `{"node":…,"revision":…,"hash":…,"config":…}` with `ETag: "<revision>"`,
 * content type and length. The body's tail is one buffer shared by every node with that config.
 * On a closing connection (`answersOnSocket`) the whole message, status line to body, is one
 * buffer written on the socket, and the response is then finished as node finishes it (see
 * `writeOnSocket`); else head and tail leave through ServerResponse in one writev, which does
 * keep-alive, Date and HEAD.
 * `maskedConfig` (for tokens that may not see secrets) is serialised for this answer only.
 */
export function writeConfigAnswer(res: ServerResponse, node: string, view: NodeView, maskedConfig?: unknown): void {
  finishWritten(sendConfigAnswer(res, node, view, maskedConfig));
}

/**
 * `writeConfigAnswer` without the finish: returns `res` when its answer went on the socket and its
 * 'finish' listeners are still to run (`finishWritten`), so that a fan-out writes every answer of a
 * batch before any of that bookkeeping; undefined when the response is already finished.
 */
export function sendConfigAnswer(
  res: ServerResponse,
  node: string,
  view: NodeView,
  maskedConfig?: unknown,
): ServerResponse | undefined {
  const head = `{"node":${JSON.stringify(node)}`;
  const shared = maskedConfig === undefined ? sharedAnswer(view) : answerOf(view, maskedConfig);
  const length = Buffer.byteLength(head) + shared.tail.length;
  if (answersOnSocket(res)) {
    const headers = `${shared.statusAndHeaders}content-length: ${length}\r\n${dateHeader()}Connection: close\r\n\r\n`;
    const withBody = res.req.method !== 'HEAD';
    writeOnSocket(res, 200, headers, withBody ? head : '', withBody ? shared.tail : undefined);
    return res;
  }
  res.writeHead(200, ['content-type', CONTENT_TYPE, 'etag', `"${view.revision}"`, 'content-length', String(length)]);
  res.write(head);
  res.end(shared.tail);
  return undefined;
}

/**
 * Writes the empty 304 answer of a long-poll that saw no change (its wait ended, or the center is
 * closing); on the socket when the connection closes after it.
 */
export function writeNotModified(res: ServerResponse): void {
  finishWritten(sendNotModified(res));
}

/** `writeNotModified` without the finish, as `sendConfigAnswer`. */
export function sendNotModified(res: ServerResponse): ServerResponse | undefined {
  if (answersOnSocket(res)) {
    writeOnSocket(res, 304, `HTTP/1.1 304 Not Modified\r\n${dateHeader()}Connection: close\r\n\r\n`, '');
    return res;
  }
  res.writeHead(304);
  res.end();
  return undefined;
}

/**
 * Finishes a response whose answer `sendConfigAnswer` or `sendNotModified` wrote on its socket, as
 * node finishes one after a closing answer: its 'finish' listeners run (node's own, which takes
 * the request off the connection and closes it once written, and fastify's, which runs the
 * onResponse hook). Must run in the same event-loop turn as the write, before the connection's
 * I/O is read again. Nothing to do for undefined (already finished).
 */
export function finishWritten(res: ServerResponse | undefined): void {
  res?.emit('finish');
}

/**
 * Writes `headers`, `body` and `tail` as one buffer on the response's socket and marks the
 * response ended as node's end() does, without ServerResponse's header serialisation and finish
 * machinery; `finishWritten` then runs its 'finish' listeners.
 */
function writeOnSocket(res: ServerResponse, status: number, headers: string, body: string, tail?: Buffer): void {
  const headersLength = Buffer.byteLength(headers, 'latin1');
  const bodyLength = Buffer.byteLength(body);
  const message = Buffer.allocUnsafe(headersLength + bodyLength + (tail?.length ?? 0));
  message.write(headers, 0, 'latin1');
  message.write(body, headersLength, 'utf8');
  tail?.copy(message, headersLength + bodyLength);
  res.statusCode = status;
  const internals = res as unknown as { finished: boolean; _last: boolean };
  // What end() sets: writableEnded (and, once the socket is detached, writableFinished) hold, and
  // node's finish listener closes the connection (`_last`) instead of keeping it alive.
  internals.finished = true;
  internals._last = true;
  (res.socket as NonNullable<ServerResponse['socket']>).write(message);
}

let dateSecond = -1;
let dateLine = '';

/** The `Date` header line, formatted once per second (as node does for ServerResponse). */
function dateHeader(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateLine = `Date: ${new Date(now).toUTCString()}\r\n`;
  }
  return dateLine;
}
