import { requestText } from '@celeriac/common';

/** A JSON HTTP response: status, parsed body (undefined when empty or not JSON). */
export interface JsonResponse {
  status: number;
  body: unknown;
}

/**
 * One JSON request on a fresh connection (`requestText`: no shared keep-alive pool, so that
 * closing the agent leaves no sockets behind). `ca` is the CAs an https:// center is verified
 * against (the system CAs without it). Rejects on network and TLS errors, on `timeoutMs` and when
 * `signal` aborts.
 */
export async function requestJson(
  method: string,
  url: URL,
  options: {
    headers?: Record<string, string>;
    body?: unknown;
    timeoutMs: number;
    signal?: AbortSignal;
    ca?: string | Buffer;
  },
): Promise<JsonResponse> {
  const payload = options.body === undefined ? undefined : JSON.stringify(options.body);
  const res = await requestText(url, {
    method,
    headers: {
      accept: 'application/json',
      ...(payload === undefined ? {} : { 'content-type': 'application/json' }),
      ...options.headers,
    },
    ...(payload === undefined ? {} : { body: payload }),
    timeoutMs: options.timeoutMs,
    ...(options.signal ? { signal: options.signal } : {}),
    ...(options.ca === undefined ? {} : { ca: options.ca }),
  });
  let body: unknown;
  try {
    body = res.text ? JSON.parse(res.text) : undefined;
  } catch {
    body = undefined;
  }
  return { status: res.status, body };
}
