import type { ServerResponse } from 'node:http';
import type { NodeView } from './center-state.js';

const CONTENT_TYPE = 'application/json; charset=utf-8';
const sharedTails = new WeakMap<object, { revision: number; tail: Buffer }>();

/**
 * The part of a config answer that nodes sharing an effective config share:
 * `,"revision":R,"hash":"H","config":{...}}` as UTF-8 bytes, built once per config object (a
 * write gives every node with equal layers one), so a fan-out to thousands of nodes serialises
 * and encodes each distinct config once.
 */
function sharedTail(view: NodeView): Buffer {
  const cached = sharedTails.get(view.config);
  if (cached?.revision === view.revision) return cached.tail;
  const tail = encodeTail(view, view.config);
  sharedTails.set(view.config, { revision: view.revision, tail });
  return tail;
}

function encodeTail(view: NodeView, config: unknown): Buffer {
  return Buffer.from(
    `,"revision":${view.revision},"hash":${JSON.stringify(view.hash)},"config":${JSON.stringify(config)}}`,
  );
}

/**
 * Writes the 200 answer of `GET /v1/nodes/:node/config` straight to the raw response (the route
 * hijacked it from fastify): `{"node":…,"revision":…,"hash":…,"config":…}` with `ETag: "<revision>"`,
 * content type and length. The body's tail is one buffer shared by every node with that config;
 * head and tail leave in one writev (the response corks its socket until the next tick). Node's
 * ServerResponse still does keep-alive, `Connection: close`, Date and HEAD as for any answer.
 * `maskedConfig` (for tokens that may not see secrets) is serialised for this answer only.
 */
export function writeConfigAnswer(res: ServerResponse, node: string, view: NodeView, maskedConfig?: unknown): void {
  const head = `{"node":${JSON.stringify(node)}`;
  const tail = maskedConfig === undefined ? sharedTail(view) : encodeTail(view, maskedConfig);
  res.writeHead(200, [
    'content-type',
    CONTENT_TYPE,
    'etag',
    `"${view.revision}"`,
    'content-length',
    String(Buffer.byteLength(head) + tail.length),
  ]);
  res.write(head);
  res.end(tail);
}

/** Writes the empty 304 answer of a long-poll that saw no change (its wait ended, or the center is closing). */
export function writeNotModified(res: ServerResponse): void {
  res.writeHead(304);
  res.end();
}
